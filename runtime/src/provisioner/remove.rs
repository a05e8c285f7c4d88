//! Removing trees, fd-relative and never following a symlink.
//!
//! What gets removed is a container's upper dir or copied rootfs: anything a container wrote, including
//! symlinks to `/`, directories without permissions, device nodes and trees deeper than `PATH_MAX`. So:
//! every name is unlinked relative to its parent's fd, directories are opened with `O_NOFOLLOW`, the walk
//! is iterative with one directory fd held at a time (no recursion, no fd exhaustion, whatever the
//! depth), and it climbs back with `..`, checking it arrived where it came from. It never descends into
//! another mount (a rootfs that is still mounted, something bind-mounted inside): it stops with `EBUSY`
//! rather than deleting through it.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, RawDir, StatxFlags};
use rustix::io::Errno;

/// How every directory of the provisioner is opened: never through a symlink, closed at exec.
pub(crate) const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Identity of a directory: (dev, ino) to check a climb, and the mount it is on.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Ident {
    dev: u64,
    ino: u64,
    /// The mount id where the kernel reports it (5.8+), else the device: either way two directories on
    /// different mounts differ (the device only tells apart different filesystems, not bind mounts).
    mnt: u64,
}

fn ident(fd: BorrowedFd<'_>) -> io::Result<Ident> {
    let st = rfs::statx(
        fd,
        "",
        AtFlags::EMPTY_PATH,
        StatxFlags::INO | StatxFlags::MNT_ID,
    )?;
    let dev = rfs::makedev(st.stx_dev_major, st.stx_dev_minor);
    let mnt = if StatxFlags::from_bits_retain(st.stx_mask).contains(StatxFlags::MNT_ID) {
        st.stx_mnt_id
    } else {
        dev
    };
    Ok(Ident {
        dev,
        ino: st.stx_ino,
        mnt,
    })
}

/// Reads the entries of `dir` (from its current offset: pass a freshly opened fd) into `out`, without
/// `.` and `..`.
pub(crate) fn read_entries(
    dir: BorrowedFd<'_>,
    out: &mut Vec<(Vec<u8>, FileType)>,
) -> io::Result<()> {
    out.clear();
    let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut it = RawDir::new(dir, &mut buf);
    while let Some(ent) = it.next() {
        let ent = ent?;
        let name = ent.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push((name.to_vec(), ent.file_type()));
        }
    }
    Ok(())
}

/// Removes whatever is at `name` in `dir` (a whole tree for a directory). Returns whether anything was
/// there.
pub(crate) fn remove_at(dir: impl AsFd, name: &[u8]) -> io::Result<bool> {
    let dir = dir.as_fd();
    // Try the cheap cases first: a non-directory, then an empty directory, one syscall each.
    match rfs::unlinkat(dir, name, AtFlags::empty()) {
        Ok(()) => return Ok(true),
        Err(Errno::NOENT) => return Ok(false),
        Err(Errno::ISDIR) => {}
        Err(e) => return Err(named(e.into(), name)),
    }
    match rfs::unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) => return Ok(true),
        Err(Errno::NOENT) => return Ok(false),
        Err(Errno::NOTEMPTY | Errno::EXIST) => {}
        Err(e) => return Err(named(e.into(), name)),
    }
    let sub = open_subdir(dir, name)?;
    if ident(sub.as_fd())?.mnt != ident(dir)?.mnt {
        return Err(mount_point(name));
    }
    clear(sub).map_err(|e| named(e, name))?;
    rfs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(|e| named(e.into(), name))?;
    Ok(true)
}

