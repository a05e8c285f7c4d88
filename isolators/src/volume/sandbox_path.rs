//! `volume/sandbox_path`: `SANDBOX_PATH` volumes of type SELF — a path in this container's own sandbox, made if
//! missing and owned by the task's user (so a non-root task can write to it), bound at `container_path`.
//! Type PARENT names the sandbox of a parent container: the runtime makes those host paths for a nested
//! container (with [`sandbox_dir`]), so one that reaches this isolator has no parent and is refused.

use std::path::{Component, Path};

use super::{bind, target};
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};
use crate::vocab::{VolumeMode, VolumeSource};

const NAME: &str = "volume/sandbox_path";

pub struct SandboxPath;

impl Isolator for SandboxPath {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        let mut out = Contribution::default();
        for v in r.volumes {
            let path = match &v.source {
                VolumeSource::SandboxSelf { path } => path,
                VolumeSource::SandboxParent { path } => {
                    return Err(IsolatorError::invalid(
                        NAME,
                        format!(
                        "volume {}: SANDBOX_PATH type PARENT ({path}) needs a parent container; \
                             this one is not nested",
                        v.container_path
                    ),
                    ))
                }
                VolumeSource::HostPath { .. } => continue,
            };
            let source = sandbox_dir(c.sandbox, path, &v.container_path, r.uid, r.gid)?;
            let rel = Path::new(path);
            let dest = target(NAME, c, v)?;
            // The same path seen read-write at its own place in the sandbox needs no mount of its own.
            if v.mode == VolumeMode::Ro || dest != Path::new(c.sandbox_in_container).join(rel) {
                out.mounts.push(bind(NAME, &source, &dest, v.mode)?);
            }
        }
        Ok(out)
    }
}

/// The directory `path` of sandbox `base` for the volume at `container_path`: `path` must be relative without
/// `..`; made (`make_dirs`) when missing. The runtime uses it for a nested container's PARENT volumes too.
pub fn sandbox_dir(
    base: &Path,
    path: &str,
    container_path: &str,
    uid: u32,
    gid: u32,
) -> Result<std::path::PathBuf> {
    let rel = Path::new(path);
    if path.is_empty() || rel.is_absolute() || rel.components().any(|c| c == Component::ParentDir) {
        return Err(IsolatorError::invalid(
            NAME,
            format!("volume {container_path}: sandbox path {path:?} must be relative without '..'"),
        ));
    }
    make_dirs(base, rel, uid, gid)?;
    Ok(base.join(rel))
}

/// mkdir -p of `rel` under `base`, refusing to follow a symlink the task may have planted in its sandbox, and
/// giving each directory it creates to the task's user. Another launch may make the same directories at the
/// same moment (a pod's members are made side by side, each mounting the pod's volumes): one that is there
/// already is fine when it is a directory.
fn make_dirs(base: &Path, rel: &Path, uid: u32, gid: u32) -> Result<()> {
    let mut at = base.to_path_buf();
    for comp in rel.components() {
        at.push(comp);
        match std::fs::create_dir(&at) {
            Ok(()) => std::os::unix::fs::chown(&at, Some(uid), Some(gid))
                .map_err(|e| IsolatorError::io(&at, e))?,
            // A symlink is not followed here: it exists, and is refused below.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(IsolatorError::io(&at, e)),
        }
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(IsolatorError::invalid(
                    NAME,
                    format!("{} exists and is not a directory", at.display()),
                ))
            }
            Err(e) => return Err(IsolatorError::io(&at, e)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launches_making_the_same_dirs_at_once_all_succeed() {
        let t = tempfile::tempdir().expect("tempdir");
        let base = t.path().to_path_buf();
        let made: Vec<_> = (0..8)
            .map(|_| {
                let base = base.clone();
                std::thread::spawn(move || sandbox_dir(&base, "volumes/shared/deep", "/data", 0, 0))
            })
            .collect();
        for m in made {
            let dir = m.join().expect("thread").expect("made");
            assert!(dir.is_dir());
        }
    }

    #[test]
    fn a_planted_symlink_is_refused_not_followed() {
        let t = tempfile::tempdir().expect("tempdir");
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).expect("mkdir");
        let base = t.path().join("sandbox");
        std::fs::create_dir(&base).expect("mkdir");
        std::os::unix::fs::symlink(&outside, base.join("volumes")).expect("symlink");
        let e = sandbox_dir(&base, "volumes/x", "/data", 0, 0).expect_err("symlink");
        assert!(e.to_string().contains("is not a directory"), "{e}");
        assert!(!outside.join("x").exists());
    }
}
