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
/// giving each directory it creates to the task's user.
fn make_dirs(base: &Path, rel: &Path, uid: u32, gid: u32) -> Result<()> {
    let mut at = base.to_path_buf();
    for comp in rel.components() {
        at.push(comp);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(IsolatorError::invalid(
                    NAME,
                    format!("{} exists and is not a directory", at.display()),
                ))
            }
            Err(_) => {
                std::fs::create_dir(&at).map_err(|e| IsolatorError::io(&at, e))?;
                std::os::unix::fs::chown(&at, Some(uid), Some(gid))
                    .map_err(|e| IsolatorError::io(&at, e))?;
            }
        }
    }
    Ok(())
}
