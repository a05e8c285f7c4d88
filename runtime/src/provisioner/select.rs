//! Which backend a container's rootfs is made with: the one `--image_provisioner_backend` names, else overlay
//! where the filesystem supports it (probed once, cached), else copy.

use std::path::Path;

use super::backend::Backend;
use super::error::ProvisionError;
use super::{copy, overlay, probe};

/// The backend names `select` accepts (`--image_provisioner_backend`).
pub const BACKENDS: &[&str] = &["overlay", "copy"];

/// `name`: Some("overlay"|"copy") from `--image_provisioner_backend`, None = probe: overlay where the
/// filesystem holding `root` and the layers supports it, else copy. Unknown names are an error listing the known ones.
///
/// `root` is the provisioner directory (`<ucr root>/provisioner`), `store_root` the image store whose
/// layers will be provisioned. The probe's result is cached under `root` (see `probe`), so only the
/// first call after a boot pays for a test mount.
pub fn select(
    name: Option<&str>,
    root: &Path,
    store_root: &Path,
) -> Result<Box<dyn Backend>, ProvisionError> {
    let name = match name {
        Some(n) => n,
        None if probe::overlay_usable(root, store_root)? => "overlay",
        None => "copy",
    };
    match name {
        "overlay" => Ok(Box::new(overlay::Overlay::new(root))),
        "copy" => Ok(Box::new(copy::Copy::new(root))),
        other => Err(ProvisionError::UnknownBackend {
            name: other.to_string(),
            known: BACKENDS.join(", "),
        }),
    }
}
