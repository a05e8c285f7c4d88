//! Durability of commits: every commit in the store is write in staging, fsync, rename, and then an fsync of
//! the directory the rename happened in, without which the rename itself may not survive a crash. Shared by
//! the blob, layer and image record writers.

use std::fs::File;
use std::path::Path;

use crate::error::{IoContext, Result};

/// fsync a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).at(dir)
}
