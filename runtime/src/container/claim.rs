//! Claiming a container id: its runtime directory appears whole, with the request and the first state in it,
//! or not at all. The directory is made and filled under `<runtime-dir>/claims/<pid>.<n>`, then renamed into
//! place; the rename fails when the id's directory exists with anything in it, which is the claim's lock.
//!
//! Why not `mkdir` of the id's directory, then the files: a launch killed between the two left an empty
//! directory that no record names, so the id stayed "in use" for every later launch while `rm` answered "no
//! such container". A claim killed here leaves its directory under `claims/` instead, which the next claim
//! removes once its process is gone.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use serde::Serialize;

use super::checkpoint::{unique, write_json};
use super::error::{ContainerError, Result};
use super::paths::Paths;

/// Make the runtime directory of `id` with `files` (name and value, written as checkpoints) in it, or fail
/// with `InUse` when the id has one already.
pub fn claim(paths: &Paths, id: &str, files: &[(&str, &dyn ErasedJson)]) -> Result<()> {
    let claims = paths.claims();
    fs::create_dir_all(&claims).map_err(|e| ContainerError::io(&claims, e))?;
    remove_abandoned(&claims);
    let tmp = claims.join(unique());
    let made = fs::create_dir(&tmp).or_else(|e| match e.kind() {
        // Left by a process that had this pid before: not ours to keep.
        ErrorKind::AlreadyExists => fs::remove_dir_all(&tmp).and_then(|()| fs::create_dir(&tmp)),
        _ => Err(e),
    });
    made.map_err(|e| ContainerError::io(&tmp, e))?;
    let made = files
        .iter()
        .try_for_each(|(name, v)| v.write(&tmp.join(name)))
        .and_then(|()| {
            let dir = paths.runtime(id);
            fs::rename(&tmp, &dir).map_err(|e| match e.raw_os_error() {
                Some(libc::ENOTEMPTY | libc::EEXIST) => ContainerError::InUse(id.to_string()),
                _ => ContainerError::io(&dir, e),
            })
        });
    if made.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    made
}

/// A value written as a JSON checkpoint (`write_json`), of any type.
pub trait ErasedJson {
    fn write(&self, path: &Path) -> Result<()>;
}

impl<T: Serialize> ErasedJson for T {
    fn write(&self, path: &Path) -> Result<()> {
        write_json(path, self)
    }
}

/// Remove the directories of claims whose process is gone (killed before its rename).
fn remove_abandoned(claims: &Path) {
    let Ok(rd) = fs::read_dir(claims) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.split('.').next())
            .and_then(|p| p.parse::<i32>().ok());
        let gone = pid.is_some_and(|pid| {
            // SAFETY: kill(2) with signal 0 only checks that the process exists.
            let r = unsafe { libc::kill(pid, 0) };
            r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        });
        if gone {
            match fs::remove_dir_all(e.path()) {
                Ok(()) => {}
                Err(err) if err.kind() == ErrorKind::NotFound => {}
                Err(err) => {
                    tracing::warn!(path = %e.path().display(), error = %err, "an abandoned claim")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_appears_whole_once_and_an_abandoned_one_is_removed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(tmp.path().join("root"), tmp.path().join("run"));
        fs::create_dir_all(paths.containers()).expect("containers dir");
        // An empty directory left by a launch of an older ucr killed after its mkdir: taken over.
        fs::create_dir(paths.runtime("c1")).expect("empty dir");
        claim(&paths, "c1", &[("state.json", &"first")]).expect("claim");
        assert_eq!(
            fs::read_to_string(paths.runtime("c1").join("state.json")).expect("state"),
            "\"first\""
        );
        let again = claim(&paths, "c1", &[("state.json", &"second")]);
        assert!(matches!(again, Err(ContainerError::InUse(_))), "{again:?}");
        // A claim whose process is gone (pid 2^22 + 1 is above any pid_max).
        let abandoned = paths.claims().join("4194305.0");
        fs::create_dir_all(&abandoned).expect("abandoned claim");
        claim(&paths, "c2", &[("state.json", &1)]).expect("claim c2");
        assert!(!abandoned.exists(), "the abandoned claim is left");
        let left: Vec<_> = fs::read_dir(paths.claims()).expect("claims").collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
