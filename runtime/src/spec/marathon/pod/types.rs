//! Mirror of the Marathon v2 pod definition (Marathon 1.10 RAML: docs/docs/rest-api/public/api/v2/types/pod.raml,
//! podContainer.raml, volumes.raml, network.raml, healthCheck.raml, check.raml, mesosCommand.raml,
//! resources.raml). As for apps (`marathon/types.rs`), every field of the schema is known, the scheduler's are
//! typed `IgnoredAny` and named `_field`, and structs deny unknown fields so the parser can name the ones it
//! skips. The RAML types pods share with apps (`Network`, `EnvVarValueOrSecret`, `SecretDef`, `Artifact`,
//! `ResourceLimits`, `LinuxInfo`, `DockerPullConfig`, `PersistentVolumeInfo`) are the app mirror's.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::super::lenient::marathon_enum;
use super::super::types::{
    Artifact, EnvValue, LinuxInfo, Network, PersistentInfo, PullConfig, ResourceLimits, SecretDef,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Pod {
    pub id: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `MARATHON_APP_VERSION` when given.
    pub version: Option<String>,
    /// The user of every container that names none.
    pub user: Option<String>,
    /// Below each container's own `environment`.
    #[serde(default)]
    pub environment: BTreeMap<String, EnvValue>,
    /// Required, at least one (`minItems: 1`).
    pub containers: Vec<PodContainer>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretDef>,
    #[serde(default)]
    pub volumes: Vec<PodVolume>,
    /// Absent or empty: the host's network.
    pub networks: Option<Vec<Network>>,
    /// What Mesos's default executor reserves (Marathon's defaults: `DEFAULT_EXECUTOR_*` in `pod/mod.rs`).
    pub executor_resources: Option<ExecutorResources>,
    /// Only `ipcInfo` (Marathon refuses `seccomp` at the pod level).
    pub linux_info: Option<LinuxInfo>,
    /// Pods of Marathon < 1.10: the containers share the pod's cgroups (no limits of their own).
    pub legacy_shared_cgroups: Option<bool>,

    // Scheduling: how many instances, where, and how deployments replace them.
    #[serde(rename = "scaling")]
    pub _scaling: Option<IgnoredAny>,
    #[serde(rename = "scheduling")]
    pub _scheduling: Option<IgnoredAny>,
    #[serde(rename = "role")]
    pub _role: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PodContainer {
    pub name: String,
    /// Absent: the image's default command.
    pub exec: Option<MesosExec>,
    /// Required by the RAML (its `cpus` and `mem` have defaults, the object has none).
    pub resources: Resources,
    pub resource_limits: Option<ResourceLimits>,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
    pub linux_info: Option<LinuxInfo>,
    /// Absent: the container runs on the host's root filesystem.
    pub image: Option<Image>,
    #[serde(default)]
    pub environment: BTreeMap<String, EnvValue>,
    pub user: Option<String>,
    pub health_check: Option<HealthCheck>,
    /// A Mesos check reports status only; there are no status updates to attach it to.
    #[serde(rename = "check")]
    pub _check: Option<IgnoredAny>,
    #[serde(default)]
    pub volume_mounts: Vec<VolumeMount>,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub lifecycle: Option<Lifecycle>,
    pub tty: Option<bool>,
}

/// `Resources`: RAML defaults cpus 1.0, mem 128.0, disk 0.0, gpus 0.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    pub cpus: Option<f64>,
    pub mem: Option<f64>,
    pub disk: Option<f64>,
    pub gpus: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorResources {
    pub cpus: Option<f64>,
    pub mem: Option<f64>,
    pub disk: Option<f64>,
}

marathon_enum!(ImageKind {
    Docker = "DOCKER",
    Appc = "APPC",
});

/// `Image`. `APPC` is Marathon 1.4–1.8's (removed in 1.9, `9ffd0df3e`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Image {
    pub kind: ImageKind,
    pub id: String,
    pub pull_config: Option<PullConfig>,
    pub force_pull: Option<bool>,
    /// AppC discovery labels (`version`, `os`, `arch`); nothing for a Docker image.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MesosExec {
    pub command: MesosCommand,
    /// With `argv`: `argv[0]` replaces the image's ENTRYPOINT (the argv is run as is).
    pub override_entrypoint: Option<bool>,
}

/// `MesosCommand`: `ShellCommand | ArgvCommand`, exactly one of the two fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MesosCommand {
    pub shell: Option<String>,
    pub argv: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Lifecycle {
    pub kill_grace_period_seconds: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Endpoint {
    pub name: String,
    /// Required on `container` networks, refused on `host`; 0 = the host port.
    pub container_port: Option<u16>,
    /// 0 = allocate one.
    pub host_port: Option<u16>,
    /// Advertised in Mesos's DiscoveryInfo; `udp` binds UDP, anything else TCP.
    #[serde(default)]
    pub protocol: Vec<String>,
    /// Metadata for service discovery (VIPs).
    #[serde(rename = "labels")]
    pub _labels: Option<IgnoredAny>,
    #[serde(default)]
    pub network_names: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VolumeMount {
    pub name: String,
    pub mount_path: String,
    pub read_only: Option<bool>,
}

/// `PodVolume`: `PodEphemeralVolume {name}`, `PodHostVolume {name, host}`, `PodPersistentVolume {name,
/// persistent}` or `PodSecretVolume {name, secret}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodVolume {
    pub name: String,
    pub host: Option<String>,
    pub persistent: Option<PersistentInfo>,
    pub secret: Option<String>,
}

/// A pod container's `healthCheck`: one of `http`, `tcp`, `exec`. Defaults are the RAML's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HealthCheck {
    pub http: Option<HttpCheck>,
    pub tcp: Option<TcpCheck>,
    pub exec: Option<CommandCheck>,
    pub grace_period_seconds: Option<u32>,
    pub interval_seconds: Option<u32>,
    pub max_consecutive_failures: Option<u32>,
    pub timeout_seconds: Option<u32>,
    pub delay_seconds: Option<u32>,
}

marathon_enum!(HttpScheme {
    Http = "HTTP",
    Https = "HTTPS",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    /// The name of one of the container's endpoints.
    pub endpoint: String,
    pub path: Option<String>,
    pub scheme: Option<HttpScheme>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    pub endpoint: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandCheck {
    pub command: MesosCommand,
}
