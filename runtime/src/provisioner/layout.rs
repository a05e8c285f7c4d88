//! Container ids and the per-container directory `<root>/<id>` every backend keeps its state in.
//!
//! The directory is the unit of ownership: `provision` claims it with an exclusive `mkdir`, `destroy`
//! removes it, `list` reports the ones present. Names under `root` that cannot be container ids (they hold
//! a space) are the provisioner's own files, such as the probe cache, and are never listed.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, Mode};
use rustix::io::Errno;

use super::error::ProvisionError;
use super::remove::{self, DIR_FLAGS};

/// Longest id: one directory name (`NAME_MAX`). Ids are at most 242 characters in practice.
const MAX_ID_BYTES: usize = 255;

/// Mode of `<root>/<id>`: others may traverse it to reach the rootfs (a user-namespaced container's root
/// is "other" here) but not list which containers exist.
const CONTAINER_DIR_MODE: u32 = 0o711;

/// Checks that `id` names exactly one directory entry: not empty, not `.`/`..`, no `/`, NUL, space or
/// control character, at most 255 bytes.
pub(crate) fn check_id(id: &str) -> Result<(), ProvisionError> {
    let why = if id.is_empty() {
        Some("empty")
    } else if id == "." || id == ".." {
        Some("`.` and `..` are not ids")
    } else if id.len() > MAX_ID_BYTES {
        Some("longer than 255 bytes")
    } else if id.contains('/') {
        Some("contains `/`")
    } else if id.chars().any(|c| c == ' ' || c.is_control()) {
        Some("contains a space or a control character")
    } else {
        None
    };
    match why {
        Some(why) => Err(ProvisionError::InvalidId {
            id: id.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

/// Opens (creating it and its parents if needed) the provisioner root.
pub(crate) fn open_root(root: &Path) -> Result<OwnedFd, ProvisionError> {
    match rfs::open(root, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(ProvisionError::io("opening", root, e.into())),
    }
    std::fs::create_dir_all(root).map_err(|e| ProvisionError::io("creating", root, e))?;
    rfs::open(root, DIR_FLAGS, Mode::empty())
        .map_err(|e| ProvisionError::io("opening", root, e.into()))
}

/// Claims `<root>/<id>` for a new provision and returns it opened, with its path.
pub(crate) fn create(root: &Path, id: &str) -> Result<(OwnedFd, PathBuf), ProvisionError> {
    check_id(id)?;
    let rootfd = open_root(root)?;
    let path = root.join(id);
    match rfs::mkdirat(&rootfd, id, Mode::from_raw_mode(0o700)) {
        Ok(()) => {}
        Err(Errno::EXIST) => {
            return Err(ProvisionError::AlreadyExists {
                id: id.to_string(),
                path,
            })
        }
        Err(e) => return Err(ProvisionError::io("creating", path, e.into())),
    }
    let fd = rfs::openat(&rootfd, id, DIR_FLAGS, Mode::empty())
        .map_err(|e| ProvisionError::io("opening", &path, e.into()))?;
    // Explicit, so the process umask does not decide who may traverse it.
    rfs::fchmod(&fd, Mode::from_raw_mode(CONTAINER_DIR_MODE))
        .map_err(|e| ProvisionError::io("chmod", &path, e.into()))?;
    Ok((fd, path))
}

/// Creates the directory `name` in `dir` (at `dir_path`) with exactly `mode`, and opens it.
pub(crate) fn subdir(
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
    mode: u32,
) -> Result<OwnedFd, ProvisionError> {
    let path = || dir_path.join(name);
    rfs::mkdirat(dir, name, Mode::from_raw_mode(mode))
        .map_err(|e| ProvisionError::io("creating", path(), e.into()))?;
    let fd = rfs::openat(dir, name, DIR_FLAGS, Mode::empty())
        .map_err(|e| ProvisionError::io("opening", path(), e.into()))?;
    rfs::fchmod(&fd, Mode::from_raw_mode(mode))
        .map_err(|e| ProvisionError::io("chmod", path(), e.into()))?;
    Ok(fd)
}

/// Creates the directory `name` in `dir` (at `dir_path`) with exactly `mode` and, if given, owner, without
/// opening it.
pub(crate) fn mkdir(
    dir: &OwnedFd,
    dir_path: &Path,
    name: &str,
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<(), ProvisionError> {
    let path = || dir_path.join(name);
    rfs::mkdirat(dir, name, Mode::from_raw_mode(0o700))
        .map_err(|e| ProvisionError::io("creating", path(), e.into()))?;
    // The directory was just created by us in a directory nobody else writes to: nothing for these
    // path-based calls to follow. Owner first: chown may clear set-id bits.
    if let Some((uid, gid)) = owner {
        rfs::chownat(
            dir,
            name,
            Some(rfs::Uid::from_raw(uid)),
            Some(rfs::Gid::from_raw(gid)),
            rfs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(|e| ProvisionError::io("chown", path(), e.into()))?;
    }
    rfs::chmodat(dir, name, Mode::from_raw_mode(mode), rfs::AtFlags::empty())
        .map_err(|e| ProvisionError::io("chmod", path(), e.into()))
}

/// Removes `<root>/<id>` and everything in it; nothing there (or no root at all) is fine.
pub(crate) fn remove(root: &Path, id: &str) -> Result<(), ProvisionError> {
    check_id(id)?;
    let rootfd = match rfs::open(root, DIR_FLAGS, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(()),
        Err(e) => return Err(ProvisionError::io("opening", root, e.into())),
    };
    remove::remove_at(&rootfd, id.as_bytes())
        .map(|_| ())
        .map_err(|e| ProvisionError::io("removing", root.join(id), e))
}

/// The ids with a directory under `root`, sorted.
pub(crate) fn list(root: &Path) -> Result<Vec<String>, ProvisionError> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ProvisionError::io("listing", root, e)),
    };
    let mut ids = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| ProvisionError::io("listing", root, e))?;
        let is_dir = ent
            .file_type()
            .map_err(|e| ProvisionError::io("listing", ent.path(), e))?
            .is_dir();
        // A name that is not UTF-8 or not a valid id was not made by `create`.
        match std::str::from_utf8(ent.file_name().as_bytes()) {
            Ok(id) if is_dir && check_id(id).is_ok() => ids.push(id.to_string()),
            _ => {}
        }
    }
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::check_id;

    #[test]
    fn ids() {
        for ok in ["a", "a:b@c+d=e", ".hidden", "x\\y,z", &"i".repeat(242)] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a b",
            "a\nb",
            "a\u{7f}",
            &"i".repeat(256),
        ] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }
}
