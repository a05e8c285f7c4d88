//! Paths confined to a directory: the one resolver for every path ucr takes from input and looks up under a
//! root — a layer's entries (the applier), an OCI layout's members (the archive reader), a fetched file's name
//! in the sandbox (the fetcher), a mount destination (the launcher), an image's WORKDIR and `/etc/passwd`
//! (the process set-up).
//!
//! Every lookup is `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` from a descriptor of the root, so `..`
//! and absolute symlinks resolve inside the root, as they will after the container's `pivot_root`, and a
//! `/proc/self/...`-style magic link can never hand out a host object. What is missing is created one
//! component at a time relative to an already-resolved parent (`mkdirat`, `O_CREAT|O_EXCL|O_NOFOLLOW`), which
//! follows nothing either. The caller's own root path is trusted; nothing below it is.
//!
//! Needs Linux 5.6 (openat2); an older kernel gets an error saying so.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

/// How every path below a root is resolved.
pub const RESOLVE: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// What the last component must be when it has to be created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
}

/// A descriptor of the directory `root` (`O_PATH`) to resolve paths from.
pub fn open_root(root: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Opens `path` (absolute or relative, both taken from the root; empty is the root itself) under the directory
/// `root` with `flags` (`O_CLOEXEC` is always added).
pub fn open(root: impl AsFd, path: impl AsRef<Path>, flags: OFlags) -> io::Result<OwnedFd> {
    let path = path.as_ref();
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    // EAGAIN: a concurrent rename elsewhere on the system made the kernel unsure `..` stayed inside.
    for _ in 0..16 {
        match rustix::fs::openat2(
            root.as_fd(),
            path,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            RESOLVE,
        ) {
            Err(Errno::AGAIN) | Err(Errno::INTR) => continue,
            Err(Errno::NOSYS) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "openat2 is not available: Linux 5.6 or later is required",
                ))
            }
            r => return r.map_err(io::Error::from),
        }
    }
    Err(Errno::AGAIN.into())
}

/// Opens `path` as an `O_PATH` fd, creating missing directories and, as `kind` says, the last component
/// (a directory 0755 or an empty file 0644). `..` is refused (see [`relative`]).
pub fn ensure(root: impl AsFd, path: &Path, kind: Kind) -> io::Result<OwnedFd> {
    let root = root.as_fd();
    let flags = OFlags::PATH;
    let rel = relative(path)?;
    match open(root, &rel, flags) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    let parts: Vec<&OsStr> = rel.iter().collect();
    let mut parent = open(root, "", flags)?;
    let mut sofar = PathBuf::new();
    for (i, name) in parts.iter().enumerate() {
        sofar.push(name);
        match open(root, &sofar, flags) {
            Ok(fd) => {
                parent = fd;
                continue;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let made = if i + 1 == parts.len() && kind == Kind::File {
            rustix::fs::openat(
                &parent,
                *name,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o644),
            )
            .map(drop)
        } else {
            rustix::fs::mkdirat(&parent, *name, Mode::from_raw_mode(0o755))
        };
        match made {
            // EEXIST: a racing creator, or a dangling symlink; the lookup below decides which.
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        parent = open(root, &sofar, flags)?;
    }
    Ok(parent)
}

/// Creates (or truncates) the regular file `path` under `root` for writing, its parent resolved inside the
/// root; a symlink or anything else at the final component is refused, never followed.
pub fn create(root: impl AsFd, path: &Path, mode: u32) -> io::Result<File> {
    let rel = relative(path)?;
    let (parent, name) = match (rel.parent(), rel.file_name()) {
        (Some(p), Some(n)) => (p, n),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a file name", path.display()),
            ))
        }
    };
    let dir = open(root, parent, OFlags::DIRECTORY | OFlags::RDONLY)?;
    let fd = rustix::fs::openat(
        &dir,
        name,
        OFlags::CREATE | OFlags::TRUNC | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?;
    let file = File::from(fd);
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a regular file", path.display()),
        ));
    }
    Ok(file)
}

