//! Mounting and unmounting a container's overlayfs.
//!
//! The layout is fixed: in the container dir `<id>/` (held open as `dir`), `upper/`, `work/` and the
//! mount point `rootfs/` already exist. Two ways to mount, chosen by kernel version:
//!
//! - **Linux 6.8 and later** (`Api::Fsconfig`): `fsopen("overlay")`, one `fsconfig(lowerdir+)` per layer,
//!   then `fsmount` and `move_mount` onto `rootfs` relative to `dir`. No option string is ever built, so
//!   the one-page (4096-byte) limit of `mount(2)`'s data, which `lowerdir=a:b:c` of a 60-layer image in a
//!   real store exceeds, does not apply; nor does overlay's `:`/`,`/`\` escaping. `fsconfig` takes
//!   strings of at most 255 bytes, though, so a longer path (a deep store, a 242-character container id)
//!   is handed over as an `O_PATH` fd (`FSCONFIG_SET_FD`, 6.13 and later) or, before that, as
//!   `/proc/self/fd/<n>` (a magic link the kernel's lookup follows), which is short whatever the path.
//! - **Older kernels** (`Api::Legacy`), which lack `lowerdir+`: one `mount(2)` with the absolute paths
//!   when they fit a page and hold none of `:`, `,`, `\` (most images). Otherwise symlinks `<id>/l/0`,
//!   `<id>/l/1`, … to the layers and one `mount(2)` with
//!   `lowerdir=0:1:…,upperdir=../upper,workdir=../work`, relative to `<id>/l`. That is about 4 bytes per
//!   layer, so even overlay's maximum stack (500) fits in a page, and no path needs escaping. The working
//!   directory is process-wide, so that mount runs on a short-lived thread that first unshares its
//!   filesystem context (`CLONE_FS`) and changes only its own cwd.
//!
//! Options, and why:
//! - `index=off`: sharing one lower between concurrent mounts works either way (checked on 6.18: two
//!   mounts of one lower with `index=on` both succeed). What `index=on` adds is exclusive-upper
//!   protection (`EBUSY`), a stamp of the lowers on the upper root (remounting it on other lowers fails
//!   with `ESTALE`) and origin/index xattrs written on copy-up. An upper here is private to one container
//!   and never remounted, so that is work for nothing; explicit so a host default (`overlay.index=Y`)
//!   cannot change behaviour.
//! - `volatile` (5.10+): overlay skips syncing the upper filesystem on `sync`/`fsync` and, more
//!   importantly, on unmount, which otherwise runs `syncfs` over the whole filesystem holding `root` at
//!   every destroy. The upper is thrown away at destroy and a container does not outlive a host crash,
//!   so its durability buys nothing (persistent data belongs in volumes, which are separate mounts).
//! - `userxattr` is not set: ucr runs as root in the initial user namespace, and the store marks opaque
//!   directories with `trusted.overlay.opaque`, which only the default (trusted) namespace reads.
//! - `redirect_dir`, `metacopy` stay at the kernel's defaults: the store drops any `trusted.overlay.*`
//!   attribute a layer carries, so no lower holds a redirect to follow, and both only change how the
//!   private upper is written.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::OnceLock;

use rustix::fs::{self as rfs, Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{self as rmount, FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags};
use rustix::mount::{MountFlags, UnmountFlags};

use super::error::ProvisionError;

/// How to mount; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    Fsconfig,
    Legacy,
}

/// `(major, minor)` of the running kernel, `(0, 0)` if unknown.
fn kernel() -> (u32, u32) {
    static K: OnceLock<(u32, u32)> = OnceLock::new();
    *K.get_or_init(|| {
        let s = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let mut it = s.trim().split(['.', '-']).map(|p| p.parse::<u32>().ok());
        match (it.next().flatten(), it.next().flatten()) {
            (Some(a), Some(b)) => (a, b),
            _ => (0, 0),
        }
    })
}

/// The API this kernel supports: `lowerdir+` arrived in 6.8.
pub(crate) fn api() -> Api {
    if kernel() >= (6, 8) {
        Api::Fsconfig
    } else {
        Api::Legacy
    }
}

