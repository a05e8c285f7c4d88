//! `filesystem/linux` (being written).

use crate::isolator::Isolator;

pub struct FilesystemLinux;

impl Isolator for FilesystemLinux {
    fn name(&self) -> &'static str {
        "filesystem/linux"
    }
}
