//! `pathWhitelist` (appc `spec/aci.md`): when an image names one, its rootfs holds exactly those paths, taken
//! from the image and its dependencies (the topmost that has each). Overlay cannot filter, so the filtered
//! tree is rendered once per image into the store's `rendered/<id>/rootfs` and used as its only layer.
//!
//! The layers are read through `confined` (a path resolves inside its layer as it would in the container),
//! so a symlink in a dependency can never make the rendering copy a host file.

use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::error::Result;
use super::store::AppcStore;
use crate::confined::{self, Kind};
use crate::error::IoContext;

/// The rendering of image `id` from `layers` (lowest first) filtered by `whitelist`: made unless there.
pub fn render(
    store: &AppcStore,
    id: &str,
    layers: &[PathBuf],
    whitelist: &[String],
) -> Result<PathBuf> {
    let dest = store.rendered(id);
    if dest.join("rootfs").is_dir() {
        return Ok(dest.join("rootfs"));
    }
    let staging = store.staging()?;
    let rootfs = staging.path().join("rootfs");
    std::fs::create_dir(&rootfs).at(&rootfs)?;
    let out = confined::open_root(&rootfs).at(&rootfs)?;
    let roots: Vec<_> = layers
        .iter()
        .rev()
        .map(|l| confined::open_root(l).at(l))
        .collect::<std::result::Result<_, _>>()?;
    for p in whitelist {
        let rel = confined::relative(Path::new(p)).at(p)?;
        for layer in &roots {
            if copy_one(layer.as_fd(), out.as_fd(), &rel).at(rootfs.join(&rel))? {
                break;
            }
        }
    }
    std::fs::rename(staging.path(), &dest).at(&dest)?;
    staging.disarm();
    Ok(dest.join("rootfs"))
}

/// Copies `rel` from `layer` to `out` if the layer has it; whether it had.
fn copy_one(
    layer: std::os::fd::BorrowedFd<'_>,
    out: std::os::fd::BorrowedFd<'_>,
    rel: &Path,
) -> io::Result<bool> {
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Ok(false);
    };
    let dir = match confined::open(layer, parent, OFlags::DIRECTORY | OFlags::RDONLY) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let st = match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(rustix::io::Errno::NOENT) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let to = match parent.as_os_str().is_empty() {
        true => confined::open(out, "", OFlags::PATH)?,
        false => confined::ensure(out, parent, Kind::Dir)?,
    };
    let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => match rustix::fs::mkdirat(&to, name, mode) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        },
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(&dir, name, Vec::new())?;
            rustix::fs::symlinkat(target.as_c_str(), &to, name)?;
        }
        FileType::RegularFile => {
            let src = rustix::fs::openat(
                &dir,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let dst = rustix::fs::openat(
                &to,
                name,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                mode,
            )?;
            io::copy(&mut std::fs::File::from(src), &mut std::fs::File::from(dst))?;
        }
        // Devices were refused at unpack; fifos and sockets are not worth carrying.
        _ => return Ok(true),
    }
    rustix::fs::chownat(
        &to,
        name,
        Some(rustix::process::Uid::from_raw(st.st_uid)),
        Some(rustix::process::Gid::from_raw(st.st_gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    if FileType::from_raw_mode(st.st_mode) != FileType::Symlink {
        rustix::fs::chmodat(&to, name, mode, AtFlags::empty())?;
    }
    Ok(true)
}
