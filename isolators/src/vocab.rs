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

/// Mesos `limits` (hard caps above the request). Infinity (Mesos's "no limit") is kept as the string
/// `"Infinity"` in the checkpoint: JSON has no infinite number and serde_json would write `null`, which reads
/// back as "no limit given" and silently turns an unlimited task into one capped at its request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    #[serde(default, with = "maybe_infinite")]
    pub cpus: Option<f64>,
    #[serde(default, with = "maybe_infinite")]
    pub mem_mb: Option<f64>,
}

mod maybe_infinite {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Number(f64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) if x.is_infinite() && *x > 0.0 => s.serialize_str("Infinity"),
            Some(x) => s.serialize_f64(*x),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        match Option::<Repr>::deserialize(d)? {
            None => Ok(None),
            Some(Repr::Number(x)) => Ok(Some(x)),
            Some(Repr::Text(t)) if t == "Infinity" => Ok(Some(f64::INFINITY)),
            Some(Repr::Text(t)) => Err(serde::de::Error::custom(format!(
                "expected a number or \"Infinity\", got {t:?}"
            ))),
        }
    }
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

/// A persistent volume with a size, as `disk/du` measures it: Mesos's disk resource with `disk.persistence`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistentDisk {
    /// Mesos's `persistence.id` (the volume's name where it has no Mesos id).
    pub id: String,
    /// Its directory on the host.
    pub path: std::path::PathBuf,
    /// Its size.
    pub bytes: u64,
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
    /// Further CNI networks joined after `mode`'s, each on its own interface (`eth1`, `eth2`, ...): Marathon's
    /// several `container` networks, Mesos's several `NetworkInfo`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_networks: Vec<String>,
    /// Extra `/etc/hosts` entries, (name, address) (Docker `--add-host NAME:IP`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<(String, String)>,
    /// Resolver settings over the network's or the host's (Docker `--dns`, `--dns-search`, `--dns-option`).
    #[serde(default, skip_serializing_if = "Resolver::is_empty")]
    pub resolver: Resolver,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolver {
    #[serde(default)]
    pub nameservers: Vec<String>,
    #[serde(default)]
    pub search: Vec<String>,
    #[serde(default)]
    pub options: Vec<String>,
}

impl Resolver {
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty() && self.search.is_empty() && self.options.is_empty()
    }
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
    /// The networks it maps on (Marathon `networkNames`); empty: the first network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<String>,
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
    /// Mesos `share_cgroups` (nested containers only; the runtime moves it into the container's nesting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_cgroups: Option<bool>,
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
    /// The image's root filesystem mounted read-only (Docker `--read-only`); the sandbox, volumes and the
    /// kernel filesystems keep their own modes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub readonly_rootfs: bool,
    /// tmpfs mounts (Docker `--tmpfs PATH[:OPTIONS]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tmpfs: Vec<Tmpfs>,
    /// Host devices made available (Docker `--device HOST[:CONTAINER[:PERMS]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<Device>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub host_path: String,
    pub container_path: String,
    /// Some of `rwm`.
    pub access: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tmpfs {
    /// Absolute, inside the container.
    pub path: String,
    /// mount(8) options: `size=64m`, `mode=1777`, `noexec`, ...
    pub options: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinite_limits_survive_the_checkpoint() {
        let l = Limits {
            cpus: Some(f64::INFINITY),
            mem_mb: Some(64.0),
        };
        let json = serde_json::to_string(&l).unwrap_or_default();
        assert_eq!(json, r#"{"cpus":"Infinity","mem_mb":64.0}"#);
        let back: Limits = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, l);
        let none: Limits = serde_json::from_str("{}").unwrap_or_default();
        assert_eq!(none, Limits::default());
    }
}
