//! The shared vocabulary of a container's isolation request: resources, limits, volumes, network, rlimits and
//! Linux options. It lives here, the lowest crate that needs it, so the isolators read it directly and the
//! runtime's `ContainerConfig` re-exports it instead of keeping a second copy. Every type is plain serde data:
//! the runtime checkpoints it as JSON beside the container's state.

use serde::{Deserialize, Serialize};

/// Requested resources (Mesos `resources`; Marathon `cpus`/`mem`/`disk`). Units as Mesos: mem and disk in MB.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    pub cpus: Option<f64>,
    pub mem_mb: Option<f64>,
    pub disk_mb: Option<f64>,
    pub pids: Option<u64>,
    /// `ports` ranges, inclusive.
    #[serde(default)]
    pub ports: Vec<(u16, u16)>,
}

/// Mesos `limits` (hard caps above the request).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub cpus: Option<f64>,
    pub mem_mb: Option<f64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum VolumeMode {
    #[default]
    Rw,
    Ro,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum VolumeSource {
    /// An absolute host path.
    HostPath { path: String },
    /// A path inside this container's sandbox (`SANDBOX_PATH` with type SELF).
    SandboxSelf { path: String },
    /// A path inside the parent container's sandbox (`SANDBOX_PATH` type PARENT; nested containers only).
    SandboxParent { path: String },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// Absolute inside the container, or relative = relative to the sandbox.
    pub container_path: String,
    pub mode: VolumeMode,
    pub source: VolumeSource,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode", content = "name")]
pub enum NetworkMode {
    /// The host's network namespace (the Mesos default).
    #[default]
    Host,
    /// A network namespace with loopback only.
    None,
    /// A named CNI network (`mesos-bridge` for Marathon `container/bridge`).
    Cni(String),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkSpec {
    #[serde(default)]
    pub mode: NetworkMode,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// 0 = allocate from the agent's `ports` range.
    pub host_port: u16,
    /// 0 = same as the host port.
    pub container_port: u16,
    /// "tcp" or "udp".
    pub protocol: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// Mesos name, e.g. `RLMT_NOFILE`.
    pub kind: String,
    /// None = unlimited.
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LinuxSpec {
    #[serde(default)]
    pub share_pid_namespace: bool,
    /// `PRIVATE` or `SHARE_PARENT`; None = the default (private for containers with an image).
    #[serde(default)]
    pub ipc_mode: Option<String>,
    /// MB, for /dev/shm.
    #[serde(default)]
    pub shm_size: Option<u64>,
    #[serde(default)]
    pub privileged: bool,
    /// Capability names (`CAP_NET_ADMIN` or `NET_ADMIN`), as Mesos `linux_info.effective_capabilities`.
    #[serde(default)]
    pub effective_capabilities: Option<Vec<String>>,
    #[serde(default)]
    pub bounding_capabilities: Option<Vec<String>>,
    /// Seccomp profile: None = the default profile; Some("unconfined") disables it.
    #[serde(default)]
    pub seccomp: Option<String>,
}
