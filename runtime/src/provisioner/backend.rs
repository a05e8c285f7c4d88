//! The provisioner seam: a way of building container root filesystems from image layers.

use std::path::PathBuf;

use super::error::ProvisionError;

/// A way of building container root filesystems from image layers.
pub trait Backend: Send + Sync {
    /// "overlay" or "copy".
    fn name(&self) -> &'static str;
    /// Build the container's root filesystem from `layers` (lowest first, the image's order) and return its
    /// path. Writes go to a per-container place; the layer dirs are never modified.
    fn provision(&self, id: &str, layers: &[PathBuf]) -> Result<PathBuf, ProvisionError>;
    /// Unmount and remove everything `provision` made for `id`. Tolerates an unknown id and a half-done provision
    /// (idempotent), so a crash at any point can be cleaned up.
    fn destroy(&self, id: &str) -> Result<(), ProvisionError>;
    /// Ids that have provisioner state on disk (for orphan cleanup after a crash).
    fn list(&self) -> Result<Vec<String>, ProvisionError>;
}