/// Mounts overlayfs on `dir/rootfs` with `lowers` (topmost first), `dir/upper` and `dir/work`. `dir_path`
/// is `dir`'s path, used for paths handed to the kernel and in errors.
pub(crate) fn mount_overlay(
    api: Api,
    dir: &OwnedFd,
    dir_path: &Path,
    lowers: &[&Path],
) -> Result<(), ProvisionError> {
    match api {
        Api::Fsconfig => mount_fsconfig(dir, dir_path, lowers),
        Api::Legacy => mount_legacy(dir, dir_path, lowers),
    }
}

fn mount_fsconfig(dir: &OwnedFd, dir_path: &Path, lowers: &[&Path]) -> Result<(), ProvisionError> {
    let target = dir_path.join("rootfs");
    let fail = |step: String, fs: Option<&OwnedFd>, e: Errno| ProvisionError::Mount {
        target: target.clone(),
        step,
        kernel: fs.map(kernel_log).unwrap_or_default(),
        source: e.into(),
    };
    let fs = rmount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)
        .map_err(|e| fail("fsopen(overlay)".into(), None, e))?;
    for lower in lowers {
        set_dir(&fs, "lowerdir+", lower, false)
            .map_err(|e| fail(format!("lowerdir+ {}", lower.display()), Some(&fs), e))?;
    }
    for (key, name) in [("upperdir", "upper"), ("workdir", "work")] {
        let path = dir_path.join(name);
        set_dir(&fs, key, &path, true)
            .map_err(|e| fail(format!("{key} {}", path.display()), Some(&fs), e))?;
    }
    rmount::fsconfig_set_string(&fs, "index", "off")
        .map_err(|e| fail("index=off".into(), Some(&fs), e))?;
    rmount::fsconfig_set_flag(&fs, "volatile")
        .map_err(|e| fail("volatile".into(), Some(&fs), e))?;
    rmount::fsconfig_create(&fs).map_err(|e| fail("create".into(), Some(&fs), e))?;
    let mnt = rmount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())
        .map_err(|e| fail("fsmount".into(), Some(&fs), e))?;
    rmount::move_mount(
        &mnt,
        "",
        dir,
        "rootfs",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(|e| fail("move_mount".into(), None, e))
}

/// Sets the directory parameter `key` to `path`. Paths that fit `fsconfig`'s 255-byte strings go as
/// they are (and show as such in mountinfo); `upperdir`/`workdir` strings are also unescaped by
/// overlay, so with `escaped` a path holding `\` is never passed as a string either.
fn set_dir(fs: &OwnedFd, key: &str, path: &Path, escaped: bool) -> rustix::io::Result<()> {
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() <= 255 && !(escaped && bytes.contains(&b'\\')) {
        return rmount::fsconfig_set_string(fs, key, path);
    }
    let fd = rfs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    match rmount::fsconfig_set_fd(fs, key, &fd) {
        // Before 6.13 overlay takes strings only; the magic link resolves to `fd`'s directory while the
        // fd is open, which it is until this call returns.
        Err(Errno::INVAL) => {
            let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
            rmount::fsconfig_set_string(fs, key, link.as_str())
        }
        r => r,
    }
}

/// The messages overlayfs logged on the fs context (why `create` failed), as `; kernel: …`.
fn kernel_log(fs: &OwnedFd) -> String {
    let mut out = String::new();
    let mut buf = [0u8; 1024];
    for _ in 0..16 {
        match rustix::io::read(fs, &mut buf) {
            Ok(n) if n > 0 => {
                out.push_str(if out.is_empty() { "; kernel: " } else { "; " });
                out.push_str(String::from_utf8_lossy(&buf[..n]).trim_end());
            }
            _ => break,
        }
    }
    out
}

/// The `lowerdir=…,upperdir=…,workdir=…` string of absolute paths, if it fits a page and no path holds a
/// character overlay's option parsing treats specially.
fn absolute_options(dir_path: &Path, lowers: &[&Path]) -> Option<String> {
    let plain = |p: &Path| -> Option<String> {
        let p = std::path::absolute(p).ok()?.to_str()?.to_string();
        (!p.contains([':', ',', '\\', '\n'])).then_some(p)
    };
    let mut data = String::from("lowerdir=");
    for (i, lower) in lowers.iter().enumerate() {
        if i > 0 {
            data.push(':');
        }
        data.push_str(&plain(lower)?);
    }
    let dir = plain(dir_path)?;
    data.push_str(&format!(",upperdir={dir}/upper,workdir={dir}/work"));
    // A page with room for the options `legacy_options` appends and the NUL.
    (data.len() + 32 < 4096).then_some(data)
}

