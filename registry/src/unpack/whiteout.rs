//! OCI whiteouts (`.wh.<name>`) and opaque markers (`.wh..wh..opq`), in both forms:
//!
//! - [`Mode::Overlay`]: kept for overlayfs — a 0/0 character device named `<name>`, and
//!   `trusted.overlay.opaque=y` on the directory.
//! - [`Mode::Merge`]: applied — `<name>` is deleted, and the directory loses every child that came from
//!   a lower layer.
//!
//! In both, per the OCI image spec, a whiteout only hides lower layers: an entry of the same layer with
//! that name stays (whichever comes first in the tar). This keeps the two forms equal once mounted,
//! which is what lets the overlay and copy provisioner backends agree.

use std::collections::HashSet;
use std::io;

use rustix::fs::FileType;

use super::fsops::{self, Tree};
use super::limits::TRACK_OVERHEAD;
use super::meta;
use super::mode::Mode;
use super::name::split;

/// The paths a layer created so far (and their ancestors). Merge mode only: there the target already
/// holds lower layers, and whiteouts must tell theirs from ours.
#[derive(Default)]
pub(crate) struct Created {
    paths: HashSet<Vec<u8>>,
}

impl Created {
    /// Records `path` and its ancestors; returns the memory newly used (for `max_tracked_bytes`). If a
    /// path is present so are its ancestors, so the walk up stops at the first known one.
    pub(crate) fn note(&mut self, path: &[u8]) -> usize {
        if self.paths.contains(path) {
            return 0;
        }
        let mut added = path.len() + TRACK_OVERHEAD;
        self.paths.insert(path.to_vec());
        let mut p = path;
        while let Some(i) = p.iter().rposition(|&b| b == b'/') {
            p = &p[..i];
            if !self.paths.insert(p.to_vec()) {
                break;
            }
            added += p.len() + TRACK_OVERHEAD;
        }
        added
    }

    pub(crate) fn contains(&self, path: &[u8]) -> bool {
        self.paths.contains(path)
    }
}

/// `parent/.wh.<name>`; `path` is `parent/<name>`.
pub(crate) fn whiteout(
    tree: &mut Tree,
    mode: Mode,
    created: Option<&Created>,
    path: &[u8],
) -> io::Result<()> {
    let (parent, name) = split(path);
    match mode {
        Mode::Overlay => {
            let dir = tree.parent(parent)?;
            // Anything already there was written by this layer (the layer dir starts empty): it stays.
            match rustix::fs::mknodat(
                dir,
                name,
                FileType::CharacterDevice,
                rustix::fs::Mode::empty(),
                0,
            ) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
                Err(e) => Err(e.into()),
            }
        }
        Mode::Merge => {
            if created.is_some_and(|c| c.contains(path)) {
                return Ok(());
            }
            let Some(dir) = tree.existing_dir(parent)? else {
                return Ok(());
            };
            let old = fsops::remove(dir, name)?;
            if fsops::structural(old) {
                tree.invalidate();
            }
            Ok(())
        }
    }
}

/// `dir/.wh..wh..opq`. The directory is created if missing (it exists in this layer, even if the tar
/// does not list it). Returns the memory newly used to remember paths (merge mode).
pub(crate) fn opaque(
    tree: &mut Tree,
    mode: Mode,
    created: Option<&mut Created>,
    dir: &[u8],
) -> io::Result<usize> {
    match mode {
        Mode::Overlay => meta::set_opaque(tree.parent(dir)?).map(|()| 0),
        Mode::Merge => {
            tree.parent(dir)?;
            let Some(created) = created else {
                return Err(io::Error::other(
                    "merge mode without a record of created paths",
                ));
            };
            let added = if dir.is_empty() { 0 } else { created.note(dir) };
            clear_lower(tree, created, dir)?;
            Ok(added)
        }
    }
}

/// Deletes everything under `dir` this layer did not create. Directories this layer did create (or
/// wrote into) are descended into, since lower entries inside them are hidden too. Breadth-first with
/// a worklist: no recursion, one directory fd at a time.
fn clear_lower(tree: &mut Tree, created: &Created, dir: &[u8]) -> io::Result<()> {
    let mut work = vec![dir.to_vec()];
    let mut names: Vec<(Vec<u8>, FileType)> = Vec::new();
    let mut child = Vec::new();
    while let Some(path) = work.pop() {
        let fd = tree.open_dir(&path)?;
        names.clear();
        for ent in rustix::fs::Dir::read_from(&fd)? {
            let ent = ent?;
            let n = ent.file_name().to_bytes();
            if n != b"." && n != b".." {
                names.push((n.to_vec(), ent.file_type()));
            }
        }
        let mut removed_structure = false;
        for (n, kind) in &names {
            child.clear();
            if !path.is_empty() {
                child.extend_from_slice(&path);
                child.push(b'/');
            }
            child.extend_from_slice(n);
            if created.contains(&child) {
                let is_dir = match kind {
                    FileType::Unknown => is_dir_at(&fd, n)?,
                    k => *k == FileType::Directory,
                };
                if is_dir {
                    work.push(child.clone());
                }
            } else {
                removed_structure |=
                    fsops::structural(fsops::remove(std::os::fd::AsFd::as_fd(&fd), n)?);
            }
        }
        if removed_structure {
            tree.invalidate();
        }
    }
    Ok(())
}

fn is_dir_at(fd: &std::os::fd::OwnedFd, name: &[u8]) -> io::Result<bool> {
    let st = rustix::fs::statat(fd, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)?;
    Ok(FileType::from_raw_mode(st.st_mode) == FileType::Directory)
}
