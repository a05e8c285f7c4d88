//! `rm`: removing what a container leaves after it exited (its runtime dir with the checkpoints, and its work dir
//! with the sandbox).

use std::io::ErrorKind;

use super::error::{ContainerError, Result};
use super::paths::Paths;

/// Remove the runtime and work dirs of `id`. The runtime dir goes last: while it exists, the id stays claimed.
pub fn remove_files(paths: &Paths, id: &str) -> Result<()> {
    for dir in [paths.work(id), paths.runtime(id)] {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(ContainerError::io(&dir, e)),
        }
    }
    Ok(())
}