/// Removes everything inside the directory `start` (which must be freshly opened), leaving it empty.
pub(crate) fn clear(start: OwnedFd) -> io::Result<()> {
    let base = ident(start.as_fd())?;
    let mut cur = start;
    let mut cur_id = base;
    // For each level descended: the subdirectory's name and the identity of the directory holding it.
    let mut stack: Vec<(Vec<u8>, Ident)> = Vec::new();
    let mut names = Vec::new();
    loop {
        read_entries(cur.as_fd(), &mut names)?;
        let mut descend = None;
        for (name, kind) in &names {
            if remove_entry(cur.as_fd(), name, *kind).map_err(|e| in_tree(e, &stack, name))? {
                continue;
            }
            descend = Some(name.clone());
            break;
        }
        if let Some(name) = descend {
            let sub = open_subdir(cur.as_fd(), &name).map_err(|e| in_tree(e, &stack, &name))?;
            let sub_id = ident(sub.as_fd())?;
            if sub_id.mnt != base.mnt {
                return Err(in_tree(mount_point(&name), &stack, &name));
            }
            stack.push((name, cur_id));
            cur = sub;
            cur_id = sub_id;
            continue;
        }
        // `cur` is empty now: go back up and remove it.
        let Some((name, parent)) = stack.pop() else {
            return Ok(());
        };
        let up = rfs::openat(&cur, "..", DIR_FLAGS, Mode::empty())?;
        let up_id = ident(up.as_fd())?;
        if (up_id.dev, up_id.ino) != (parent.dev, parent.ino) {
            return Err(io::Error::other(
                "a directory was moved while its tree was being removed",
            ));
        }
        rfs::unlinkat(&up, name.as_slice(), AtFlags::REMOVEDIR)
            .map_err(|e| in_tree(e.into(), &stack, &name))?;
        cur = up;
        cur_id = up_id;
    }
}

/// Removes one entry of `dir`; `Ok(false)` means it is a non-empty directory to descend into.
fn remove_entry(dir: BorrowedFd<'_>, name: &[u8], kind: FileType) -> io::Result<bool> {
    let is_dir = match kind {
        FileType::Unknown => {
            let st = rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
            FileType::from_raw_mode(st.st_mode) == FileType::Directory
        }
        k => k == FileType::Directory,
    };
    let flags = if is_dir {
        AtFlags::REMOVEDIR
    } else {
        AtFlags::empty()
    };
    let mut r = rfs::unlinkat(dir, name, flags);
    if r == Err(Errno::ACCESS) {
        // A directory the container made read-only (root without CAP_DAC_OVERRIDE, as in a user
        // namespace, cannot unlink in it): open it up and try once more.
        rfs::fchmod(dir, Mode::from_raw_mode(0o700))?;
        r = rfs::unlinkat(dir, name, flags);
    }
    match r {
        Ok(()) | Err(Errno::NOENT) => Ok(true),
        Err(Errno::NOTEMPTY | Errno::EXIST) if is_dir => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Opens the directory `name` in `dir` without following a symlink; one without search permission is
/// made searchable first (see `remove_entry`).
fn open_subdir(dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<OwnedFd> {
    match rfs::openat(dir, name, DIR_FLAGS, Mode::empty()) {
        Err(Errno::ACCESS) => {
            // `name` is a directory (rmdir said ENOTEMPTY) and nothing else writes here, so there is no
            // symlink for this chmod to follow.
            rfs::chmodat(dir, name, Mode::from_raw_mode(0o700), AtFlags::empty())?;
            Ok(rfs::openat(dir, name, DIR_FLAGS, Mode::empty())?)
        }
        r => Ok(r?),
    }
}

fn mount_point(name: &[u8]) -> io::Error {
    io::Error::new(
        io::ErrorKind::ResourceBusy,
        format!(
            "`{}` is a mount point; refusing to remove through it",
            String::from_utf8_lossy(name)
        ),
    )
}

fn named(e: io::Error, name: &[u8]) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("`{}`: {e}", String::from_utf8_lossy(name)),
    )
}

/// `e` with the entry's path relative to where the walk started.
fn in_tree(e: io::Error, stack: &[(Vec<u8>, Ident)], name: &[u8]) -> io::Error {
    let mut path = Vec::new();
    for (n, _) in stack {
        path.extend_from_slice(n);
        path.push(b'/');
    }
    path.extend_from_slice(name);
    named(e, &path)
}
