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
//! Module map: `backend` (the trait), `select` (which backend), `error`, `layout` (container ids and the
//! per-container directory), `remove` (fd-relative tree
//! removal that never follows a symlink or crosses a mount), `mount` (the overlayfs mount, new and legacy
//! API), `overlay`, `copy` with `copytree` (the layer walk) and `copynode` (one entry: data, owner, mode,
//! xattrs, times), `probe` (which backend this host can use, cached).

mod backend;
pub mod copy;
mod copynode;
mod copytree;
mod error;
mod layout;
mod mount;
pub mod overlay;
mod probe;
mod remove;
mod select;

pub use backend::Backend;
pub use error::ProvisionError;
pub use select::{select, BACKENDS};

/// Where a container's writes to the root filesystem `rootfs` (`<id>/rootfs`) that `backend` provisioned land:
/// an overlay's `upper` and `work` beside it, or, copied, the rootfs itself. What `disk/du` counts of a root
/// filesystem. Derived from the names alone: nothing is read.
pub fn writable(backend: Option<&str>, rootfs: &std::path::Path) -> Vec<std::path::PathBuf> {
    match (backend, rootfs.parent()) {
        (Some(overlay::NAME), Some(d)) => vec![d.join("upper"), d.join("work")],
        _ => vec![rootfs.to_path_buf()],
    }
}
