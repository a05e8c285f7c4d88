//! Can this host use the overlay backend? Asked once per boot, answered from a cache after that.
//!
//! The only reliable answer is a real mount: overlayfs may be missing or not loadable (`fsopen` and
//! `/proc/filesystems` disagree until the module loads), the filesystem holding the provisioner root
//! may not work as an upper (overlayfs itself, some network and FUSE filesystems), and some problems
//! only show as warnings at mount time (no `d_type`, no trusted xattrs: the mount works but whiteouts
//! and opaque directories would not). So the probe checks `d_type` and a `trusted.*` xattr on the
//! root's filesystem, then mounts a test overlay there with the store as the lower, and unmounts it.
//!
//! That costs a few milliseconds, which `ucr run` must not pay every time: the result is written to
//! `<root>/.backend probe`, keyed by the boot id, the devices of the root and the store and the mount
//! API, so a reboot, a new kernel or a different filesystem mounted there asks again. The name holds a
//! space, so it can never be a container id and `list` never reports it.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, FileType, XattrFlags};

use super::error::ProvisionError;
use super::remove::{self, DIR_FLAGS};
use super::{layout, mount};
use crate::container::checkpoint::unique;

const CACHE: &str = ".backend probe";
const FORMAT: &str = "ucr-provisioner-probe-v1";

/// Whether overlay works for a provisioner root at `root` and layers under `store_root`.
pub(crate) fn overlay_usable(root: &Path, store_root: &Path) -> Result<bool, ProvisionError> {
    let rootfd = layout::open_root(root)?;
    let store = nearest_existing(store_root);
    let key = cache_key(root, &store);
    if let Some(usable) = key.as_deref().and_then(|k| read_cache(root, k)) {
        return Ok(usable);
    }
    // A store that is (or holds) the provisioner root cannot be a lower of a mount whose upper is in
    // it (overlayfs refuses overlapping layers); the store does not exist yet in that case, so an empty
    // directory next to the upper stands in for it.
    let lower = (!root.starts_with(&store) && !store.starts_with(root)).then_some(store);
    let (usable, why) = match try_mount(&rootfd, root, lower.as_deref()) {
        Ok(()) => (true, "a test mount worked".to_string()),
        Err(e) => (false, e.to_string()),
    };
    tracing::info!(usable, reason = %why, root = %root.display(), "overlay provisioner probe");
    if let Some(key) = key {
        if let Err(e) = write_cache(&rootfd, &key, usable, &why) {
            tracing::warn!(error = %e, root = %root.display(), "cannot cache the provisioner probe");
        }
    }
    Ok(usable)
}

/// The deepest existing ancestor of `p` (itself if it exists).
fn nearest_existing(p: &Path) -> PathBuf {
    let mut cur = p;
    loop {
        if cur.exists() {
            return cur.to_path_buf();
        }
        match cur.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => cur = parent,
            _ => return PathBuf::from("/"),
        }
    }
}

fn cache_key(root: &Path, store: &Path) -> Option<String> {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let root_dev = std::fs::metadata(root).ok()?.dev();
    let store_dev = std::fs::metadata(store).ok()?.dev();
    Some(format!(
        "{FORMAT} boot={} root_dev={root_dev} store_dev={store_dev} api={:?}",
        boot.trim(),
        mount::api()
    ))
}

fn read_cache(root: &Path, key: &str) -> Option<bool> {
    let text = std::fs::read_to_string(root.join(CACHE)).ok()?;
    let mut lines = text.lines();
    if lines.next()? != key {
        return None;
    }
    match lines.next()? {
        "overlay" => Some(true),
        "copy" => Some(false),
        _ => None,
    }
}

/// Writes the cache atomically (a temporary file renamed over it), so concurrent probes never leave
/// a torn one.
fn write_cache(rootfd: &OwnedFd, key: &str, usable: bool, why: &str) -> io::Result<()> {
    let tmp = format!("{CACHE}.{}", unique());
    let body = format!(
        "{key}\n{}\n{}\n",
        if usable { "overlay" } else { "copy" },
        why.replace('\n', " ")
    );
    let flags =
        rfs::OFlags::WRONLY | rfs::OFlags::CREATE | rfs::OFlags::EXCL | rfs::OFlags::CLOEXEC;
    let fd = rfs::openat(rootfd, tmp.as_str(), flags, rfs::Mode::from_raw_mode(0o644))?;
    let written = rustix::io::write(&fd, body.as_bytes())
        .map_err(io::Error::from)
        .and_then(|n| match n == body.len() {
            true => Ok(()),
            false => Err(io::Error::new(io::ErrorKind::WriteZero, "short write")),
        });
    drop(fd);
    let done = written.and_then(|()| Ok(rfs::renameat(rootfd, tmp.as_str(), rootfd, CACHE)?));
    if done.is_err() {
        let _ = rfs::unlinkat(rootfd, tmp.as_str(), rfs::AtFlags::empty());
    }
    done
}

/// Mounts a test overlay in `<root>/.probe <unique>` and removes it again.
fn try_mount(rootfd: &OwnedFd, root: &Path, lower: Option<&Path>) -> Result<(), ProvisionError> {
    let name = format!(".probe {}", unique());
    let dir_path = root.join(&name);
    // A leftover of a crashed probe that had this process's pid.
    remove::remove_at(rootfd, name.as_bytes())
        .map_err(|e| ProvisionError::io("removing", &dir_path, e))?;
    let dir = layout::subdir(rootfd, root, &name, 0o700)?;
    let result = probe_in(&dir, &dir_path, lower);
    let unmounted = mount::unmount_all(&dir_path.join("rootfs"));
    drop(dir);
    let removed = remove::remove_at(rootfd, name.as_bytes())
        .map_err(|e| ProvisionError::io("removing", &dir_path, e));
    result.and(unmounted).and(removed.map(|_| ()))
}

fn probe_in(dir: &OwnedFd, dir_path: &Path, lower: Option<&Path>) -> Result<(), ProvisionError> {
    let upper = layout::subdir(dir, dir_path, "upper", 0o755)?;
    layout::mkdir(dir, dir_path, "work", 0o700, None)?;
    layout::mkdir(dir, dir_path, "rootfs", 0o755, None)?;
    // Overlay creates whiteouts and opaque markers in the upper with trusted xattrs.
    rfs::fsetxattr(&upper, "trusted.ucr-probe", b"1", XattrFlags::empty()).map_err(|e| {
        ProvisionError::io(
            "setting a trusted.* xattr (needed for overlay) in",
            dir_path,
            e.into(),
        )
    })?;
    // Overlay reads directories by d_type; without it, whiteouts are not recognized.
    let mut names = Vec::new();
    let fresh = rfs::openat(dir, ".", DIR_FLAGS, rfs::Mode::empty())
        .map_err(|e| ProvisionError::io("opening", dir_path, e.into()))?;
    remove::read_entries(fresh.as_fd(), &mut names)
        .map_err(|e| ProvisionError::io("reading", dir_path, e))?;
    if !names
        .iter()
        .any(|(n, t)| n == b"upper" && *t == FileType::Directory)
    {
        return Err(ProvisionError::io(
            "checking d_type support (needed for overlay) in",
            dir_path,
            io::Error::other("the filesystem does not report entry types"),
        ));
    }
    let empty;
    let lower = match lower {
        Some(l) => l,
        None => {
            layout::mkdir(dir, dir_path, "lower", 0o755, None)?;
            empty = dir_path.join("lower");
            &empty
        }
    };
    mount::mount_overlay(mount::api(), dir, dir_path, &[lower])
}
