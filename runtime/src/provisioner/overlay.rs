//! The overlay backend: one overlayfs mount per container at `<id>/rootfs`, the image's layers as lower
//! directories (read-only, shared by every container of the image) and a private `<id>/upper` taking the
//! container's writes. Provisioning and destroying cost a few dozen syscalls whatever the image's size:
//! nothing walks a layer. How the mount is made (and why it works for hundreds of layers) is in `mount`.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs as rfs;

use super::backend::Backend;
use super::error::ProvisionError;
use super::layout;
use super::mount::{self, Api};

/// The backend's name, as `--image_provisioner_backend` and the container's checkpoint give it.
pub const NAME: &str = "overlay";

/// See the module docs.
#[derive(Debug)]
pub struct Overlay {
    root: PathBuf,
    api: Api,
}

impl Overlay {
    /// A backend keeping its per-container state under `root` (`<ucr root>/provisioner`).
    pub fn new(root: impl Into<PathBuf>) -> Overlay {
        Overlay::with_api(root, mount::api())
    }

    /// Forces one mount path, so tests on a new kernel cover the old one too.
    pub(crate) fn with_api(root: impl Into<PathBuf>, api: Api) -> Overlay {
        Overlay {
            root: root.into(),
            api,
        }
    }

    fn build(
        &self,
        dir: &OwnedFd,
        dir_path: &Path,
        layers: &[PathBuf],
    ) -> Result<(), ProvisionError> {
        // The merged root directory shows the upper root's owner and mode, so give the upper those of
        // the image's root (the top layer's), as the copy backend's rootfs has.
        let (mode, owner) = match layers.last() {
            Some(top) => {
                let st = rfs::stat(top).map_err(|e| ProvisionError::io("stat", top, e.into()))?;
                (st.st_mode & 0o7777, Some((st.st_uid, st.st_gid)))
            }
            None => (0o755, None),
        };
        layout::mkdir(dir, dir_path, "upper", mode, owner)?;
        layout::mkdir(dir, dir_path, "work", 0o700, None)?;
        layout::mkdir(dir, dir_path, "rootfs", 0o755, None)?;
        // Overlay needs at least one lower: an image without layers gets an empty one.
        let empty;
        let lowers: Vec<&Path> = if layers.is_empty() {
            layout::mkdir(dir, dir_path, "empty", 0o755, None)?;
            empty = dir_path.join("empty");
            vec![empty.as_path()]
        } else {
            // Overlay lists lowers topmost first; images list layers lowest first. A layer can occur
            // twice in an image (the same diff_id, e.g. two identical `RUN` steps), and overlayfs refuses
            // a lower given twice (ELOOP). Only the topmost occurrence is kept: everything the lower
            // one holds, the upper one holds too and hides it with, so the merged view is the same.
            let mut lowers: Vec<&Path> = Vec::with_capacity(layers.len());
            for layer in layers.iter().rev() {
                if !lowers.contains(&layer.as_path()) {
                    lowers.push(layer);
                }
            }
            lowers
        };
        mount::mount_overlay(self.api, dir, dir_path, &lowers)
    }
}

impl Backend for Overlay {
    fn name(&self) -> &'static str {
        NAME
    }

    fn provision(&self, id: &str, layers: &[PathBuf]) -> Result<PathBuf, ProvisionError> {
        let (dir, dir_path) = layout::create(&self.root, id)?;
        if let Err(e) = self.build(&dir, &dir_path, layers) {
            drop(dir);
            if let Err(c) = self.destroy(id) {
                tracing::warn!(id, error = %c, "cleaning up a failed provision");
            }
            return Err(e);
        }
        tracing::debug!(id, layers = layers.len(), "overlay provisioned");
        Ok(dir_path.join("rootfs"))
    }

    fn destroy(&self, id: &str) -> Result<(), ProvisionError> {
        layout::check_id(id)?;
        mount::unmount_all(&self.root.join(id).join("rootfs"))?;
        // After the unmount `rootfs` is an empty directory; the removal refuses to cross into a mount,
        // so a rootfs that somehow stayed mounted is reported, not deleted through.
        layout::remove(&self.root, id)
    }

    fn list(&self) -> Result<Vec<String>, ProvisionError> {
        layout::list(&self.root)
    }
}

#[cfg(test)]
mod tests {
    //! The legacy `mount(2)` path, forced on a kernel that would use `fsconfig`: the conformance suite
    //! covers the other one.

    use super::*;

    #[test]
    fn legacy_mount_of_short_paths_is_one_mount_without_links() {
        let tmp = tempfile::Builder::new()
            .prefix("ucr-legacy-")
            .tempdir_in("/dev/shm")
            .expect("tempdir");
        let layers: Vec<PathBuf> = ["a", "b"]
            .iter()
            .map(|n| {
                let dir = tmp.path().join(n);
                std::fs::create_dir_all(&dir).expect("layer");
                std::fs::write(dir.join("from"), n).expect("file");
                std::fs::write(dir.join(n), n).expect("file");
                dir
            })
            .collect();
        let backend = Overlay::with_api(tmp.path().join("prov"), Api::Legacy);
        let rootfs = backend.provision("c1", &layers).expect("provision");
        let top = std::fs::read_to_string(rootfs.join("from"));
        let both = rootfs.join("a").exists() && rootfs.join("b").exists();
        let links = tmp.path().join("prov/c1/l").exists();
        let write = std::fs::write(rootfs.join("new"), "n");
        let in_upper = tmp.path().join("prov/c1/upper/new").exists();
        backend.destroy("c1").expect("destroy");
        assert_eq!(top.expect("read"), "b", "the last layer is the top one");
        assert!(both && !links);
        write.expect("write");
        assert!(in_upper);
        assert!(!tmp.path().join("prov/c1").exists());
    }

    #[test]
    fn legacy_mount_takes_seventy_long_layers() {
        let tmp = tempfile::Builder::new()
            .prefix("ucr-legacy-")
            .tempdir_in("/dev/shm")
            .expect("tempdir");
        let base = tmp.path().join("l".repeat(200)).join("m".repeat(100));
        let layers: Vec<PathBuf> = (0..70)
            .map(|i| {
                let dir = base.join(format!("layer-{i:02}"));
                std::fs::create_dir_all(&dir).expect("layer");
                std::fs::write(dir.join("version"), format!("{i}")).expect("version");
                std::fs::write(dir.join(format!("f{i}")), "x").expect("file");
                dir
            })
            .collect();
        let backend = Overlay::with_api(tmp.path().join("prov"), Api::Legacy);
        let id = "legacy,id\\with:odd=chars";
        let rootfs = backend.provision(id, &layers).expect("provision");
        let seen = std::fs::read_to_string(rootfs.join("version"));
        let count = std::fs::read_dir(&rootfs).map(|d| d.count());
        let upper_write = std::fs::write(rootfs.join("new"), "n");
        let in_upper = std::fs::read_to_string(tmp.path().join("prov").join(id).join("upper/new"));
        backend.destroy(id).expect("destroy");
        assert_eq!(seen.expect("read version"), "69");
        assert_eq!(count.expect("read_dir"), 71);
        upper_write.expect("write");
        assert_eq!(in_upper.expect("upper"), "n");
        assert!(backend.list().expect("list").is_empty());
    }
}
