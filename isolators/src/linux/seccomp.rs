//! `linux/seccomp` (being written).

use crate::isolator::Isolator;

pub struct Seccomp;

impl Isolator for Seccomp {
    fn name(&self) -> &'static str {
        "linux/seccomp"
    }
}
