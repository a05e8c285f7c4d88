//! What the container must not change or see, applied after `pivot_root` (every path is the container's own):
//! read-only paths (a read-only bind of the path onto itself), masked paths (an empty read-only tmpfs over a
//! directory, /dev/null over a file), and a read-only root when `root.readonly` says so. The init skips a path
//! the kernel does not have, as runc does.

use std::io;
use std::os::fd::AsFd;

use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags};

use super::mounts::set_flags;

fn onto_itself(path: &str, mnt: impl AsFd) -> io::Result<()> {
    rustix::mount::move_mount(
        mnt.as_fd(),
        "",
        rustix::fs::CWD,
        path,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )?;
    Ok(())
}

/// A read-only bind of `p` onto itself (recursive, with nosuid/nodev/noexec as runc does).
pub fn readonly(p: &str) -> io::Result<()> {
    let t = rustix::mount::open_tree(
        rustix::fs::CWD,
        p,
        OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_RECURSIVE,
    )?;
    set_flags(
        t.as_fd(),
        MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOEXEC,
        true,
    )?;
    onto_itself(p, t)
}

/// Hide `p`: an empty read-only tmpfs over a directory, /dev/null over anything else.
pub fn mask(p: &str) -> io::Result<()> {
    let meta = std::fs::metadata(p)?;
    if meta.is_dir() {
        let fs = rustix::mount::fsopen("tmpfs", FsOpenFlags::FSOPEN_CLOEXEC)?;
        rustix::mount::fsconfig_create(fs.as_fd())?;
        let m = rustix::mount::fsmount(
            fs.as_fd(),
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::MOUNT_ATTR_RDONLY,
        )?;
        onto_itself(p, m)
    } else {
        let t = rustix::mount::open_tree(
            rustix::fs::CWD,
            "/dev/null",
            OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )?;
        onto_itself(p, t)
    }
}

/// `root.readonly`: the container's root mount (not the mounts on it) turns read-only.
pub fn readonly_root() -> io::Result<()> {
    let root = rustix::fs::open(
        "/",
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    set_flags(root.as_fd(), MountAttrFlags::MOUNT_ATTR_RDONLY, false)
}
