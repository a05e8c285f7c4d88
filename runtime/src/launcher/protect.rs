//! What the container must not change or see, applied after `pivot_root` (every path is the container's own):
//! kernel parameters (`linux.sysctl`, written before /proc/sys turns read-only), read-only paths (a read-only
//! bind of the path onto itself), masked paths (an empty read-only tmpfs over a directory, /dev/null over a
//! file), and a read-only root when `root.readonly` says so. A path the kernel does not have is skipped, as in
//! runc and libcontainer.

use std::io;
use std::os::fd::AsFd;
use std::path::Path;

use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags};

use super::Failure;

/// `linux.sysctl`: `net.ipv4.ip_forward=1` is /proc/sys/net/ipv4/ip_forward.
pub fn sysctl(params: &[(String, String)]) -> Result<(), Failure> {
    for (k, v) in params {
        if k.contains('/') || k.split('.').any(|p| p.is_empty() || p == "..") {
            return Err(Failure::new(
                format!("sysctl {k}"),
                io::Error::new(io::ErrorKind::InvalidInput, "not a kernel parameter name"),
            ));
        }
        let p = Path::new("/proc/sys").join(k.replace('.', "/"));
        std::fs::write(&p, v).map_err(|e| Failure::new(format!("sysctl {k}"), e))?;
    }
    Ok(())
}

fn missing(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

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

/// Read-only binds of each path onto itself (recursive, with nosuid/nodev/noexec as runc does).
pub fn readonly(paths: &[String]) -> Result<(), Failure> {
    for p in paths {
        let r = (|| -> io::Result<()> {
            let t = rustix::mount::open_tree(
                rustix::fs::CWD,
                p.as_str(),
                OpenTreeFlags::OPEN_TREE_CLONE
                    | OpenTreeFlags::OPEN_TREE_CLOEXEC
                    | OpenTreeFlags::AT_RECURSIVE,
            )?;
            super::mounts::set_flags(
                t.as_fd(),
                MountAttrFlags::MOUNT_ATTR_RDONLY
                    | MountAttrFlags::MOUNT_ATTR_NOSUID
                    | MountAttrFlags::MOUNT_ATTR_NODEV
                    | MountAttrFlags::MOUNT_ATTR_NOEXEC,
                true,
            )?;
            onto_itself(p, t)
        })();
        match r {
            Err(e) if !missing(&e) => return Err(Failure::new(format!("read-only path {p}"), e)),
            _ => {}
        }
    }
    Ok(())
}

/// Hide each path: an empty read-only tmpfs over a directory, /dev/null over anything else.
pub fn masked(paths: &[String]) -> Result<(), Failure> {
    for p in paths {
        let r = (|| -> io::Result<()> {
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
        })();
        match r {
            Err(e) if !missing(&e) => return Err(Failure::new(format!("masked path {p}"), e)),
            _ => {}
        }
    }
    Ok(())
}

/// `root.readonly`: the container's root mount (not the mounts on it) turns read-only.
pub fn readonly_root() -> Result<(), Failure> {
    let root = rustix::fs::open(
        "/",
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| Failure::new("/".into(), e.into()))?;
    super::mounts::set_flags(root.as_fd(), MountAttrFlags::MOUNT_ATTR_RDONLY, false)
        .map_err(|e| Failure::new("read-only root".into(), e))
}
