//! Staging: every blob and layer is built in `staging/<pid>-<n>` and only renamed into place once verified.
//! A `Staging` removes its directory when dropped unless committed, so errors and panics leave nothing behind;
//! after a kill -9, the next `Store::open` removes directories whose process is gone. Knows nothing of the
//! `Store`: it works in the staging directory it is given.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{IoContext, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub struct Staging {
    path: PathBuf,
    keep: bool,
}

impl Staging {
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Called after its content was renamed away: nothing left to delete.
    pub(crate) fn disarm(mut self) {
        self.keep = true;
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.keep {
            let _ = remove_tree(&self.path);
        }
    }
}

/// Removes a tree even if a layer made directories read-only inside it.
pub(crate) fn remove_tree(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            make_writable(path);
            std::fs::remove_dir_all(path)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(md) = std::fs::symlink_metadata(path) {
        if md.is_dir() {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
            if let Ok(rd) = std::fs::read_dir(path) {
                for e in rd.flatten() {
                    make_writable(&e.path());
                }
            }
        }
    }
}

impl Staging {
    /// A fresh directory for this process in `staging_dir` (the store's `staging/`).
    pub(crate) fn create(staging_dir: &Path) -> Result<Staging> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = staging_dir.join(format!("{}-{n}", std::process::id()));
        let _ = remove_tree(&path);
        std::fs::create_dir(&path).at(&path)?;
        Ok(Staging { path, keep: false })
    }
}

/// Removes the work in `staging_dir` of processes that are gone (a kill -9 in the middle of a pull).
pub(crate) fn clean(staging_dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(staging_dir).at(staging_dir)?.flatten() {
        let name = e.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.split('-').next())
            .and_then(|p| p.parse::<i32>().ok());
        let alive = pid.is_some_and(|p| {
            p as u32 == std::process::id() || Path::new(&format!("/proc/{p}")).exists()
        });
        if !alive {
            remove_tree(&e.path()).at(e.path())?;
        }
    }
    Ok(())
}
