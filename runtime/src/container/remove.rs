//! `rm`: removing what a container leaves after it exited (its runtime dir with the checkpoints, and its work dir
//! with the sandbox).

use std::io::ErrorKind;

use super::error::{ContainerError, Result};
use super::paths::Paths;

/// Remove the runtime and work dirs of `id`. The runtime dir goes last: while it exists, the id stays claimed.
pub fn remove_files(paths: &Paths, id: &str) -> Result<()> {
    for dir in [paths.work(id), paths.runtime(id)] {
        let mut passes = 0;
        loop {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == ErrorKind::NotFound => break,
                // Another process wrote into it during the pass: a pod's `rm` and its member's, at once, each
                // remove the member while its supervisor checkpoints its end. What it wrote goes next pass.
                Err(e) if e.kind() == ErrorKind::DirectoryNotEmpty && passes < RACED_PASSES => {
                    passes += 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => return Err(ContainerError::io(&dir, e)),
            }
        }
    }
    Ok(())
}

/// Passes of a removal that found a directory written into meanwhile, before it gives up.
const RACED_PASSES: u32 = 20;
