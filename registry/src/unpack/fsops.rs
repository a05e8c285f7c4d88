//! The fd-relative filesystem primitives. Nothing here takes a host path except [`Tree::open`].
//!
//! Parents are resolved by [`confined::open`] (`openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`) against the root fd, so
//! symlinks resolve as if the root were `/`; final components are created or removed relative to the
//! parent's fd and never followed. We assume nothing else writes into the tree while a layer is applied
//! (it is a staging dir, or a rootfs no container runs in yet).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, Dev, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::confined;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC);
/// Mode of directories a layer implies without listing them (`a/b/c` with no `a/`), as docker uses.
const IMPLIED_DIR_MODE: u32 = 0o755;

/// The layer root and a one-entry cache of the last parent directory resolved. Tars are ordered, so
/// consecutive entries nearly always share a parent; the cache saves an `openat2` per entry.
pub(crate) struct Tree {
    /// `O_RDONLY` rather than `O_PATH`: metadata of the root (`./` entries) is set through this fd, and
    /// `fchmod`/`fsetxattr` refuse `O_PATH` fds.
    root: OwnedFd,
    cache: Option<(Vec<u8>, OwnedFd)>,
}

impl Tree {
    /// Opens the root. Its path is the caller's (trusted); everything after is relative to this fd.
    pub(crate) fn open(root: &Path) -> io::Result<Tree> {
        let root = rfs::open(root, DIR_FLAGS, Mode::empty())?;
        Ok(Tree { root, cache: None })
    }

    pub(crate) fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    /// Opens the directory at normalized `path` (`""` is the root), resolved inside the root.
    pub(crate) fn open_dir(&self, path: &[u8]) -> io::Result<OwnedFd> {
        use std::os::unix::ffi::OsStrExt;
        confined::open(&self.root, std::ffi::OsStr::from_bytes(path), DIR_FLAGS)
    }

    /// The directory `parent`, created with its missing ancestors (`mkdir -p`) if needed.
    pub(crate) fn parent(&mut self, parent: &[u8]) -> io::Result<BorrowedFd<'_>> {
        if parent.is_empty() {
            return Ok(self.root.as_fd());
        }
        if !self.cached(parent) {
            let fd = match self.open_dir(parent) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => self.mkdir_p(parent)?,
                r => r?,
            };
            self.remember(parent, fd);
        }
        self.cache_fd()
    }

    /// The directory `parent` if it exists; `None` if it or an ancestor is missing or not a directory.
    pub(crate) fn existing_dir(&mut self, parent: &[u8]) -> io::Result<Option<BorrowedFd<'_>>> {
        if parent.is_empty() {
            return Ok(Some(self.root.as_fd()));
        }
        if !self.cached(parent) {
            match self.open_dir(parent) {
                Ok(fd) => self.remember(parent, fd),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
        self.cache_fd().map(Some)
    }

    /// Makes `fd` (the directory at `path`) the cached parent: after a directory entry, the next
    /// entries are usually inside it.
    pub(crate) fn remember(&mut self, path: &[u8], fd: OwnedFd) {
        match &mut self.cache {
            Some((p, f)) => {
                p.clear();
                p.extend_from_slice(path);
                *f = fd;
            }
            None => self.cache = Some((path.to_vec(), fd)),
        }
    }

    /// Drops the cache. Called whenever a directory or symlink was removed: the cached path might have
    /// resolved through it.
    pub(crate) fn invalidate(&mut self) {
        self.cache = None;
    }

    fn cached(&self, path: &[u8]) -> bool {
        matches!(&self.cache, Some((p, _)) if p.as_slice() == path)
    }

    fn cache_fd(&self) -> io::Result<BorrowedFd<'_>> {
        match &self.cache {
            Some((_, fd)) => Ok(fd.as_fd()),
            None => Err(io::Error::other("parent directory cache is empty")),
        }
    }

    /// Creates the missing directories of `path`. Each prefix is resolved inside the root (so symlinks
    /// keep working); the first missing component and everything after it are created with `mkdirat`.
    fn mkdir_p(&self, path: &[u8]) -> io::Result<OwnedFd> {
        let mut cur: Option<OwnedFd> = None;
        let mut creating = false;
        let mut start = 0;
        while start < path.len() {
            let end = path[start..]
                .iter()
                .position(|&b| b == b'/')
                .map_or(path.len(), |i| start + i);
            let name = &path[start..end];
            if !creating {
                match self.open_dir(&path[..end]) {
                    Ok(fd) => {
                        cur = Some(fd);
                        start = end + 1;
                        continue;
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => creating = true,
                    Err(e) => return Err(e),
                }
            }
            let dir = cur.as_ref().map_or(self.root.as_fd(), |f| f.as_fd());
            match rfs::mkdirat(dir, name, Mode::from_raw_mode(IMPLIED_DIR_MODE)) {
                Ok(()) => {}
                Err(Errno::EXIST) => {
                    // It exists but did not resolve: a symlink to a missing directory (or a loop).
                    let why = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                            "is a symlink to a directory that does not exist"
                        }
                        _ => "exists but is not a directory",
                    };
                    let shown = String::from_utf8_lossy(&path[..end]);
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("`{shown}` {why}"),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
            let fd = rfs::openat(dir, name, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())?;
            // Exactly 0755 whatever the process umask, so the store's content does not depend on it.
            rfs::fchmod(&fd, Mode::from_raw_mode(IMPLIED_DIR_MODE))?;
            cur = Some(fd);
            start = end + 1;
        }
        cur.ok_or_else(|| io::Error::other("empty path"))
    }
}

