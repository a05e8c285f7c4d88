//! `cgroups/devices` (being written).

use crate::isolator::Isolator;

pub struct Devices;

impl Isolator for Devices {
    fn name(&self) -> &'static str {
        "cgroups/devices"
    }
}
