//! Opening files of a root filesystem without leaving it: every path is resolved by the kernel with
//! `openat2(RESOLVE_IN_ROOT)` from a descriptor of the root, so `..` and absolute symlinks inside an image
//! resolve inside the image, as they would after the container's pivot_root, and never reach the host.
//! (Needs Linux 5.6; an older kernel reports ENOSYS, shown as is.)

use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{openat2, Mode, OFlags, ResolveFlags};

/// A descriptor of `root` to resolve paths from.
pub fn open_root(root: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens `path` (absolute or relative, both taken from the root) under `root` with `flags`.
pub fn open_in(root: &OwnedFd, path: &str, flags: OFlags) -> io::Result<OwnedFd> {
    // An empty path would name the root itself; no caller means that.
    let path = if path.is_empty() { "." } else { path };
    Ok(openat2(
        root,
        path,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    )?)
}

/// The text of `path` under `root`, None when it does not exist. At most `max` bytes are read: these are small
/// system files (`/etc/passwd`), a huge one is an error rather than a memory hog.
pub fn read_text(root: &Path, path: &str, max: u64) -> io::Result<Option<String>> {
    let dir = open_root(root)?;
    let fd = match open_in(&dir, path, OFlags::RDONLY) {
        Ok(fd) => fd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(max + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    // passwd files are ASCII in practice; a stray byte must not make the whole file unreadable.
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confined() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("etc")).expect("mkdir");
        std::fs::write(dir.path().join("outside"), "host secret").expect("write");
        std::fs::write(root.join("etc/inside"), "image file").expect("write");
        // Both an absolute and a `..` symlink stay in the root.
        std::os::unix::fs::symlink("/etc/inside", root.join("abs")).expect("symlink");
        std::os::unix::fs::symlink("../../outside", root.join("etc/up")).expect("symlink");
        assert_eq!(
            read_text(&root, "/abs", 100).expect("read").as_deref(),
            Some("image file")
        );
        assert_eq!(read_text(&root, "/etc/up", 100).expect("read"), None);
        assert_eq!(read_text(&root, "/../outside", 100).expect("read"), None);
        assert!(read_text(&root, "/etc/inside", 3).is_err());
    }
}
