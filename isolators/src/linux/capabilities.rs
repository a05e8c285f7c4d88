//! `linux/capabilities` (being written).

use crate::isolator::Isolator;

pub struct Capabilities;

impl Isolator for Capabilities {
    fn name(&self) -> &'static str {
        "linux/capabilities"
    }
}