/// True when removing an entry of this type may change how other paths resolve.
pub(crate) fn structural(t: Option<FileType>) -> bool {
    matches!(t, Some(FileType::Directory | FileType::Symlink))
}

/// Runs `make`, which creates `name` in `dir`; if something is in the way, removes it (a whole tree for
/// a directory) and runs `make` once more. Returns the type that was replaced, if any.
fn replacing<T>(
    dir: BorrowedFd<'_>,
    name: &[u8],
    mut make: impl FnMut() -> rustix::io::Result<T>,
) -> io::Result<(T, Option<FileType>)> {
    match make() {
        Ok(t) => Ok((t, None)),
        Err(Errno::EXIST) => {
            let old = remove(dir, name)?;
            Ok((make()?, old))
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates a new regular file for writing, never opening an existing one.
pub(crate) fn create_file(
    dir: BorrowedFd<'_>,
    name: &[u8],
) -> io::Result<(OwnedFd, Option<FileType>)> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    replacing(dir, name, || {
        rfs::openat(dir, name, flags, Mode::from_raw_mode(0o600))
    })
}

/// Creates a directory, or keeps the one already there (a directory entry over a directory only
/// updates metadata); anything else in the way is removed. Returns the directory opened.
pub(crate) fn make_dir(
    dir: BorrowedFd<'_>,
    name: &[u8],
) -> io::Result<(OwnedFd, Option<FileType>)> {
    let mut replaced = None;
    match rfs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
        Ok(()) => {}
        Err(Errno::EXIST) => {
            let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                replaced = remove(dir, name)?;
                rfs::mkdirat(dir, name, Mode::from_raw_mode(0o700))?;
            }
        }
        Err(e) => return Err(e.into()),
    }
    let fd = rfs::openat(dir, name, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())?;
    Ok((fd, replaced))
}

/// Creates a symlink holding `target` verbatim (it is only ever resolved inside the root).
pub(crate) fn symlink(
    dir: BorrowedFd<'_>,
    name: &[u8],
    target: &[u8],
) -> io::Result<Option<FileType>> {
    replacing(dir, name, || rfs::symlinkat(target, dir, name)).map(|((), old)| old)
}

