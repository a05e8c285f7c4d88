//! `cgroups/pids` (being written).

use crate::isolator::Isolator;
use crate::set::Flags;

pub struct Pids;

impl Pids {
    pub fn new(_flags: &Flags) -> Self {
        Pids
    }
}

impl Isolator for Pids {
    fn name(&self) -> &'static str {
        "cgroups/pids"
    }
}
