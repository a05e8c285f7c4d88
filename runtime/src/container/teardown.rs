//! Teardown of a container's live parts, the same whether the task ended by itself, was killed, never started,
//! or its supervisor died: kill every process left in its cgroups, remove the cgroups, let the isolators clean
//! up, let the provisioner unmount and remove the rootfs, and delete the secret volumes' files. Each step tolerates what
//! an earlier crash left half done, so it can run again. The sandbox is not touched (it stays until `rm`).

use std::path::Path;

use super::error::{ContainerError, Result};
use super::isolation;
use super::paths::Paths;
use super::state::ContainerState;
use crate::provisioner;

pub fn teardown(paths: &Paths, store_dir: &Path, st: &ContainerState) -> Result<()> {
    let mut first_err: Option<ContainerError> = None;
    let mut keep = |r: Result<()>| {
        if let Err(e) = r {
            tracing::warn!("{e}");
            first_err.get_or_insert(e);
        }
    };
    // Every process killed and the cgroup removed, then the isolators undo what they set up (network namespace
    // and CNI, ...), in reverse order, each tolerating a partial prepare.
    keep(destroy_isolated(paths, st));
    keep(destroy_rootfs(paths, store_dir, st));
    // A pod's /dev/shm and namespaces, once its members are gone (they are torn down before their parent).
    keep(remove_pod_shm(paths, &st.id));
    keep(super::pod_ns::remove(&st.id, &paths.pod_ns(&st.id)));
    // Secret volumes' files: no longer needed by anyone once the task is gone.
    let secrets = paths.secrets_dir(&st.id);
    match std::fs::remove_dir_all(&secrets) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => keep(Err(ContainerError::io(&secrets, e))),
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn destroy_isolated(paths: &Paths, st: &ContainerState) -> Result<()> {
    let isolators = isolation::isolators(st)?;
    let places = isolation::Places::of(paths, st);
    isolators
        .destroy(&places.container())
        .map_err(|e| isolation::isolator_err(&st.id, e))
}

fn destroy_rootfs(paths: &Paths, store_dir: &Path, st: &ContainerState) -> Result<()> {
    let keys = super::paths::rootfs_keys(&st.id, st.volume_images.len());
    let Some(name) = st.backend.as_deref() else {
        // Never provisioned, or the backend was not recorded before a crash: try every backend; each tolerates
        // an unknown id.
        for name in ["overlay", "copy"] {
            if let Ok(b) = provisioner::select(Some(name), &paths.provisioner(), store_dir) {
                keys.iter().try_for_each(|k| b.destroy(k))?;
            }
        }
        return Ok(());
    };
    let backend = provisioner::select(Some(name), &paths.provisioner(), store_dir)?;
    keys.iter().try_for_each(|k| backend.destroy(k))?;
    Ok(())
}

/// Unmounts and removes a pod's /dev/shm; nothing to do for any other container.
fn remove_pod_shm(paths: &Paths, id: &str) -> Result<()> {
    let dir = paths.pod_shm(id);
    if !dir.exists() {
        return Ok(());
    }
    match rustix::mount::unmount(&dir, rustix::mount::UnmountFlags::DETACH) {
        Ok(()) | Err(rustix::io::Errno::INVAL) => {}
        Err(e) => return Err(ContainerError::io(&dir, e.into())),
    }
    std::fs::remove_dir(&dir).map_err(|e| ContainerError::io(&dir, e))
}
