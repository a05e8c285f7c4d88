//! The provisioner: turns an image's unpacked layers into a container's root filesystem.
//!
//! Layers come from the image store in overlay form (a whiteout is a 0/0 character device, an opaque
//! directory carries `trusted.overlay.opaque=y`) and are never modified here. Two backends:
//!
//! - **overlay** ([`overlay::Overlay`]): one overlayfs mount per container, the layers as lowers and a
//!   private upper. A handful of syscalls to provision and to destroy, whatever the image's size.
//! - **copy** ([`copy::Copy`]): for filesystems overlayfs cannot use: the layers are copied bottom-up into a
//!   private directory, applying the whiteouts on the way, fd-relative so no symlink in a layer can
//!   redirect a write out of the rootfs.
//!
//! Per container, under the provisioner root (`<ucr root>/provisioner`): `<id>/{upper,work,rootfs}` for
//! overlay, `<id>/rootfs` for copy. Everything a backend makes for a container lives in `<id>/`, so
//! [`Backend::list`] finds leftovers after a crash and [`Backend::destroy`] removes them whatever state
//! they are in.
//!
//! Module map: `layout` (container ids and the per-container directory), `remove` (fd-relative tree
//! removal that never follows a symlink or crosses a mount), `mount` (the overlayfs mount, new and legacy
//! API), `overlay`, `copy` with `copytree` (the layer walk) and `copynode` (one entry: data, owner, mode,
//! xattrs, times), `probe` (which backend this host can use, cached).

pub mod copy;
mod copynode;
mod copytree;
mod layout;
mod mount;
pub mod overlay;
mod probe;
mod remove;

use std::io;
use std::path::{Path, PathBuf};

/// The backend names `select` accepts (`--image_provisioner_backend`).
pub const BACKENDS: &[&str] = &["overlay", "copy"];

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

/// Everything that can go wrong while provisioning or destroying.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("unknown provisioner backend `{name}` (known backends: {})", BACKENDS.join(", "))]
    UnknownBackend { name: String },
    #[error("invalid container id {id:?}: {why}")]
    InvalidId { id: String, why: &'static str },
    #[error("container `{id}` already has a root filesystem at {path}; destroy it first")]
    AlreadyExists { id: String, path: PathBuf },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `kernel` holds the messages overlayfs logged for this mount, when the new mount API was used.
    #[error("mounting overlay on {target}: {step}: {source}{kernel}")]
    Mount {
        target: PathBuf,
        step: String,
        kernel: String,
        #[source]
        source: io::Error,
    },
    #[error("unmounting {path}: {source}")]
    Unmount {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `entry` is the path inside the layer (and the rootfs) that failed.
    #[error("copying layer {layer} into {rootfs}: `{entry}`: {source}")]
    Copy {
        layer: PathBuf,
        rootfs: PathBuf,
        entry: String,
        #[source]
        source: io::Error,
    },
}

impl ProvisionError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ProvisionError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

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
        }),
    }
}
