//! Mirror of the Marathon v2 app definition (Marathon 1.10 RAML: docs/docs/rest-api/public/api/v2/types/
//! app.raml, appContainer.raml, volumes.raml, network.raml, ...). Every field of the schema is known: fields ucr
//! uses are typed, fields that only matter to a scheduler are typed `IgnoredAny` and named `_field` (known,
//! deliberately ignored). Structs deny unknown fields so that the parser can name them: it skips them as
//! Marathon's reader does and reports them (`lenient.rs`). The read-only fields of `GET /v2/apps/ID` output
//! (`tasksRunning`, `tasks`, ...) are accepted too, so a definition fetched from Marathon can be fed back.
//!
//! Enums are `marathon_enum!`: read in any case, as Marathon's generated readers do. No number is read from a
//! string: Marathon's readers do not (see `lenient.rs`).

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::lenient::marathon_enum;
use crate::spec::credential::RegistryCredential;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct App {
    pub id: String,
    pub args: Option<Vec<String>>,
    pub cmd: Option<String>,
    pub container: Option<Container>,
    pub cpus: Option<f64>,
    pub disk: Option<f64>,
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    /// `""` or `//cmd` (the command executor); a custom executor is an error.
    pub executor: Option<String>,
    #[serde(default)]
    pub fetch: Vec<Artifact>,
    /// Validated here; the config keeps the JSON as given.
    #[serde(default)]
    pub health_checks: Vec<AppHealthCheck>,
    /// ucr launches one instance per `ucr launch`; the count is a scheduler's business.
    pub instances: Option<u32>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub mem: Option<f64>,
    pub gpus: Option<u32>,
    /// Marathon 1.4's IP-per-task (deprecated in 1.5 for `networks`, still accepted).
    pub ip_address: Option<IpAddress>,
    pub networks: Option<Vec<Network>>,
    /// Deprecated form of `portDefinitions`.
    pub ports: Option<Vec<u16>>,
    pub port_definitions: Option<Vec<PortDefinition>>,
    pub resource_limits: Option<ResourceLimits>,
    pub require_ports: Option<bool>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretDef>,
    pub task_kill_grace_period_seconds: Option<u32>,
    /// Deprecated form of `fetch`.
    pub uris: Option<Vec<String>>,
    pub user: Option<String>,
    /// `MARATHON_APP_VERSION` when given.
    pub version: Option<String>,
    pub tty: Option<bool>,

    // Scheduling and deployment settings: they steer a scheduler, not a container.
    #[serde(rename = "acceptedResourceRoles")]
    pub _accepted_resource_roles: Option<IgnoredAny>,
    #[serde(rename = "backoffFactor")]
    pub _backoff_factor: Option<IgnoredAny>,
    #[serde(rename = "backoffSeconds")]
    pub _backoff_seconds: Option<IgnoredAny>,
    #[serde(rename = "constraints")]
    pub _constraints: Option<IgnoredAny>,
    #[serde(rename = "dependencies")]
    pub _dependencies: Option<IgnoredAny>,
    #[serde(rename = "executorResources")]
    pub _executor_resources: Option<IgnoredAny>,
    #[serde(rename = "check")]
    pub _check: Option<IgnoredAny>,
    #[serde(rename = "maxLaunchDelaySeconds")]
    pub _max_launch_delay_seconds: Option<IgnoredAny>,
    #[serde(rename = "readinessChecks")]
    pub _readiness_checks: Option<IgnoredAny>,
    #[serde(rename = "residency")]
    pub _residency: Option<IgnoredAny>,
    #[serde(rename = "upgradeStrategy")]
    pub _upgrade_strategy: Option<IgnoredAny>,
    #[serde(rename = "versionInfo")]
    pub _version_info: Option<IgnoredAny>,
    #[serde(rename = "killSelection")]
    pub _kill_selection: Option<IgnoredAny>,
    #[serde(rename = "unreachableStrategy")]
    pub _unreachable_strategy: Option<IgnoredAny>,
    #[serde(rename = "role")]
    pub _role: Option<IgnoredAny>,

    // Read-only status fields of `GET /v2/apps/ID` (AppInfo).
    #[serde(rename = "tasksStaged")]
    pub _tasks_staged: Option<IgnoredAny>,
    #[serde(rename = "tasksRunning")]
    pub _tasks_running: Option<IgnoredAny>,
    #[serde(rename = "tasksHealthy")]
    pub _tasks_healthy: Option<IgnoredAny>,
    #[serde(rename = "tasksUnhealthy")]
    pub _tasks_unhealthy: Option<IgnoredAny>,
    #[serde(rename = "deployments")]
    pub _deployments: Option<IgnoredAny>,
    #[serde(rename = "readinessCheckResults")]
    pub _readiness_check_results: Option<IgnoredAny>,
    #[serde(rename = "tasks")]
    pub _tasks: Option<IgnoredAny>,
    #[serde(rename = "lastTaskFailure")]
    pub _last_task_failure: Option<IgnoredAny>,
    #[serde(rename = "tasksStats")]
    pub _tasks_stats: Option<IgnoredAny>,
}

