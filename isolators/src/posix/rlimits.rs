//! `posix/rlimits` (being written).

use crate::isolator::Isolator;

pub struct Rlimits;

impl Isolator for Rlimits {
    fn name(&self) -> &'static str {
        "posix/rlimits"
    }
}
