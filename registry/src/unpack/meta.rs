//! Ownership, permissions, times and extended attributes, set through the entry's own fd (files,
//! directories) or relative to its parent without following it (symlinks, devices, fifos).
//!
//! Order matters: `chown` clears setuid/setgid and file capabilities, so it goes first, then `chmod`,
//! then xattrs (among them `security.capability`), and times last.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::fs::{self as rfs, AtFlags, Gid, Mode, Timespec, Timestamps, Uid, XattrFlags};
use rustix::io::Errno;

use super::pax::Time;

/// Metadata taken from an entry's header and PAX records.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits including setuid, setgid and sticky (`0o7777`).
    pub mode: u32,
    pub times: Timestamps,
}

pub(crate) fn timestamps(mtime: Time, atime: Time) -> Timestamps {
    let ts = |t: Time| Timespec {
        tv_sec: t.secs,
        tv_nsec: i64::from(t.nanos),
    };
    Timestamps {
        last_access: ts(atime),
        last_modification: ts(mtime),
    }
}

/// Owner and mode of a file or directory we hold open.
pub(crate) fn own_fd(fd: BorrowedFd<'_>, m: &Meta) -> io::Result<()> {
    rfs::fchown(fd, Some(Uid::from_raw(m.uid)), Some(Gid::from_raw(m.gid)))?;
    rfs::fchmod(fd, Mode::from_raw_mode(m.mode))?;
    Ok(())
}

/// Owner (lchown semantics) and, unless it is a symlink, mode of `name` in `dir`.
pub(crate) fn own_at(dir: BorrowedFd<'_>, name: &[u8], m: &Meta, symlink: bool) -> io::Result<()> {
    let (uid, gid) = (Some(Uid::from_raw(m.uid)), Some(Gid::from_raw(m.gid)));
    rfs::chownat(dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
    if !symlink {
        // fchmodat cannot refuse to follow on older kernels; `name` is a node we just created with
        // mknodat in a directory nobody else writes to, so there is nothing to follow.
        rfs::chmodat(dir, name, Mode::from_raw_mode(m.mode), AtFlags::empty())?;
    }
    Ok(())
}

pub(crate) fn times_fd(fd: BorrowedFd<'_>, t: &Timestamps) -> io::Result<()> {
    rfs::futimens(fd, t).map_err(Into::into)
}

pub(crate) fn times_at(dir: BorrowedFd<'_>, name: &[u8], t: &Timestamps) -> io::Result<()> {
    rfs::utimensat(dir, name, t, AtFlags::SYMLINK_NOFOLLOW).map_err(Into::into)
}

/// Sets the entry's `SCHILY.xattr.*` attributes on `fd`.
///
/// `trusted.overlay.*` from a layer is dropped: those attributes steer overlayfs (opaque, redirect,
/// metacopy) and only this applier may write them, as whiteouts. A filesystem without support for an
/// attribute's namespace is logged and skipped, as docker and containerd do; any other failure is an
/// error (a `security.capability` that silently vanished would break `ping` and friends).
pub(crate) fn xattrs_fd(fd: BorrowedFd<'_>, xattrs: &[(&[u8], &[u8])]) -> io::Result<()> {
    for &(name, value) in xattrs {
        if name.starts_with(b"trusted.overlay.") {
            tracing::debug!(name = %String::from_utf8_lossy(name), "ignoring overlayfs attribute from a layer");
            continue;
        }
        match rfs::fsetxattr(fd, name, value, XattrFlags::empty()) {
            Ok(()) => {}
            Err(Errno::OPNOTSUPP) => {
                tracing::warn!(name = %String::from_utf8_lossy(name), "xattr not supported here; skipped");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Marks a directory opaque for overlayfs.
pub(crate) fn set_opaque(fd: BorrowedFd<'_>) -> io::Result<()> {
    rfs::fsetxattr(fd, "trusted.overlay.opaque", b"y", XattrFlags::empty()).map_err(Into::into)
}