/// `index=off` and `volatile` where the kernel knows them (unknown options fail the mount).
fn legacy_options(data: &mut String) {
    if kernel() >= (4, 13) {
        data.push_str(",index=off");
    }
    if kernel() >= (5, 10) {
        data.push_str(",volatile");
    }
}

fn mount_legacy(dir: &OwnedFd, dir_path: &Path, lowers: &[&Path]) -> Result<(), ProvisionError> {
    let target = dir_path.join("rootfs");
    let fail = |step: String, source: io::Error| ProvisionError::Mount {
        target: target.clone(),
        step,
        kernel: String::new(),
        source,
    };
    let layers = lowers.len();
    let options = |mut data: String| {
        legacy_options(&mut data);
        std::ffi::CString::new(data).map_err(|e| {
            fail(
                "options".into(),
                io::Error::new(io::ErrorKind::InvalidInput, e),
            )
        })
    };
    // Most images' paths fit one page as they are: one mount(2), no links and no thread.
    if let Some(data) = absolute_options(dir_path, lowers) {
        let data = options(data)?;
        return rmount::mount("overlay", &target, "overlay", MountFlags::empty(), &*data)
            .map_err(|e| fail(format!("mount ({layers} layers)"), e.into()));
    }
    let links_path = dir_path.join("l");
    let links = super::layout::subdir(dir, dir_path, "l", 0o700)?;
    let mut data = String::from("lowerdir=");
    for (i, lower) in lowers.iter().enumerate() {
        // The links are resolved relative to `l/`, so a relative layer path must be made absolute.
        let abs = std::path::absolute(lower)
            .map_err(|e| ProvisionError::io("resolving", lower.to_path_buf(), e))?;
        let name = i.to_string();
        rfs::symlinkat(&abs, &links, name.as_str())
            .map_err(|e| ProvisionError::io("linking", links_path.join(&name), e.into()))?;
        if i > 0 {
            data.push(':');
        }
        data.push_str(&name);
    }
    data.push_str(",upperdir=../upper,workdir=../work");
    let data = options(data)?;
    let links = links.as_fd();
    let run = || -> Result<(), (&'static str, Errno)> {
        // SAFETY: only the filesystem context (cwd, root, umask) is unshared, on this thread alone,
        // which no other thread observes; the fd table stays shared.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }
            .map_err(|e| ("unshare(CLONE_FS)", e))?;
        rustix::process::fchdir(links).map_err(|e| ("chdir", e))?;
        rmount::mount(
            "overlay",
            "../rootfs",
            "overlay",
            MountFlags::empty(),
            data.as_c_str(),
        )
        .map_err(|e| ("mount", e))
    };
    match std::thread::scope(|s| s.spawn(run).join()) {
        Ok(Ok(())) => Ok(()),
        Ok(Err((step, e))) => Err(fail(format!("{step} ({layers} layers)"), e.into())),
        Err(_) => Err(fail(
            "mount thread".into(),
            io::Error::other("the mount thread panicked"),
        )),
    }
}

/// Unmounts everything stacked on `path`. A busy mount (a process still has its cwd or a file in it) is
/// detached lazily: it disappears from the tree now and is freed when the last user lets go.
/// Not a mount point, or not there at all, is success.
pub(crate) fn unmount_all(path: &Path) -> Result<(), ProvisionError> {
    // Bounded: a mount point cannot have more mounts stacked than this in any setup we make.
    for _ in 0..16 {
        match rmount::unmount(path, UnmountFlags::NOFOLLOW) {
            Ok(()) => continue,
            Err(Errno::INVAL | Errno::NOENT | Errno::NOTDIR) => return Ok(()),
            Err(Errno::BUSY) => {
                tracing::debug!(path = %path.display(), "busy; detaching lazily");
                rmount::unmount(path, UnmountFlags::NOFOLLOW | UnmountFlags::DETACH).map_err(
                    |e| ProvisionError::Unmount {
                        path: path.to_path_buf(),
                        source: e.into(),
                    },
                )?;
            }
            Err(e) => {
                return Err(ProvisionError::Unmount {
                    path: path.to_path_buf(),
                    source: e.into(),
                })
            }
        }
    }
    Err(ProvisionError::Unmount {
        path: path.to_path_buf(),
        source: io::Error::other("still mounted after 16 unmounts"),
    })
}
