//! `cgroups/mem` (being written).

use crate::isolator::Isolator;
use crate::set::Flags;

pub struct Mem;

impl Mem {
    pub fn new(_flags: &Flags) -> Self {
        Mem
    }
}

impl Isolator for Mem {
    fn name(&self) -> &'static str {
        "cgroups/mem"
    }
}
