//! The content-addressed image store under `--docker_store_dir`:
//! ```text
//! blobs/sha256/<hex>            compressed layers, configs, manifests — verified before they appear here
//! layers/sha256/<hex>/fs        one unpacked layer per diff_id, whiteouts in overlay form
//! layers/sha256/<hex>/layer.json  its record (diff_id, blob digest, sizes)
//! images/<sha256(reference)>.json image records: reference → manifest → config, layers
//! staging/<pid>-<n>/            work in progress; removed when its process is gone
//! lock                          flock: pulls share it, prune/rmi/check take it exclusively
//! ```
//! Every commit is write-in-staging, fsync, rename: a crash at any instant leaves either the old or the new
//! state visible, never a half-written blob, layer or record.

mod blobs;
mod check;
mod images;
mod layers;
mod materialize;
mod staging;

use std::fs::File;
use std::path::{Path, PathBuf};

pub use check::CheckReport;
pub use images::{ImageRecord, LayerRef};
pub use layers::LayerRecord;
pub use staging::Staging;

use crate::error::{Error, IoContext, Result};

pub struct Store {
    root: PathBuf,
}

/// Held for the duration of a pull (shared) or of a GC-like operation (exclusive).
pub struct StoreLock {
    _file: File,
}

impl Store {
    /// Opens (creating if needed) the store at `root` and removes staging work of processes that are gone.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        for d in ["blobs/sha256", "layers/sha256", "images", "staging"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).at(&p)?;
        }
        let store = Store { root };
        store.clean_staging()?;
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self, exclusive: bool) -> Result<StoreLock> {
        let path = self.root.join("lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .at(&path)?;
        let mode = if exclusive {
            rustix::fs::FlockOperation::LockExclusive
        } else {
            rustix::fs::FlockOperation::LockShared
        };
        rustix::fs::flock(&file, mode).map_err(|e| Error::io(&path, e.into()))?;
        Ok(StoreLock { _file: file })
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

/// fsync a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).at(dir)
}

/// Bytes used by a file tree (allocated blocks, as `du` counts them), not following symlinks.
pub(crate) fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = md.blocks() * 512;
    if md.is_dir() {
        if let Ok(rd) = std::fs::read_dir(path) {
            for e in rd.flatten() {
                total += disk_usage(&e.path());
            }
        }
    }
    total
}
