//! A pod: what a Marathon pod definition or a Mesos task group asks for, as one parent container and the nested
//! containers that run its tasks (Mesos runs them under the default executor's container; ucr under a parent
//! whose only process is `ucr pause`).
//!
//! The parent holds what the pod's containers share: the network (every endpoint's port mapping is on it), the
//! UTS and IPC namespaces, the resource envelope, and the ephemeral volumes, which are directories in its
//! sandbox. Each child is an ordinary `ContainerConfig` with `nesting` set and an id `<pod>/<name>`.

use serde::{Deserialize, Serialize};

use super::config::{CommandSpec, ContainerConfig};

/// What `ucr launch` makes of a pod definition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodConfig {
    /// No image, [`pause_command`], the pod's network (with every container's endpoints as port mappings, each
    /// named after its endpoint), the envelope as its resources and limits, the pod's labels.
    pub parent: ContainerConfig,
    /// In the pod's order; each `id` is `<parent id>/<container name>` and `nesting.parent` the parent's id.
    pub children: Vec<ContainerConfig>,
    /// The pod's ephemeral volumes, by name: `volumes/<name>` in the parent's sandbox, mounted into children as
    /// `VolumeSource::SandboxParent`.
    #[serde(default)]
    pub ephemeral_volumes: Vec<String>,
}

/// The argument that makes the `ucr` executable a pod's pause process.
pub const PAUSE_ARG: &str = "pause";

/// The parent's process: the `ucr` executable itself (the launcher's init is a fork of a ucr process, so
/// `/proc/self/exe` is ucr even if the file was replaced since), which sleeps until it is signalled.
pub fn pause_command() -> CommandSpec {
    CommandSpec {
        shell: false,
        value: Some("/proc/self/exe".into()),
        arguments: vec!["/proc/self/exe".into(), PAUSE_ARG.into()],
        ..CommandSpec::default()
    }
}
