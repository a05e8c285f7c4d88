//! `cgroups/cpu` (being written).

use crate::isolator::Isolator;
use crate::set::Flags;

pub struct Cpu;

impl Cpu {
    pub fn new(_flags: &Flags) -> Self {
        Cpu
    }
}

impl Isolator for Cpu {
    fn name(&self) -> &'static str {
        "cgroups/cpu"
    }
}
