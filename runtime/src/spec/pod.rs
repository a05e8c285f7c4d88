//! A pod: what a Marathon pod definition or a Mesos task group asks for, as one parent container and the nested
//! containers that run its tasks (Mesos runs them under the default executor's container; ucr under a parent
//! whose only process is `ucr pause`).
//!
//! The parent holds what the pod's containers share: the network (every endpoint's port mapping is on it), the
//! UTS and IPC namespaces, the resource envelope, and the ephemeral volumes, which are directories in its
//! sandbox. Each child is an ordinary `ContainerConfig` with `nesting` set and an id `<pod>/<name>`.

use serde::{Deserialize, Serialize};

use super::config::{CommandSpec, ContainerConfig, PortMapping};

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

/// Marathon's endpoint variables (`endpointEnvVars` in TaskGroupBuilder.scala) from the pod's port mappings as
/// allocated, each named after its endpoint: `ENDPOINT_<NAME>` (the host port on host networking, else the
/// container port), `EP_HOST_<NAME>` (when there is a host port) and `EP_CONTAINER_<NAME>` (when there is a
/// container port). Names are upper-cased with every run of other characters made `_`.
pub fn endpoint_env(host_network: bool, mappings: &[PortMapping]) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for m in mappings {
        let Some(name) = &m.name else { continue };
        let mut n = String::new();
        for c in name.to_ascii_uppercase().chars() {
            if c.is_ascii_alphanumeric() || c == '_' {
                n.push(c);
            } else if !n.ends_with('_') {
                n.push('_');
            }
        }
        let host = (m.host_port != 0).then_some(m.host_port);
        let container = (m.container_port != 0).then_some(m.container_port);
        let shown = if host_network { host } else { container };
        let mut put = |k: String, v: Option<u16>| {
            if let Some(v) = v {
                env.retain(|(e, _): &(String, String)| *e != k);
                env.push((k, v.to_string()));
            }
        };
        put(format!("ENDPOINT_{n}"), shown);
        put(format!("EP_HOST_{n}"), host);
        put(format!("EP_CONTAINER_{n}"), container);
    }
    env
}