/// The text of `path` under the directory `root`, None when it does not exist. At most `max` bytes are read:
/// these are small system files (`/etc/passwd`), a huge one is an error rather than a memory hog.
pub fn read_text(root: &Path, path: &str, max: u64) -> io::Result<Option<String>> {
    let dir = open_root(root)?;
    let fd = match open(&dir, path, OFlags::RDONLY) {
        Ok(fd) => fd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    File::from(fd).take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    // passwd files are ASCII in practice; a stray byte must not make the whole file unreadable.
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// `path` relative to the root. `..` is refused outright: RESOLVE_IN_ROOT would clamp it, but a path that says
/// `..` where a place inside the root is meant is wrong and should say so.
pub fn relative(path: &Path) -> io::Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir | Component::Prefix(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{}: '..' in a path inside a root", path.display()),
                ))
            }
        }
    }
    Ok(out)
}

/// `path` cleaned lexically the way Go's `filepath.Clean` (and so docker, for WORKDIR) does: `.` dropped, `..`
/// removes the component before it and stops at the root. Always absolute.
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// (From the process set-up's reader of `/etc/passwd`.)
    #[test]
    fn confined() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("etc")).expect("mkdir");
        std::fs::write(dir.path().join("outside"), "host secret").expect("write");
        std::fs::write(root.join("etc/inside"), "image file").expect("write");
        // Both an absolute and a `..` symlink stay in the root.
        symlink("/etc/inside", root.join("abs")).expect("symlink");
        symlink("../../outside", root.join("etc/up")).expect("symlink");
        assert_eq!(
            read_text(&root, "/abs", 100).expect("read").as_deref(),
            Some("image file")
        );
        assert_eq!(read_text(&root, "/etc/up", 100).expect("read"), None);
        assert_eq!(read_text(&root, "/../outside", 100).expect("read"), None);
        assert!(read_text(&root, "/etc/inside", 3).is_err());
    }

    #[test]
    fn magic_links_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        symlink("/proc/self/root", dir.path().join("magic")).expect("symlink");
        let r = open_root(dir.path()).expect("root");
        assert!(open(&r, "/magic/etc", OFlags::PATH).is_err());
    }

    fn root_fd(dir: &Path) -> OwnedFd {
        open_root(dir).expect("test step")
    }

    /// (This and the two below from the launcher's resolver of mount destinations.)
    #[test]
    fn creates_missing_dirs_and_files() {
        let t = tempfile::tempdir().expect("test step");
        let r = root_fd(t.path());
        ensure(&r, Path::new("/a/b/c"), Kind::Dir).expect("test step");
        assert!(t.path().join("a/b/c").is_dir());
        ensure(&r, Path::new("/etc/hosts"), Kind::File).expect("test step");
        assert!(t.path().join("etc/hosts").is_file());
        // Existing paths are opened, not recreated.
        ensure(&r, Path::new("/etc/hosts"), Kind::File).expect("test step");
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
        assert!(ensure(&r, Path::new("/abs/x"), Kind::Dir).is_err());
        // The climbing link is clamped at the root: /up/y is <root>/y.
        ensure(&r, Path::new("/up/y"), Kind::File).expect("test step");
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
        let e = ensure(&r, Path::new("/a/../../b"), Kind::Dir).expect_err("must fail");
        assert!(e.to_string().contains(".."), "{e}");
    }

    #[test]
    fn create_never_follows_the_last_component() {
        let t = tempfile::tempdir().expect("tempdir");
        let outside = t.path().join("outside");
        let root = t.path().join("root");
        std::fs::create_dir(&root).expect("mkdir");
        let r = open_root(&root).expect("root");
        use std::io::Write;
        create(&r, Path::new("f"), 0o644)
            .and_then(|mut f| f.write_all(b"x"))
            .expect("create");
        assert_eq!(std::fs::read(root.join("f")).expect("read"), b"x");
        symlink(&outside, root.join("link")).expect("symlink");
        assert!(create(&r, Path::new("link"), 0o644).is_err());
        assert!(!outside.exists());
        assert_eq!(clean("a/../../b/./c/"), "/b/c");
        assert_eq!(clean("/"), "/");
    }
}
