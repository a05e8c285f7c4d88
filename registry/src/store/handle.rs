//! The `Store` handle: the store's root directory (every other file of `store` builds its paths from it),
//! opening (create the layout, clear staging left by dead processes), the staging directories it hands out,
//! and the store lock.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::staging::{self, Staging};
use crate::error::{Error, IoContext, Result};

pub struct Store {
    /// `pub(super)`: the other files of `store` (blobs, layers, images, check) add their methods to `Store`
    /// and lay their directories out under it.
    pub(super) root: PathBuf,
}

/// Held for the duration of a pull (shared) or of a GC-like operation (exclusive).
pub struct StoreLock {
    _file: File,
}

impl StoreLock {
    /// Takes the flock on `path` (created if missing): shared or exclusive. The AppC store locks the same way.
    pub fn open(path: &Path, exclusive: bool) -> Result<StoreLock> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .at(path)?;
        let mode = if exclusive {
            rustix::fs::FlockOperation::LockExclusive
        } else {
            rustix::fs::FlockOperation::LockShared
        };
        rustix::fs::flock(&file, mode).map_err(|e| Error::io(path, e.into()))?;
        Ok(StoreLock { _file: file })
    }
}

impl Store {
    /// Opens (creating if needed) the store at `root` and removes staging work of processes that are gone.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        for d in ["blobs/sha256", "layers/sha256", "images", "staging"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).at(&p)?;
        }
        staging::clean(&root.join("staging"))?;
        Ok(Store { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A fresh staging directory owned by this process.
    pub fn staging(&self) -> Result<Staging> {
        Staging::create(&self.root.join("staging"))
    }

    fn lock(&self, exclusive: bool) -> Result<StoreLock> {
        StoreLock::open(&self.root.join("lock"), exclusive)
    }

    /// Taken by pulls and loads: many may run at once.
    pub fn lock_shared(&self) -> Result<StoreLock> {
        self.lock(false)
    }

    /// Taken by prune, rmi and check: nothing else touches the store meanwhile.
    pub fn lock_exclusive(&self) -> Result<StoreLock> {
        self.lock(true)
    }
}
