//! The runtime's side of the isolators: the set a container was made with (from its checkpoint, never from the
//! current process's flags) and the `Container` context they work on, the same in the launcher, the supervisor,
//! a later `ucr rm`/`stats`/`update`, and the agent after a restart.

use std::path::PathBuf;

use ucr_isolators::{Container, Isolators, Request};

use super::error::{ContainerError, Result};
use super::paths::Paths;
use super::state::ContainerState;
use crate::spec::ContainerConfig;

/// The owned places of one container, from which an isolator `Container` is borrowed.
pub struct Places {
    pub id: String,
    pub cgroup: PathBuf,
    pub state_dir: PathBuf,
    pub sandbox: PathBuf,
    pub sandbox_in_container: String,
    pub rootfs: Option<PathBuf>,
    pub ephemeral: Vec<PathBuf>,
}

impl Places {
    pub fn of(paths: &Paths, st: &ContainerState) -> Places {
        Places {
            id: st.id.clone(),
            cgroup: PathBuf::from(&st.cgroup),
            state_dir: paths.runtime(&st.id),
            sandbox: PathBuf::from(&st.sandbox),
            sandbox_in_container: st.sandbox_directory.clone(),
            rootfs: st.rootfs.as_ref().map(PathBuf::from),
            ephemeral: ephemeral(paths, st),
        }
    }

    pub fn container(&self) -> Container<'_> {
        Container {
            id: &self.id,
            cgroup: &self.cgroup,
            state_dir: &self.state_dir,
            sandbox: &self.sandbox,
            sandbox_in_container: &self.sandbox_in_container,
            rootfs: self.rootfs.as_deref(),
            ephemeral: &self.ephemeral,
        }
    }
}

/// What a container writes that its `disk` counts: its work directory (its sandbox and, below it, its nested
/// containers' sandboxes) and its root filesystem's writable part.
fn ephemeral(paths: &Paths, st: &ContainerState) -> Vec<PathBuf> {
    let mut out = vec![paths.work(&st.id)];
    if let Some(rootfs) = &st.rootfs {
        let backend = st.backend.as_deref();
        out.extend(crate::provisioner::writable(
            backend,
            std::path::Path::new(rootfs),
        ));
    }
    out
}

/// The isolators recorded in the container's state.
pub fn isolators(st: &ContainerState) -> Result<Isolators> {
    Isolators::new(&st.isolation, &st.isolator_config).map_err(|e| isolator_err(&st.id, e))
}

/// The isolation request of a container, borrowed from its config and the launch's decisions.
pub fn request<'a>(
    cfg: &'a ContainerConfig,
    st: &'a ContainerState,
    uid: u32,
    gid: u32,
) -> Request<'a> {
    Request {
        resources: &cfg.resources,
        limits: &cfg.limits,
        volumes: &cfg.volumes,
        persistent: &[],
        network: &cfg.network,
        ports: &st.ports,
        hostname: cfg.hostname.as_deref(),
        rlimits: &cfg.rlimits,
        linux: &cfg.linux,
        uid,
        gid,
    }
}

pub fn isolator_err(id: &str, e: ucr_isolators::IsolatorError) -> ContainerError {
    ContainerError::isolator(id, e)
}
