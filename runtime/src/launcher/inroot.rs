//! Paths inside the container's rootfs, resolved the way the container will see them: every lookup is
//! `openat2(RESOLVE_IN_ROOT)` from the rootfs, so a symlink in a hostile image (`/etc -> /host/etc`,
//! `dev -> ../../..`) resolves inside the rootfs and can never aim a mount or a device node at the host. What is
//! missing is created one component at a time with `mkdirat` relative to an already-resolved parent, which does
//! not follow symlinks either. The result is an `O_PATH` fd that mounts attach to (`move_mount` onto the fd), so
//! nothing is looked up by name twice.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path};

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// What the last component must be when it has to be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

fn resolve() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

/// Open `path` (absolute in the container) under `root` as an `O_PATH` fd.
pub fn open(root: BorrowedFd<'_>, path: &Path) -> io::Result<OwnedFd> {
    let rel = relative(path)?;
    rustix::fs::openat2(
        root,
        if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel.as_path()
        },
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        resolve(),
    )
    .map_err(io::Error::from)
}

/// Open `path`, creating missing directories and, as `kind` says, the last component.
pub fn ensure(root: BorrowedFd<'_>, path: &Path, kind: Kind) -> io::Result<OwnedFd> {
    match open(root, path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let rel = relative(path)?;
    let parts: Vec<&std::ffi::OsStr> = rel.iter().collect();
    let mut parent = open(root, Path::new("/"))?;
    let mut sofar = std::path::PathBuf::from("/");
    for (i, name) in parts.iter().enumerate() {
        sofar.push(name);
        let last = i + 1 == parts.len();
        match open(root, &sofar) {
            Ok(fd) => {
                parent = fd;
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let made = if last && kind == Kind::File {
            rustix::fs::openat(
                parent.as_fd(),
                *name,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            )
            .map(drop)
        } else {
            rustix::fs::mkdirat(parent.as_fd(), *name, Mode::from_raw_mode(0o755))
        };
        match made {
            // EEXIST: a racing creator, or a dangling symlink; the lookup below decides which.
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        parent = open(root, &sofar)?;
    }
    Ok(parent)
}

/// The path relative to the container's root; `..` is refused outright (RESOLVE_IN_ROOT would clamp it, but a
/// spec that says `..` is wrong and should say so).
fn relative(path: &Path) -> io::Result<std::path::PathBuf> {
    let mut out = std::path::PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: '..' in a container path", path.display()),
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn root_fd(dir: &Path) -> OwnedFd {
        rustix::fs::open(dir, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).expect("test step")
    }

    #[test]
    fn creates_missing_dirs_and_files() {
        let t = tempfile::tempdir().expect("test step");
        let r = root_fd(t.path());
        ensure(r.as_fd(), Path::new("/a/b/c"), Kind::Dir).expect("test step");
        assert!(t.path().join("a/b/c").is_dir());
        ensure(r.as_fd(), Path::new("/etc/hosts"), Kind::File).expect("test step");
        assert!(t.path().join("etc/hosts").is_file());
        // Existing paths are opened, not recreated.
        ensure(r.as_fd(), Path::new("/etc/hosts"), Kind::File).expect("test step");
    }

    #[test]
    fn symlinks_stay_inside_the_root() {
        let t = tempfile::tempdir().expect("test step");
        let outside = tempfile::tempdir().expect("test step");
        let root = t.path().join("root");
        std::fs::create_dir(&root).expect("test step");
        // An absolute link and a climbing link, both aimed at the host.
        symlink(outside.path(), root.join("abs")).expect("test step");
        symlink("../../../../../../..", root.join("up")).expect("test step");
        let r = root_fd(&root);
        // The absolute link points at <root><outside>, which does not exist: an error, not a host write.
        assert!(ensure(r.as_fd(), Path::new("/abs/x"), Kind::Dir).is_err());
        // The climbing link is clamped at the root: /up/y is <root>/y.
        ensure(r.as_fd(), Path::new("/up/y"), Kind::File).expect("test step");
        assert!(root.join("y").is_file());
        assert!(std::fs::read_dir(outside.path())
            .expect("test step")
            .next()
            .is_none());
    }

    #[test]
    fn dot_dot_is_refused() {
        let t = tempfile::tempdir().expect("test step");
        let r = root_fd(t.path());
        let e = ensure(r.as_fd(), Path::new("/a/../../b"), Kind::Dir).expect_err("must fail");
        assert!(e.to_string().contains(".."), "{e}");
    }
}
