//! A container's network namespace, kept alive by a bind mount of its nsfs file onto a plain file, the way
//! `ip netns add` does it, but under the container's own state dir (`<runtime-dir>/containers/<id>/isolators/
//! network-cni/netns`) rather than `/run/netns`:
//! - its lifetime is the container's: the runtime dir is a tmpfs emptied at boot like /run/netns, `ucr rm`
//!   cannot remove the container's dir while the mount is still there (EBUSY), and two runtime dirs (two
//!   agents, parallel tests) never collide on a name;
//! - any Mesos container id works as is (no 242-character or odd-character names in /run/netns);
//! - operators still reach it with `nsenter --net=<path>` or `ip -n` after a symlink, and the path is shown by
//!   `ucr inspect`.
//!
//! The namespace is made by a short-lived thread: `unshare(CLONE_NEWNET)` moves only that thread, so the
//! calling process (the CLI, or the agent with its worker threads) never changes namespace. The thread also
//! brings loopback up, which CNI plugins leave to the runtime.

use std::fs::OpenOptions;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::mount::{mount_bind, unmount, UnmountFlags};
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType, UnshareFlags};

use crate::error::{IsolatorError, Result};

/// Creates a network namespace with `lo` up, bound onto `path` (which must not exist yet).
pub fn create(path: &Path) -> Result<()> {
    // O_EXCL: a second prepare for the same container must not stack a second namespace on the first.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| IsolatorError::io(path, e))?;
    let target = path.to_path_buf();
    let made = std::thread::Builder::new()
        .name("ucr-netns".into())
        .spawn(move || in_new_netns(&target))
        .map_err(|e| IsolatorError::io(path, e))?
        .join()
        .unwrap_or_else(|_| {
            Err(IsolatorError::io(
                path,
                std::io::Error::other("netns thread panicked"),
            ))
        });
    if made.is_err() {
        // Whatever the thread got to: a mount to undo, or only the empty file.
        let _ = remove(path);
    }
    made
}

fn in_new_netns(target: &PathBuf) -> Result<()> {
    // SAFETY: CLONE_NEWNET changes only this thread's network namespace; no file descriptor table or other
    // state shared with other threads is unshared, which is what makes `unshare` unsafe in general.
    unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNET) }
        .map_err(|e| IsolatorError::io(target, std::io::Error::from(e)))?;
    mount_bind("/proc/thread-self/ns/net", target)
        .map_err(|e| IsolatorError::io(target, std::io::Error::from(e)))?;
    loopback_up().map_err(|e| IsolatorError::io(target, e))
}

/// `ip link set lo up` in the calling thread's namespace (the kernel then gives lo 127.0.0.1/8 and ::1).
fn loopback_up() -> std::io::Result<()> {
    // SAFETY: plain socket/ioctl/close calls on a socket this function owns; `ifreq` is a C struct for which all
    // zeroes is a valid value, and the name copied in is shorter than IFNAMSIZ with its NUL.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (d, s) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *d = *s as libc::c_char;
        }
        let mut r = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr);
        if r == 0 {
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            r = libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr);
        }
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if r < 0 {
            return Err(err);
        }
    }
    Ok(())
}

/// Unmounts and deletes the namespace file. Tolerates a file that was never mounted and one already gone, so
/// it can run after a partial `create` and again after a crash.
pub fn remove(path: &Path) -> Result<()> {
    // MNT_DETACH: a process that still has the file open (an `nsenter` at the wrong moment) must not make the
    // teardown fail; the namespace itself goes once its last user does.
    match unmount(path, UnmountFlags::DETACH) {
        Ok(()) => {}
        // EINVAL: not a mount point (never mounted, or already unmounted). ENOENT: nothing there.
        Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(IsolatorError::io(path, e.into())),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(IsolatorError::io(path, e)),
    }
}

/// Whether `path` is a bound network namespace (an nsfs file), as after `create`.
pub fn is_netns(path: &Path) -> bool {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    // f_type's integer type differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    rustix::fs::statfs(path)
        .map(|s| s.f_type as i64 == NSFS_MAGIC)
        .unwrap_or(false)
}

/// Runs `f` in a thread that has joined the namespace at `path`, for reads that must happen inside it
/// (interface counters). The caller's own threads stay where they are.
pub fn within<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T> {
    let file = std::fs::File::open(path).map_err(|e| IsolatorError::io(path, e))?;
    let p = path.to_path_buf();
    std::thread::Builder::new()
        .name("ucr-netns".into())
        .spawn(move || -> Result<T> {
            move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
                .map_err(|e| IsolatorError::io(&p, e.into()))?;
            f().map_err(|e| IsolatorError::io(&p, e))
        })
        .map_err(|e| IsolatorError::io(path, e))?
        .join()
        .unwrap_or_else(|_| {
            Err(IsolatorError::io(
                path,
                std::io::Error::other("netns thread panicked"),
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> bool {
        rustix::process::geteuid().is_root()
    }

    #[test]
    fn create_brings_lo_up_and_remove_is_idempotent() {
        if !root() {
            eprintln!("skipped: needs root");
            return;
        }
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("netns");
        create(&p).expect("create");
        assert!(is_netns(&p));
        // A second create on the same path is refused, not stacked.
        assert!(create(&p).is_err());
        assert!(is_netns(&p), "a refused create leaves the first namespace");
        let links =
            within(&p, || std::fs::read_to_string("/proc/thread-self/net/dev")).expect("within");
        let names: Vec<&str> = links
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(str::trim)
            .collect();
        assert_eq!(names, vec!["lo"], "{links}");
        // 127.0.0.1 exists only once lo is up.
        let up = within(&p, || {
            std::net::TcpListener::bind("127.0.0.1:0").map(|l| l.local_addr().is_ok())
        })
        .expect("bind on lo");
        assert!(up, "127.0.0.1 is usable: lo is up");
        remove(&p).expect("remove");
        assert!(!p.exists());
        remove(&p).expect("remove again");
    }

    #[test]
    fn remove_tolerates_a_plain_file() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("netns");
        std::fs::write(&p, b"").expect("write");
        remove(&p).expect("remove");
        assert!(!p.exists());
    }
}