/// Hard-links `tdir/tname` (not following a final symlink) as `dir/name`.
pub(crate) fn hardlink(
    tdir: BorrowedFd<'_>,
    tname: &[u8],
    dir: BorrowedFd<'_>,
    name: &[u8],
) -> io::Result<Option<FileType>> {
    match rfs::linkat(tdir, tname, dir, name, AtFlags::empty()) {
        Ok(()) => Ok(None),
        Err(Errno::EXIST) => {
            let a = rfs::statat(tdir, tname, AtFlags::SYMLINK_NOFOLLOW)?;
            let b = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) {
                return Ok(None); // already that very file
            }
            let old = remove(dir, name)?;
            rfs::linkat(tdir, tname, dir, name, AtFlags::empty())?;
            Ok(old)
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates a device node, fifo, or (mode 0, device 0/0) an overlay whiteout.
pub(crate) fn mknod(
    dir: BorrowedFd<'_>,
    name: &[u8],
    kind: FileType,
    dev: Dev,
) -> io::Result<Option<FileType>> {
    replacing(dir, name, || {
        rfs::mknodat(dir, name, kind, Mode::empty(), dev)
    })
    .map(|((), old)| old)
}

/// Removes whatever is at `name` (a whole tree for a directory). Returns what was there.
pub(crate) fn remove(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Option<FileType>> {
    let st = match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let kind = FileType::from_raw_mode(st.st_mode);
    if kind == FileType::Directory {
        remove_tree(dir, name)?;
    } else {
        rfs::unlinkat(dir, name, AtFlags::empty())?;
    }
    Ok(Some(kind))
}

/// Removes the directory `name` and everything under it. Iterative with one directory fd held at a
/// time, so a hostile, arbitrarily deep tree (symlinked parents let a layer build one deeper than any
/// path) can exhaust neither the stack nor the fd table. It climbs back with `..` and checks it arrived
/// where it came from.
fn remove_tree(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<()> {
    let open_sub = |at: BorrowedFd<'_>, n: &[u8]| {
        rfs::openat(at, n, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())
    };
    let mut cur = open_sub(dir, name)?;
    // For each level descended: the subdirectory's name and the identity of the directory holding it.
    let mut stack: Vec<(Vec<u8>, (u64, u64))> = Vec::new();
    loop {
        let mut sub = None;
        for ent in rfs::Dir::read_from(&cur)? {
            let ent = ent?;
            let n = ent.file_name().to_bytes();
            if n == b"." || n == b".." {
                continue;
            }
            let is_dir = match ent.file_type() {
                FileType::Unknown => {
                    let st = rfs::statat(&cur, n, AtFlags::SYMLINK_NOFOLLOW)?;
                    FileType::from_raw_mode(st.st_mode) == FileType::Directory
                }
                t => t == FileType::Directory,
            };
            let flags = if is_dir {
                AtFlags::REMOVEDIR
            } else {
                AtFlags::empty()
            };
            match rfs::unlinkat(&cur, n, flags) {
                Ok(()) | Err(Errno::NOENT) => {}
                Err(Errno::NOTEMPTY | Errno::EXIST) if is_dir => {
                    sub = Some(n.to_vec());
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(n) = sub {
            let st = rfs::fstat(&cur)?;
            let next = open_sub(cur.as_fd(), &n)?;
            stack.push((n, (st.st_dev, st.st_ino)));
            cur = next;
            continue;
        }
        let Some((n, id)) = stack.pop() else { break };
        let up = rfs::openat(&cur, "..", DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())?;
        let st = rfs::fstat(&up)?;
        if (st.st_dev, st.st_ino) != id {
            return Err(io::Error::other(
                "a directory moved while it was being removed",
            ));
        }
        rfs::unlinkat(&up, n.as_slice(), AtFlags::REMOVEDIR)?;
        cur = up;
    }
    drop(cur);
    rfs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    Ok(())
}
