//! `volume/sandbox_path` (being written).

use crate::isolator::Isolator;

pub struct SandboxPath;

impl Isolator for SandboxPath {
    fn name(&self) -> &'static str {
        "volume/sandbox_path"
    }
}
