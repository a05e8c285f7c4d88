//! A persistent volume's `size` as a filesystem project quota (the way XFS and ext4 limit one directory tree):
//! the directory gets a project id (its own inode number, which no other directory of that filesystem has) with
//! the inherit flag, and the project gets a hard block limit. Works where the filesystem is mounted with project
//! quotas (`prjquota`); elsewhere the answer says why the size is not enforced, and nothing is changed.
//!
//! Written against the kernel interface directly (`quotactl_fd`, the `FS_IOC_FS[GS]ETXATTR` ioctls): no
//! maintained crate covers project quotas, and this is the whole of what is needed.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// `quotactl_fd(2)` (Linux 5.14): the same number on every architecture with the unified syscall table.
const SYS_QUOTACTL_FD: libc::c_long = 443;
const PRJQUOTA: u32 = 2;
const Q_GETINFO: u32 = 0x80_0005;
const Q_SETQUOTA: u32 = 0x80_0008;
/// `dqb_valid` bit: the block limits are being set.
const QIF_BLIMITS: u32 = 1;
/// Block limits are counted in these.
const QIF_DQBLKSIZE: u64 = 1024;
const FS_IOC_FSGETXATTR: libc::c_ulong = 0x801c_581f;
const FS_IOC_FSSETXATTR: libc::c_ulong = 0x401c_5820;
const FS_XFLAG_PROJINHERIT: u32 = 0x200;

/// `struct fsxattr` of linux/fs.h.
#[repr(C)]
#[derive(Default)]
struct FsXattr {
    xflags: u32,
    extsize: u32,
    nextents: u32,
    projid: u32,
    cowextsize: u32,
    pad: [u8; 8],
}

/// `struct if_dqinfo`.
#[repr(C)]
#[derive(Default)]
struct DqInfo {
    bgrace: u64,
    igrace: u64,
    flags: u32,
    valid: u32,
}

/// What became of a volume's size.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "quota")]
pub enum Enforcement {
    /// A project quota of this many bytes, project id `project`.
    Enforced { bytes: u64, project: u32 },
    /// Not enforced, and why (e.g. the filesystem is not mounted with project quotas).
    NotEnforced { why: String },
}

fn qcmd(cmd: u32) -> libc::c_int {
    ((cmd << 8) | PRJQUOTA) as libc::c_int
}

fn quotactl(dir: &File, cmd: u32, id: u32, data: *mut libc::c_void) -> io::Result<()> {
    // SAFETY: quotactl_fd reads or writes only `data`, which points at a live struct of the type `cmd` takes.
    let r = unsafe { libc::syscall(SYS_QUOTACTL_FD, dir.as_raw_fd(), qcmd(cmd), id, data) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn xattr(dir: &File, request: libc::c_ulong, x: &mut FsXattr) -> io::Result<()> {
    // SAFETY: both requests take a `struct fsxattr`, which `x` is, and touch nothing else.
    let r = unsafe { libc::ioctl(dir.as_raw_fd(), request, x as *mut FsXattr) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Limit the tree at `dir` to `bytes`, or say why it cannot be.
pub fn limit(dir: &Path, bytes: u64) -> Enforcement {
    match try_limit(dir, bytes) {
        Ok(project) => Enforcement::Enforced { bytes, project },
        Err(why) => Enforcement::NotEnforced { why },
    }
}

fn try_limit(dir: &Path, bytes: u64) -> Result<u32, String> {
    let f = File::open(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut info = DqInfo::default();
    quotactl(&f, Q_GETINFO, 0, (&mut info as *mut DqInfo).cast()).map_err(|e| {
        format!(
            "the filesystem of {} has no project quotas (mount it with prjquota): {e}",
            dir.display()
        )
    })?;
    let ino = f
        .metadata()
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .ino();
    let project = u32::try_from(ino).map_err(|_| format!("inode {ino} is not a project id"))?;
    let mut x = FsXattr::default();
    xattr(&f, FS_IOC_FSGETXATTR, &mut x).map_err(|e| format!("project id: {e}"))?;
    x.projid = project;
    x.xflags |= FS_XFLAG_PROJINHERIT;
    xattr(&f, FS_IOC_FSSETXATTR, &mut x).map_err(|e| format!("project id: {e}"))?;
    // SAFETY: dqblk is plain integers; all zero is a valid value.
    let mut q: libc::dqblk = unsafe { std::mem::zeroed() };
    q.dqb_bhardlimit = bytes.div_ceil(QIF_DQBLKSIZE);
    q.dqb_bsoftlimit = q.dqb_bhardlimit;
    q.dqb_valid = QIF_BLIMITS;
    quotactl(&f, Q_SETQUOTA, project, (&mut q as *mut libc::dqblk).cast())
        .map_err(|e| format!("setting the project quota: {e}"))?;
    Ok(project)
}
