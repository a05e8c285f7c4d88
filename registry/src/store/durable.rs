//! Durability of commits: every commit in the store is write in staging, fsync, rename, and then an fsync of
//! the directory the rename happened in, without which the rename itself may not survive a crash. Shared by
//! the blob, layer and image record writers.

use std::fs::File;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Writes `record` as JSON to `dir/name`, then one syncfs makes every file under `dir` durable (cheaper than
/// an fsync per file): what a staging directory needs before it is renamed into the store.
pub(crate) fn seal(dir: &Path, name: &str, record: &impl serde::Serialize) -> Result<()> {
    let path = dir.join(name);
    let json = serde_json::to_vec_pretty(record).map_err(|e| crate::error::Error::Store {
        path: path.clone(),
        why: e.to_string(),
    })?;
    std::fs::write(&path, json).at(&path)?;
    let f = File::open(dir).at(dir)?;
    rustix::fs::syncfs(std::os::fd::AsFd::as_fd(&f))
        .map_err(|e| crate::error::Error::io(dir, e.into()))
}

/// fsync a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).at(dir)
}
