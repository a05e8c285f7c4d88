//! Mirrors of the Mesos v1 protobuf messages shared by `LAUNCH_CONTAINER` and `TaskInfo` (mesos.proto field
//! names, enums as their names). Every struct denies unknown fields so the reader can name them: it skips them
//! and reports their paths (`mesos/mod.rs`). Fields ucr accepts but has no use for are typed `IgnoredAny` and
//! named `_field`: known, deliberately ignored.

use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::spec::proto::{proto_enum, PDouble, PInt};

/// `TaskID`, `AgentID`, `ExecutorID`: `{"value": "..."}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Id {
    pub value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerId {
    pub value: String,
    pub parent: Option<Box<ContainerId>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandInfo {
    #[serde(default)]
    pub uris: Vec<Uri>,
    pub environment: Option<Environment>,
    pub shell: Option<bool>,
    pub value: Option<String>,
    #[serde(default)]
    pub arguments: Vec<String>,
    pub user: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Uri {
    pub value: String,
    pub executable: Option<bool>,
    pub extract: Option<bool>,
    pub cache: Option<bool>,
    pub output_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    #[serde(default)]
    pub variables: Vec<Variable>,
}

proto_enum!(VariableType {
    Unknown = "UNKNOWN",
    Value = "VALUE",
    Secret = "SECRET",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: Option<VariableType>,
    pub value: Option<String>,
    pub secret: Option<Secret>,
}

proto_enum!(SecretType {
    Unknown = "UNKNOWN",
    Reference = "REFERENCE",
    Value = "VALUE",
});

// No Debug: `value.data` is a credential.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    #[serde(rename = "type")]
    pub kind: Option<SecretType>,
    pub reference: Option<SecretReference>,
    pub value: Option<SecretValue>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretReference {
    pub name: String,
    pub key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretValue {
    /// protobuf `bytes`: base64.
    pub data: String,
}

proto_enum!(ValueType {
    Scalar = "SCALAR",
    Ranges = "RANGES",
    Set = "SET",
    Text = "TEXT",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scalar {
    pub value: PDouble,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ranges {
    #[serde(default)]
    pub range: Vec<Range>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    pub begin: PInt,
    pub end: PInt,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Set {
    #[serde(default)]
    pub item: Vec<String>,
}

/// `Resource`. Reservation and allocation bookkeeping is the master's business; a standalone container and a
/// TaskInfo given to `ucr launch` only need name, type and value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ValueType,
    pub scalar: Option<Scalar>,
    pub ranges: Option<Ranges>,
    pub set: Option<Set>,
    /// A persistent volume (`persistence` + `volume`); other disk kinds are refused.
    pub disk: Option<DiskInfo>,
    #[serde(rename = "provider_id")]
    pub _provider_id: Option<IgnoredAny>,
    /// The legacy role; names a persistent volume's directory (`volumes/roles/<role>/<id>`), as in Mesos.
    pub role: Option<String>,
    #[serde(rename = "allocation_info")]
    pub _allocation_info: Option<IgnoredAny>,
    #[serde(rename = "reservation")]
    pub _reservation: Option<IgnoredAny>,
    /// The refined reservations; the last one's role is the resource's role.
    #[serde(default)]
    pub reservations: Vec<Reservation>,
    #[serde(rename = "revocable")]
    pub _revocable: Option<IgnoredAny>,
    #[serde(rename = "shared")]
    pub _shared: Option<IgnoredAny>,
}

/// `Resource.DiskInfo`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskInfo {
    pub persistence: Option<Persistence>,
    pub volume: Option<DiskVolume>,
    /// A PATH or MOUNT disk source: a disk of the agent's that the master offered; not this node's to pick.
    pub source: Option<IgnoredAny>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persistence {
    pub id: String,
    #[serde(rename = "principal")]
    pub _principal: Option<IgnoredAny>,
}

proto_enum!(VolumeMode {
    Rw = "RW",
    Ro = "RO",
});

/// `Volume` as a persistent volume uses it: where and how it is mounted (its own source is the disk).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskVolume {
    pub mode: VolumeMode,
    pub container_path: String,
}

/// `Resource.ReservationInfo`: only its role matters here.
#[derive(Debug, Deserialize)]
pub struct Reservation {
    pub role: Option<String>,
}

/// A value of the `limits` map. mesos.proto says `Value.Scalar` (`{"value": 1}`), but the Mesos docs
/// (scheduler-http-api.md, running-workloads.md) write bare values (`"cpus": "Infinity", "mem": 4096`), so both
/// are read.
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "expected a Value.Scalar like {\"value\": 512}, or a number, or \"Infinity\""
)]
pub enum LimitValue {
    Scalar(Scalar),
    Bare(PDouble),
}

impl LimitValue {
    pub fn value(&self) -> f64 {
        match self {
            LimitValue::Scalar(s) => s.value.0,
            LimitValue::Bare(d) => d.0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    #[serde(default)]
    pub labels: Vec<Label>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Label {
    pub key: String,
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationInfo {
    pub nanoseconds: PInt,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KillPolicy {
    pub grace_period: Option<DurationInfo>,
}

proto_enum!(HealthCheckType {
    Unknown = "UNKNOWN",
    Command = "COMMAND",
    Http = "HTTP",
    Tcp = "TCP",
});

proto_enum!(IpProtocol {
    IPv4 = "IPv4",
    IPv6 = "IPv6",
});

/// `HealthCheck`: validated here, kept in the config as the JSON the request gave (the agent runs it later).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    pub delay_seconds: Option<PDouble>,
    pub interval_seconds: Option<PDouble>,
    pub timeout_seconds: Option<PDouble>,
    pub consecutive_failures: Option<PInt>,
    pub grace_period_seconds: Option<PDouble>,
    #[serde(rename = "type")]
    pub kind: Option<HealthCheckType>,
    pub command: Option<CommandInfo>,
    pub http: Option<HttpCheck>,
    pub tcp: Option<TcpCheck>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub protocol: Option<IpProtocol>,
    pub scheme: Option<String>,
    pub port: PInt,
    pub path: Option<String>,
    #[serde(default)]
    pub statuses: Vec<PInt>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    pub protocol: Option<IpProtocol>,
    pub port: PInt,
}
