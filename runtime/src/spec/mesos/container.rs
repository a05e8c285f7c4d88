//! Mirrors of Mesos `ContainerInfo` and what it holds: `Image`, `Volume`, `NetworkInfo`, `LinuxInfo`,
//! `RLimitInfo`, `DockerInfo` (mesos.proto names; see `types.rs` for the conventions).

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::types::{Labels, Secret, VolumeMode};
use crate::spec::credential::RegistryCredential;
use crate::spec::proto::{proto_enum, PInt};

proto_enum!(ContainerKind {
    Docker = "DOCKER",
    Mesos = "MESOS",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerInfo {
    #[serde(rename = "type")]
    pub kind: ContainerKind,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    pub hostname: Option<String>,
    pub docker: Option<DockerInfo>,
    pub mesos: Option<MesosInfo>,
    #[serde(default)]
    pub network_infos: Vec<NetworkInfo>,
    pub linux_info: Option<LinuxInfo>,
    pub rlimit_info: Option<RLimitInfo>,
    /// ucr attaches no TTY: an error when present.
    pub tty_info: Option<TtyInfo>,
}

proto_enum!(DockerNetwork {
    Host = "HOST",
    Bridge = "BRIDGE",
    None = "NONE",
    User = "USER",
});

/// `ContainerInfo.DockerInfo` (container type DOCKER: the Docker containerizer, run daemonless by ucr).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerInfo {
    pub image: String,
    pub network: Option<DockerNetwork>,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    pub privileged: Option<bool>,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    pub force_pull_image: Option<bool>,
    /// Deprecated since Mesos 1.0; an error when present.
    pub volume_driver: Option<String>,
}

/// `DockerInfo.PortMapping` and `NetworkInfo.PortMapping` (same fields).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortMapping {
    pub host_port: PInt,
    pub container_port: PInt,
    pub protocol: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MesosInfo {
    pub image: Option<Image>,
}

proto_enum!(ImageType {
    Appc = "APPC",
    Docker = "DOCKER",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    #[serde(rename = "type")]
    pub kind: ImageType,
    pub appc: Option<Appc>,
    pub docker: Option<DockerImage>,
    pub cached: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Appc {
    pub name: String,
    /// The image id (`sha512-…`): the fetched image must hash to it.
    pub id: Option<String>,
    pub labels: Option<Labels>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerImage {
    pub name: String,
    /// Deprecated since Mesos 1.3 in favour of `config`; still taken as the registry's username and password.
    pub credential: Option<RegistryCredential>,
    pub config: Option<Secret>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    pub mode: VolumeMode,
    pub container_path: String,
    /// Legacy form of a host path volume.
    pub host_path: Option<String>,
    /// An image volume: the image's root filesystem mounted at `container_path`.
    pub image: Option<Image>,
    pub source: Option<VolumeSource>,
}

proto_enum!(SourceType {
    Unknown = "UNKNOWN",
    DockerVolume = "DOCKER_VOLUME",
    HostPath = "HOST_PATH",
    SandboxPath = "SANDBOX_PATH",
    Secret = "SECRET",
    CsiVolume = "CSI_VOLUME",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSource {
    #[serde(rename = "type")]
    pub kind: Option<SourceType>,
    pub docker_volume: Option<IgnoredAny>,
    pub host_path: Option<HostPath>,
    pub sandbox_path: Option<SandboxPath>,
    pub secret: Option<Secret>,
    pub csi_volume: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostPath {
    pub path: String,
    pub mount_propagation: Option<MountPropagation>,
}

proto_enum!(PropagationMode {
    Unknown = "UNKNOWN",
    HostToContainer = "HOST_TO_CONTAINER",
    Bidirectional = "BIDIRECTIONAL",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MountPropagation {
    pub mode: Option<PropagationMode>,
}

proto_enum!(SandboxType {
    Unknown = "UNKNOWN",
    SelfSandbox = "SELF",
    Parent = "PARENT",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxPath {
    #[serde(rename = "type")]
    pub kind: Option<SandboxType>,
    pub path: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkInfo {
    /// Requested addresses: the CNI plugin's IPAM decides, as with Mesos.
    #[serde(rename = "ip_addresses")]
    pub _ip_addresses: Option<IgnoredAny>,
    pub name: Option<String>,
    #[serde(rename = "groups")]
    pub _groups: Option<IgnoredAny>,
    #[serde(rename = "labels")]
    pub _labels: Option<IgnoredAny>,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
}

proto_enum!(Capability {
    Chown = "CHOWN",
    DacOverride = "DAC_OVERRIDE",
    DacReadSearch = "DAC_READ_SEARCH",
    Fowner = "FOWNER",
    Fsetid = "FSETID",
    Kill = "KILL",
    Setgid = "SETGID",
    Setuid = "SETUID",
    Setpcap = "SETPCAP",
    LinuxImmutable = "LINUX_IMMUTABLE",
    NetBindService = "NET_BIND_SERVICE",
    NetBroadcast = "NET_BROADCAST",
    NetAdmin = "NET_ADMIN",
    NetRaw = "NET_RAW",
    IpcLock = "IPC_LOCK",
    IpcOwner = "IPC_OWNER",
    SysModule = "SYS_MODULE",
    SysRawio = "SYS_RAWIO",
    SysChroot = "SYS_CHROOT",
    SysPtrace = "SYS_PTRACE",
    SysPacct = "SYS_PACCT",
    SysAdmin = "SYS_ADMIN",
    SysBoot = "SYS_BOOT",
    SysNice = "SYS_NICE",
    SysResource = "SYS_RESOURCE",
    SysTime = "SYS_TIME",
    SysTtyConfig = "SYS_TTY_CONFIG",
    Mknod = "MKNOD",
    Lease = "LEASE",
    AuditWrite = "AUDIT_WRITE",
    AuditControl = "AUDIT_CONTROL",
    Setfcap = "SETFCAP",
    MacOverride = "MAC_OVERRIDE",
    MacAdmin = "MAC_ADMIN",
    Syslog = "SYSLOG",
    WakeAlarm = "WAKE_ALARM",
    BlockSuspend = "BLOCK_SUSPEND",
    AuditRead = "AUDIT_READ",
    Perfmon = "PERFMON",
    Bpf = "BPF",
    CheckpointRestore = "CHECKPOINT_RESTORE",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilityInfo {
    #[serde(default)]
    pub capabilities: Vec<Capability>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeccompInfo {
    pub profile_name: Option<String>,
    pub unconfined: Option<bool>,
}

proto_enum!(IpcMode {
    Unknown = "UNKNOWN",
    Private = "PRIVATE",
    ShareParent = "SHARE_PARENT",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinuxInfo {
    /// Deprecated alias of `effective_capabilities`.
    pub capability_info: Option<CapabilityInfo>,
    pub bounding_capabilities: Option<CapabilityInfo>,
    pub effective_capabilities: Option<CapabilityInfo>,
    pub share_pid_namespace: Option<bool>,
    pub seccomp: Option<SeccompInfo>,
    pub ipc_mode: Option<IpcMode>,
    pub shm_size: Option<PInt>,
    /// Nested containers only; a top-level container always has its own cgroups.
    pub share_cgroups: Option<bool>,
}

proto_enum!(RLimitType {
    Unknown = "UNKNOWN",
    As = "RLMT_AS",
    Core = "RLMT_CORE",
    Cpu = "RLMT_CPU",
    Data = "RLMT_DATA",
    Fsize = "RLMT_FSIZE",
    Locks = "RLMT_LOCKS",
    Memlock = "RLMT_MEMLOCK",
    Msgqueue = "RLMT_MSGQUEUE",
    Nice = "RLMT_NICE",
    Nofile = "RLMT_NOFILE",
    Nproc = "RLMT_NPROC",
    Rss = "RLMT_RSS",
    Rtprio = "RLMT_RTPRIO",
    Rttime = "RLMT_RTTIME",
    Sigpending = "RLMT_SIGPENDING",
    Stack = "RLMT_STACK",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RLimitInfo {
    #[serde(default)]
    pub rlimits: Vec<RLimit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RLimit {
    #[serde(rename = "type")]
    pub kind: Option<RLimitType>,
    pub hard: Option<PInt>,
    pub soft: Option<PInt>,
}

/// `TTYInfo`: a terminal for the task, with its window size.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtyInfo {
    pub window_size: Option<WindowSize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSize {
    pub rows: u16,
    pub columns: u16,
}
