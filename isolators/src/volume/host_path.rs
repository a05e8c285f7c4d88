//! `volume/host_path` (being written).

use crate::isolator::Isolator;

pub struct HostPath;

impl Isolator for HostPath {
    fn name(&self) -> &'static str {
        "volume/host_path"
    }
}