/// `ipAddress`: the network by name; discovery, groups and labels are for a scheduler's service discovery.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IpAddress {
    pub network_name: Option<String>,
    #[serde(rename = "discovery")]
    pub _discovery: Option<IgnoredAny>,
    #[serde(rename = "groups")]
    pub _groups: Option<IgnoredAny>,
    #[serde(rename = "labels")]
    pub _labels: Option<IgnoredAny>,
}

/// An `env` value: a string, or `{"secret": "<name of an entry of secrets>"}`.
#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "expected a string, or {\"secret\": \"<name>\"}")]
pub enum EnvValue {
    Value(String),
    Secret(EnvSecret),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSecret {
    pub secret: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretDef {
    pub source: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Artifact {
    pub uri: String,
    pub extract: Option<bool>,
    pub executable: Option<bool>,
    pub cache: Option<bool>,
    pub dest_path: Option<String>,
}

marathon_enum!(EngineType {
    Mesos = "MESOS",
    Docker = "DOCKER",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Container {
    /// Marathon's default is DOCKER.
    #[serde(rename = "type")]
    pub kind: Option<EngineType>,
    pub docker: Option<DockerContainer>,
    /// Marathon 1.4–1.8 (removed in 1.9, which then ignores it): an AppC image for the MESOS containerizer.
    pub appc: Option<AppcContainer>,
    pub linux_info: Option<LinuxInfo>,
    #[serde(default)]
    pub volumes: Vec<AppVolume>,
    pub port_mappings: Option<Vec<ContainerPortMapping>>,
}

/// `container.appc` of Marathon 1.4–1.8 (its JSON schema `AppDefinition.json`): Marathon passed it to Mesos
/// as `Image.appc {name: image, id, labels}`, `cached = !forcePullImage`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppcContainer {
    pub image: String,
    /// The image id (`sha512-…`): the fetched image must hash to it.
    pub id: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub force_pull_image: Option<bool>,
}

marathon_enum!(DockerNetwork {
    Bridge = "BRIDGE",
    Host = "HOST",
    None = "NONE",
    User = "USER",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DockerContainer {
    /// Deprecated since Marathon 1.5 in favour of `pullConfig`; still taken as the registry's username and
    /// password.
    pub credential: Option<RegistryCredential>,
    pub pull_config: Option<PullConfig>,
    pub force_pull_image: Option<bool>,
    pub image: String,
    /// Deprecated in favour of `networks`.
    pub network: Option<DockerNetwork>,
    #[serde(default)]
    pub parameters: Vec<DockerParameter>,
    /// Deprecated in favour of `container.portMappings`.
    pub port_mappings: Option<Vec<ContainerPortMapping>>,
    pub privileged: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullConfig {
    pub secret: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DockerParameter {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ContainerPortMapping {
    pub container_port: Option<u16>,
    pub host_port: Option<u16>,
    #[serde(rename = "labels")]
    pub _labels: Option<IgnoredAny>,
    pub name: Option<String>,
    pub protocol: Option<String>,
    /// For service discovery only; never bound.
    #[serde(rename = "servicePort")]
    pub _service_port: Option<IgnoredAny>,
    /// Which of several container networks a mapping is for; ucr joins one.
    #[serde(rename = "networkNames")]
    pub network_names: Option<Vec<String>>,
}

marathon_enum!(ReadMode {
    Ro = "RO",
    Rw = "RW",
});

/// `AppVolume`: one of host (`hostPath`), persistent, external or secret; ucr supports host and persistent
/// volumes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppVolume {
    pub container_path: String,
    pub host_path: Option<String>,
    pub mode: Option<ReadMode>,
    pub persistent: Option<PersistentInfo>,
    pub external: Option<IgnoredAny>,
    pub secret: Option<String>,
}

marathon_enum!(PersistentType {
    Root = "root",
    Path = "path",
    Mount = "mount",
});

/// `PersistentVolumeInfo`: `size` in MiB; the rest steers which disk Marathon reserves.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PersistentInfo {
    #[serde(rename = "type")]
    pub _kind: Option<PersistentType>,
    pub size: u64,
    #[serde(rename = "maxSize")]
    pub _max_size: Option<u64>,
    #[serde(rename = "profileName")]
    pub _profile_name: Option<String>,
    #[serde(rename = "constraints")]
    pub _constraints: Option<IgnoredAny>,
}

marathon_enum!(NetworkMode {
    Container = "container",
    ContainerBridge = "container/bridge",
    Host = "host",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    pub name: Option<String>,
    pub mode: Option<NetworkMode>,
    /// Passed to CNI by Mesos as plugin args; ucr's CNI invocation does not.
    #[serde(rename = "labels")]
    pub _labels: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortDefinition {
    pub port: Option<u16>,
    #[serde(rename = "labels")]
    pub _labels: Option<IgnoredAny>,
    pub name: Option<String>,
    pub protocol: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceLimits {
    pub cpus: Option<ResourceLimit>,
    pub mem: Option<ResourceLimit>,
}

marathon_enum!(Unlimited {
    Unlimited = "unlimited",
});

#[derive(Debug, Deserialize)]
#[serde(untagged, expecting = "expected a number or \"unlimited\"")]
pub enum ResourceLimit {
    Number(f64),
    Unlimited(Unlimited),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LinuxInfo {
    pub seccomp: Option<Seccomp>,
    pub ipc_info: Option<IpcInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Seccomp {
    pub profile_name: Option<String>,
    pub unconfined: Option<bool>,
}

marathon_enum!(IpcMode {
    Private = "PRIVATE",
    ShareParent = "SHARE_PARENT",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IpcInfo {
    pub mode: IpcMode,
    pub shm_size: Option<u32>,
}

marathon_enum!(HealthProtocol {
    Http = "HTTP",
    Https = "HTTPS",
    Tcp = "TCP",
    Command = "COMMAND",
    MesosTcp = "MESOS_TCP",
    MesosHttp = "MESOS_HTTP",
    MesosHttps = "MESOS_HTTPS",
});

marathon_enum!(IpProtocol {
    IPv4 = "IPv4",
    IPv6 = "IPv6",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct AppHealthCheck {
    pub command: Option<AppCommandCheck>,
    pub grace_period_seconds: Option<u32>,
    pub ignore_http1xx: Option<bool>,
    pub interval_seconds: Option<u32>,
    pub max_consecutive_failures: Option<u32>,
    pub path: Option<String>,
    pub port: Option<u16>,
    pub port_index: Option<u16>,
    pub protocol: Option<HealthProtocol>,
    pub ip_protocol: Option<IpProtocol>,
    pub timeout_seconds: Option<u32>,
    pub delay_seconds: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppCommandCheck {
    pub value: String,
}
