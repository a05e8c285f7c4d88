//! The container's `/dev`: the standard character devices every program expects (null, zero, full, random,
//! urandom, tty), the devices the spec adds (`linux.devices`), and the standard links (`/dev/fd`, `/dev/stdin`,
//! `/dev/ptmx`...). Nodes are made with `mknodat` under directories resolved inside the rootfs, so a path in the
//! spec cannot place a node outside it. Access is still the device cgroup's decision: a node here grants nothing
//! by itself.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use rustix::fs::{FileType, Mode};

use ucr_registry::confined::{self, Kind};

/// A node to make: path in the container, type, numbers, mode, owner.
#[derive(Clone, Debug)]
pub struct Node {
    pub path: PathBuf,
    kind: FileType,
    major: u32,
    minor: u32,
    mode: u32,
    uid: u32,
    gid: u32,
}

/// The runtime-spec's default devices, plus the spec's own (which replace a default of the same path).
pub fn plan(extra: &[LinuxDevice]) -> Result<Vec<Node>, String> {
    let mut nodes: Vec<Node> = [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .iter()
    .map(|(n, maj, min)| Node {
        path: Path::new("/dev").join(n),
        kind: FileType::CharacterDevice,
        major: *maj,
        minor: *min,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect();
    for d in extra {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => FileType::CharacterDevice,
            LinuxDeviceType::B => FileType::BlockDevice,
            LinuxDeviceType::P => FileType::Fifo,
            LinuxDeviceType::A => {
                return Err(format!(
                    "device {}: type 'a' is a cgroup rule, not a node",
                    d.path().display()
                ))
            }
        };
        if !d.path().is_absolute() {
            return Err(format!(
                "device {}: the path must be absolute",
                d.path().display()
            ));
        }
        nodes.retain(|n| n.path != *d.path());
        nodes.push(Node {
            path: d.path().clone(),
            kind,
            major: d.major() as u32,
            minor: d.minor() as u32,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        });
    }
    Ok(nodes)
}

/// The standard links under `root` (an fd of the container's root directory): `/dev/fd`, `/dev/std*`,
/// `/dev/ptmx`.
pub fn links(root: BorrowedFd<'_>) -> io::Result<()> {
    let dev = confined::ensure(root, Path::new("/dev"), Kind::Dir)?;
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        match rustix::fs::symlinkat(target, dev.as_fd(), link) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => {
                return Err(io::Error::new(
                    io::Error::from(e).kind(),
                    format!("/dev/{link}: {e}"),
                ))
            }
        }
    }
    Ok(())
}

/// Make one node under `root`, its parent directories resolved (and made) inside the rootfs.
pub fn make(root: BorrowedFd<'_>, n: &Node) -> io::Result<()> {
    let parent = n.path.parent().unwrap_or(Path::new("/"));
    let name = n
        .path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let dir = confined::ensure(root, parent, Kind::Dir)?;
    let dev = rustix::fs::makedev(n.major, n.minor);
    match rustix::fs::mknodat(dir.as_fd(), name, n.kind, Mode::from_raw_mode(n.mode), dev) {
        Ok(()) => {}
        // The image's own node of that name (a /dev in the rootfs without a tmpfs over it) stays.
        Err(rustix::io::Errno::EXIST) => return Ok(()),
        // In a user namespace no device can be made: the host's node is bound there instead, as runc does.
        Err(rustix::io::Errno::PERM) => return bind_host(dir.as_fd(), name, &n.path),
        Err(e) => return Err(e.into()),
    }
    // mknod's mode is filtered by the umask; the spec's mode is exact.
    rustix::fs::chmodat(
        dir.as_fd(),
        name,
        Mode::from_raw_mode(n.mode),
        rustix::fs::AtFlags::empty(),
    )?;
    if n.uid != 0 || n.gid != 0 {
        rustix::fs::chownat(
            dir.as_fd(),
            name,
            Some(rustix::fs::Uid::from_raw(n.uid)),
            Some(rustix::fs::Gid::from_raw(n.gid)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )?;
    }
    Ok(())
}

/// The host's node `host` bound onto a new empty file `name` in `dir`.
fn bind_host(dir: BorrowedFd<'_>, name: &std::ffi::OsStr, host: &Path) -> io::Result<()> {
    use rustix::mount::OpenTreeFlags;
    let target = rustix::fs::openat(
        dir,
        name,
        rustix::fs::OFlags::CREATE
            | rustix::fs::OFlags::WRONLY
            | rustix::fs::OFlags::CLOEXEC
            | rustix::fs::OFlags::NOFOLLOW,
        Mode::from_raw_mode(0o600),
    )?;
    let node = rustix::mount::open_tree(
        rustix::fs::CWD,
        host,
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )?;
    super::mounts::move_onto(node.as_fd(), target.as_fd())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceBuilder;

    #[test]
    fn defaults_and_spec_devices() {
        let fuse = LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .build()
            .expect("test step");
        let nodes = plan(&[fuse]).expect("test step");
        let names: Vec<String> = nodes.iter().map(|n| n.path.display().to_string()).collect();
        assert!(names.contains(&"/dev/null".to_string()));
        assert!(names.contains(&"/dev/fuse".to_string()));
        let bad = LinuxDeviceBuilder::default()
            .path("/dev/all")
            .typ(LinuxDeviceType::A)
            .build()
            .expect("test step");
        assert!(plan(&[bad]).expect_err("must fail").contains("/dev/all"));
    }
}
