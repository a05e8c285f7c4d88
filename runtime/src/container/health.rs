//! A container's health as its supervisor last recorded it (`<runtime>/health.json`, written whole and atomically
//! after every probe): the overall status `ps` shows and each check's last results `inspect` and the agent show.
//! Only the supervisor writes it; everyone else reads.

use serde::{Deserialize, Serialize};

use super::checkpoint::read_json;
use super::paths::Paths;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// No counted result yet: before the first probe, or only failures within the grace period.
    Starting,
    Healthy,
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// Unhealthy if any check is, healthy if all are, else starting.
    pub status: HealthStatus,
    pub checks: Vec<CheckReport>,
    /// Set when a check's failures killed the task: the reason the termination gives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub killed: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Marathon's protocol name (`HTTP`, `MESOS_TCP`, `COMMAND`, ...).
    pub protocol: String,
    /// What is probed: `127.0.0.1:31000/health`, or the command.
    pub target: String,
    pub status: HealthStatus,
    pub consecutive_failures: u32,
    /// Failures that kill the task; absent = never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill_after: Option<u32>,
    pub probes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<ProbeResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<ProbeResult>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Unix milliseconds at the probe's end.
    pub at_ms: u64,
    pub outcome: Outcome,
    pub message: String,
    /// False for a failure within the grace period and for an ignored answer.
    pub counted: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    /// Marathon `ignoreHttp1xx`: a 1xx answer changes nothing.
    Ignored,
}

impl HealthReport {
    pub fn overall(checks: &[CheckReport]) -> HealthStatus {
        if checks.iter().any(|c| c.status == HealthStatus::Unhealthy) {
            HealthStatus::Unhealthy
        } else if !checks.is_empty() && checks.iter().all(|c| c.status == HealthStatus::Healthy) {
            HealthStatus::Healthy
        } else {
            HealthStatus::Starting
        }
    }
}

/// The container's last recorded health; None for one without health checks (or before its first record).
pub fn read(paths: &Paths, id: &str) -> Option<HealthReport> {
    read_json(&paths.health_file(id)).ok().flatten()
}
