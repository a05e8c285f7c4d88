//! The copy backend, for filesystems overlayfs cannot use: the layers are copied bottom-up into
//! `<id>/rootfs`, applying their overlay-form whiteouts and opaque markers on the way (see `copytree`).
//! It costs a full copy of the image per container (data through `copy_file_range`, so a reflink on
//! filesystems that can), but needs nothing from the filesystem beyond files and directories.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, Mode};

use super::backend::Backend;
use super::copytree::{self, CopyFailure};
use super::error::ProvisionError;
use super::layout;
use super::remove::DIR_FLAGS;

/// See the module docs.
#[derive(Debug)]
pub struct Copy {
    root: PathBuf,
}

impl Copy {
    /// A backend keeping its per-container state under `root` (`<ucr root>/provisioner`).
    pub fn new(root: impl Into<PathBuf>) -> Copy {
        Copy { root: root.into() }
    }

    fn build(&self, rootfs: &Path, layers: &[PathBuf]) -> Result<(), ProvisionError> {
        let fd = rfs::open(rootfs, DIR_FLAGS, Mode::empty())
            .map_err(|e| ProvisionError::io("opening", rootfs, e.into()))?;
        for layer in layers {
            copytree::copy_layer(layer, fd.as_fd()).map_err(|CopyFailure { entry, source }| {
                ProvisionError::Copy {
                    layer: layer.clone(),
                    rootfs: rootfs.to_path_buf(),
                    entry,
                    source,
                }
            })?;
        }
        Ok(())
    }
}

impl Backend for Copy {
    fn name(&self) -> &'static str {
        "copy"
    }

    fn provision(&self, id: &str, layers: &[PathBuf]) -> Result<PathBuf, ProvisionError> {
        let (dir, dir_path) = layout::create(&self.root, id)?;
        let rootfs = dir_path.join("rootfs");
        let built = layout::mkdir(&dir, &dir_path, "rootfs", 0o755, None)
            .and_then(|()| self.build(&rootfs, layers));
        if let Err(e) = built {
            drop(dir);
            if let Err(c) = self.destroy(id) {
                tracing::warn!(id, error = %c, "cleaning up a failed provision");
            }
            return Err(e);
        }
        tracing::debug!(id, layers = layers.len(), "copy provisioned");
        Ok(rootfs)
    }

    fn destroy(&self, id: &str) -> Result<(), ProvisionError> {
        // No mount is involved; the removal still refuses to cross into one (something mounted inside
        // the rootfs by hand), rather than deleting through it.
        layout::remove(&self.root, id)
    }

    fn list(&self) -> Result<Vec<String>, ProvisionError> {
        layout::list(&self.root)
    }
}
