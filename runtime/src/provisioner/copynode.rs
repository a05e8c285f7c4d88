//! Copying one entry of a layer into the rootfs: file data, owner, mode, xattrs, times.
//!
//! Every destination operation is relative to the fd of the directory being filled and never follows
//! the final component: new entries are made with `O_CREAT|O_EXCL|O_NOFOLLOW`, `mkdirat`, `symlinkat`,
//! `mknodat` or `linkat`, and whatever was in the way (a symlink of a lower layer, say) is removed
//! first, never written through. Metadata is set through the new file's fd, or for symlinks and
//! device nodes relative to the parent without following.
//!
//! Order matters: `chown` clears set-id bits and file capabilities, so it goes first, then `chmod`,
//! then xattrs (among them `security.capability`), and times last. Xattrs of symlinks, fifos and device
//! nodes are not copied: that would need a path-based `lsetxattr`, and the store never puts any there.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, SeekFrom};
use rustix::fs::{Gid, Stat, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;

use super::remove::{self, DIR_FLAGS};

/// Attributes that steer overlayfs. In a layer they are markers (opaque); in a copy they mean nothing.
const OVERLAY_XATTRS: &[u8] = b"trusted.overlay.";
const OPAQUE: &[u8] = b"trusted.overlay.opaque";
/// A host's own label of a directory, which a merge must not strip from an existing one.
const SELINUX: &[u8] = b"security.selinux";
/// Largest xattr list or value we read (the kernel's own limit is 64 KiB).
const MAX_XATTR: usize = 1 << 20;

/// Reusable buffers, one set per layer walk.
#[derive(Default)]
pub(crate) struct Bufs {
    list: Vec<u8>,
    value: Vec<u8>,
    data: Vec<u8>,
}

/// Is this a whiteout in overlay form: a character device 0/0.
pub(crate) fn is_whiteout(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::CharacterDevice && rdev(st) == 0
}

/// Access and modification times of `st`.
// `Stat`'s field types differ between architectures (u32 or u64, i64 or c_long): the conversions
// are no-ops on some of them only.
#[allow(clippy::useless_conversion)]
pub(crate) fn times(st: &Stat) -> Timestamps {
    let ts = |sec: i64, nsec: u64| Timespec {
        tv_sec: sec,
        tv_nsec: i64::try_from(nsec).unwrap_or(0),
    };
    Timestamps {
        last_access: ts(i64::from(st.st_atime), u64::from(st.st_atime_nsec)),
        last_modification: ts(i64::from(st.st_mtime), u64::from(st.st_mtime_nsec)),
    }
}

/// The device number of a device node.
// `Stat`'s field types differ between architectures (u32 or u64, i64 or c_long): the conversions
// are no-ops on some of them only.
#[allow(clippy::useless_conversion)]
fn rdev(st: &Stat) -> u64 {
    u64::from(st.st_rdev)
}

/// Runs `make`, which creates `name` in `dir`; if something is in the way, removes it (a whole tree for
/// a directory) and runs `make` once more.
fn replacing<T>(
    dir: BorrowedFd<'_>,
    name: &[u8],
    mut make: impl FnMut() -> rustix::io::Result<T>,
) -> io::Result<T> {
    match make() {
        Err(Errno::EXIST) => {
            remove::remove_at(dir, name)?;
            Ok(make()?)
        }
        r => Ok(r?),
    }
}

/// The directory `name` in `dir`: created, or the one already there (a directory over a directory
/// merges); anything else in the way is replaced. Returns it opened and whether it existed.
pub(crate) fn make_dir(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<(OwnedFd, bool)> {
    match rfs::mkdirat(dir, name, Mode::from_raw_mode(0o700)) {
        Ok(()) => Ok((rfs::openat(dir, name, DIR_FLAGS, Mode::empty())?, false)),
        Err(Errno::EXIST) => match rfs::openat(dir, name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Ok((fd, true)),
            // A symlink (`O_NOFOLLOW`) or another non-directory: replace it, never follow it.
            Err(Errno::LOOP | Errno::NOTDIR) => {
                remove::remove_at(dir, name)?;
                rfs::mkdirat(dir, name, Mode::from_raw_mode(0o700))?;
                Ok((rfs::openat(dir, name, DIR_FLAGS, Mode::empty())?, false))
            }
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Owner, mode and xattrs of directory `src` onto `dst` (times come last, from the caller). When `dst`
/// existed (from a lower layer), xattrs `src` lacks are removed, as overlayfs shows only the topmost
/// directory's. Returns whether `src` is marked opaque.
pub(crate) fn dir_meta(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    st: &Stat,
    existed: bool,
    bufs: &mut Bufs,
) -> io::Result<bool> {
    own_fd(dst, st)?;
    if existed {
        drop_stale_xattrs(src, dst, bufs)?;
    }
    copy_xattrs(src, dst, bufs)
}

/// Copies the non-directory `name` of `src` (described by `st`) to `dst`, replacing whatever is there.
/// Sockets are skipped: they mean nothing without their process.
pub(crate) fn copy_node(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    name: &[u8],
    st: &Stat,
    bufs: &mut Bufs,
) -> io::Result<()> {
    let kind = FileType::from_raw_mode(st.st_mode);
    match kind {
        FileType::RegularFile => {
            let s = open_source(src, name)?;
            let flags =
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let d = replacing(dst, name, || {
                rfs::openat(dst, name, flags, Mode::from_raw_mode(0o600))
            })?;
            copy_data(s.as_fd(), d.as_fd(), st, bufs)?;
            own_fd(d.as_fd(), st)?;
            copy_xattrs(s.as_fd(), d.as_fd(), bufs)?;
            rfs::futimens(&d, &times(st))?;
        }
        FileType::Symlink => {
            let target = rfs::readlinkat(src, name, std::mem::take(&mut bufs.value))?;
            replacing(dst, name, || rfs::symlinkat(target.as_c_str(), dst, name))?;
            own_at(dst, name, st, false)?;
            bufs.value = target.into_bytes();
        }
        FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice => {
            let dev = rdev(st);
            replacing(dst, name, || {
                rfs::mknodat(dst, name, kind, Mode::empty(), dev)
            })?;
            own_at(dst, name, st, true)?;
        }
        _ => {
            tracing::debug!(name = %String::from_utf8_lossy(name), ?kind, "not copied");
        }
    }
    Ok(())
}

/// Hard-links the entry at `first` (a path relative to the rootfs `root`, copied earlier from the same
/// layer) as `name` in `dst`. `first`'s parent is resolved beneath `root` refusing any symlink, so the
/// link can only ever be to a file of this rootfs.
pub(crate) fn link_node(
    root: BorrowedFd<'_>,
    first: &[u8],
    dst: BorrowedFd<'_>,
    name: &[u8],
) -> io::Result<()> {
    let (parent, base) = match first.iter().rposition(|&b| b == b'/') {
        Some(i) => (&first[..i], &first[i + 1..]),
        None => (&b""[..], first),
    };
    let held;
    let pdir = if parent.is_empty() {
        root
    } else {
        held = open_beneath(root, parent)?;
        held.as_fd()
    };
    replacing(dst, name, || {
        rfs::linkat(pdir, base, dst, name, AtFlags::empty())
    })
}

fn open_beneath(root: BorrowedFd<'_>, path: &[u8]) -> io::Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    // EAGAIN: a rename elsewhere on the system made the kernel unsure the walk stayed beneath.
    for _ in 0..16 {
        match rfs::openat2(root, path, flags, Mode::empty(), resolve) {
            Err(Errno::AGAIN | Errno::INTR) => continue,
            r => return Ok(r?),
        }
    }
    Err(Errno::AGAIN.into())
}

/// Opens a layer file for reading without touching its atime (the layers are shared and read-only);
/// `O_NOATIME` needs ownership or CAP_FOWNER, so fall back without it.
fn open_source(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rfs::openat(dir, name, flags | OFlags::NOATIME, Mode::empty()) {
        Err(Errno::PERM) => Ok(rfs::openat(dir, name, flags, Mode::empty())?),
        r => Ok(r?),
    }
}

fn own_fd(fd: BorrowedFd<'_>, st: &Stat) -> io::Result<()> {
    rfs::fchown(
        fd,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )?;
    rfs::fchmod(fd, Mode::from_raw_mode(st.st_mode & 0o7777))?;
    Ok(())
}

/// Owner, mode (unless a symlink) and times of `name` in `dir`, not following it.
fn own_at(dir: BorrowedFd<'_>, name: &[u8], st: &Stat, chmod: bool) -> io::Result<()> {
    let (uid, gid) = (Uid::from_raw(st.st_uid), Gid::from_raw(st.st_gid));
    rfs::chownat(dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)?;
    if chmod {
        // fchmodat cannot refuse to follow on older kernels; `name` is a node just made with mknodat in
        // a directory nothing else writes to, so there is nothing to follow.
        rfs::chmodat(
            dir,
            name,
            Mode::from_raw_mode(st.st_mode & 0o7777),
            AtFlags::empty(),
        )?;
    }
    rfs::utimensat(dir, name, &times(st), AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(())
}

/// Calls `f` with `buf` grown until the result fits (`ERANGE` means too small).
fn fill(
    buf: &mut Vec<u8>,
    mut f: impl FnMut(&mut [u8]) -> rustix::io::Result<usize>,
) -> io::Result<usize> {
    if buf.len() < 4096 {
        buf.resize(4096, 0);
    }
    loop {
        match f(buf) {
            Err(Errno::RANGE) if buf.len() < MAX_XATTR => buf.resize(buf.len() * 4, 0),
            r => return Ok(r?),
        }
    }
}

/// Copies `src`'s xattrs to `dst` except overlayfs' own; returns whether `src` is marked opaque.
fn copy_xattrs(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, bufs: &mut Bufs) -> io::Result<bool> {
    let n = fill(&mut bufs.list, |b| rfs::flistxattr(src, b))?;
    let mut opaque = false;
    for name in bufs.list[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let len = fill(&mut bufs.value, |b| rfs::fgetxattr(src, name, b))?;
        let value = &bufs.value[..len];
        if name.starts_with(OVERLAY_XATTRS) {
            opaque |= name == OPAQUE && value == b"y";
            continue;
        }
        match rfs::fsetxattr(dst, name, value, XattrFlags::empty()) {
            Ok(()) => {}
            // As the store's applier does: a namespace the rootfs' filesystem lacks is skipped, loudly.
            Err(Errno::OPNOTSUPP) => {
                tracing::warn!(name = %String::from_utf8_lossy(name), "xattr not supported by the rootfs filesystem; skipped");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(opaque)
}

/// Removes from `dst` the xattrs (left by a lower layer) that `src` does not have.
fn drop_stale_xattrs(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, bufs: &mut Bufs) -> io::Result<()> {
    let n = fill(&mut bufs.value, |b| rfs::flistxattr(dst, b))?;
    if n == 0 {
        return Ok(());
    }
    let stale: Vec<Vec<u8>> = bufs.value[..n]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty() && *n != SELINUX)
        .map(<[u8]>::to_vec)
        .collect();
    for name in stale {
        if rfs::fgetxattr_query(src, name.as_slice()) == Err(Errno::NODATA) {
            match rfs::fremovexattr(dst, name.as_slice()) {
                Ok(()) | Err(Errno::NODATA) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Copies the data of a regular file: the kernel's `copy_file_range` (which reflinks where the
/// filesystem can, and never passes the data through user space), holes kept as holes.
fn copy_data(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    st: &Stat,
    bufs: &mut Bufs,
) -> io::Result<()> {
    let size = u64::try_from(st.st_size).unwrap_or(0);
    if size == 0 {
        return Ok(());
    }
    let allocated = u64::try_from(st.st_blocks)
        .unwrap_or(u64::MAX)
        .saturating_mul(512);
    if allocated >= size {
        return copy_range(src, dst, 0, size, bufs);
    }
    // Fewer blocks than bytes: sparse. Copy the data extents only.
    let mut off = 0;
    while off < size {
        let data = match rfs::seek(src, SeekFrom::Data(off)) {
            Ok(d) => d,
            Err(Errno::NXIO) => break, // only a hole is left
            Err(_) => {
                copy_range(src, dst, off, size - off, bufs)?;
                break;
            }
        };
        let hole = rfs::seek(src, SeekFrom::Hole(data))?.min(size);
        copy_range(src, dst, data, hole.saturating_sub(data), bufs)?;
        off = hole.max(data + 1);
    }
    rfs::ftruncate(dst, size)?;
    Ok(())
}

/// Copies `len` bytes at `off` (same offset in both files).
fn copy_range(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    off: u64,
    len: u64,
    bufs: &mut Bufs,
) -> io::Result<()> {
    let end = off.saturating_add(len);
    let (mut i, mut o) = (off, off);
    while i < end {
        let want = usize::try_from(end - i).unwrap_or(usize::MAX).min(1 << 30);
        match rfs::copy_file_range(src, Some(&mut i), dst, Some(&mut o), want) {
            Ok(0) => return Ok(()), // the file is shorter than it was: nothing more to copy
            Ok(_) => {}
            Err(Errno::INTR) => {}
            // Filesystems or kernels that cannot: plain reads and writes.
            Err(Errno::XDEV | Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {
                return copy_rw(src, dst, i, end, &mut bufs.data)
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn copy_rw(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    mut off: u64,
    end: u64,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    buf.resize(1 << 17, 0);
    while off < end {
        let want = usize::try_from(end - off)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = match rustix::io::pread(src, &mut buf[..want], off) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        let mut done = 0;
        while done < n {
            match rustix::io::pwrite(dst, &buf[done..n], off + done as u64) {
                Ok(w) => done += w,
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        off += n as u64;
    }
    Ok(())
}
