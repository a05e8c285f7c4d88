//! One pull of an image at a time per store: launches that pull the same image (a pod's members, each made by a
//! process of its own; an agent's tasks started together) take this lock before pulling. The ones that waited
//! find the image complete and pull nothing: one that needs the image only present takes whatever is there, a
//! forced one (`forcePull`) only an image whose pull ended after it asked (`Images::pull_once`). Mesos joins a
//! pull under way of the same name whatever the request (`StoreProcess::_get`, provisioner/docker/store.cpp:
//! cached or not, any credentials); a forced pull here joins only one that ends after it asked. Without it each
//! would pull the whole image, and the store would keep one of the identical copies. A lock file per reference
//! under `<store>/pulling`, named by the SHA-256 of the reference; the kernel drops the lock when its holder
//! ends, killed or not, so a crashed pull never blocks the next.

use std::fs::{File, OpenOptions};
use std::path::Path;

use rustix::fs::{flock, FlockOperation};
use sha2::{Digest, Sha256};

use super::error::{ImageError, Result};

/// Blocks until this process holds the lock of `reference` in the store at `store_dir`; held until dropped.
pub fn hold(store_dir: &Path, reference: &str) -> Result<File> {
    let dir = store_dir.join("pulling");
    std::fs::create_dir_all(&dir).map_err(|e| ImageError::Io {
        path: dir.clone(),
        source: e,
    })?;
    let path = dir.join(format!(
        "{}.lock",
        hex::encode(Sha256::digest(reference.as_bytes()))
    ));
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| ImageError::Io {
            path: path.clone(),
            source: e,
        })?;
    flock(&f, FlockOperation::LockExclusive).map_err(|e| ImageError::Io {
        path,
        source: e.into(),
    })?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_second_holder_of_the_same_reference_waits_for_the_first_and_others_do_not() {
        let t = tempfile::tempdir().expect("tempdir");
        let first = hold(t.path(), "reg/a:1").expect("lock");
        // Another reference is not held up.
        drop(hold(t.path(), "reg/b:1").expect("other lock"));
        let dir = t.path().to_path_buf();
        let second = std::thread::spawn(move || hold(&dir, "reg/a:1").map(drop));
        std::thread::sleep(Duration::from_millis(200));
        assert!(!second.is_finished(), "the second holder did not wait");
        drop(first);
        second
            .join()
            .expect("thread")
            .expect("lock after the first");
    }
}
