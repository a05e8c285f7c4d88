//! `network/cni` (being written).

use crate::isolator::Isolator;
use crate::set::Flags;

pub struct Cni;

impl Cni {
    pub fn new(_flags: &Flags) -> Self {
        Cni
    }
}

impl Isolator for Cni {
    fn name(&self) -> &'static str {
        "network/cni"
    }
}
