//! A health check as the supervisor runs it, whichever request form it came in (Marathon `healthChecks`, Mesos
//! `TaskInfo.health_check`). The two forms differ in more than spelling (TASK-SEMANTICS.md §4.3), and the
//! differences are kept here as data rather than as the name of the form:
//! - where the probe runs: Marathon's HTTP/HTTPS/TCP from the host against the host port, as Marathon's leader
//!   does; Mesos's (and Marathon's MESOS_* and COMMAND) inside the container's network namespace against the
//!   container port;
//! - when the task is killed: Marathon's `maxConsecutiveFailures: 0` never kills, Mesos's
//!   `consecutive_failures` kills once the count reaches it, so 0 kills on the first failure.

use serde::{Deserialize, Serialize};

use super::error::{Result, SpecError};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub probe: Probe,
    /// Where the probe runs and which port of a mapping it targets.
    pub side: Side,
    /// Failures before the first success within this many seconds of the start are not counted.
    pub grace_secs: f64,
    pub interval_secs: f64,
    /// 0 = no timeout (Mesos).
    pub timeout_secs: f64,
    /// Seconds from the start to the first probe.
    pub delay_secs: f64,
    /// Consecutive counted failures that kill the task; None = never kill (Marathon's 0).
    pub kill_after: Option<u32>,
    /// The limit as the request wrote it, for messages.
    pub max_failures: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Probe {
    /// GET `path`; 200–399 pass. TLS is not verified (as Marathon and Mesos's `curl -k`).
    Http {
        https: bool,
        path: String,
        port: CheckPort,
        ipv6: bool,
        /// Marathon `ignoreHttp1xx`: a 1xx answer neither passes nor fails.
        ignore_1xx: bool,
    },
    /// A TCP connect.
    Tcp { port: CheckPort, ipv6: bool },
    /// Run inside the container (its namespaces, cgroups, user and environment); exit 0 passes.
    Command { command: CheckCommand },
}

/// A COMMAND check's command, by Mesos `CommandInfo` rules: `shell` runs `/bin/sh -c value`, else `value` is
/// the program and `arguments` its argv (`argv[0]` included); `env` goes over the task's environment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckCommand {
    pub shell: bool,
    pub value: String,
    #[serde(default)]
    pub arguments: Vec<String>,
    #[serde(default)]
    pub env: Vec<(String, String)>,
}

/// The port a network probe targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckPort {
    Number(u16),
    /// The n-th port mapping of the container (Marathon `portIndex`), resolved once the ports are allocated. A
    /// pod's nested container has no mappings of its own: for it, the n-th of its parent's (a Marathon pod's
    /// check of an endpoint whose port is allocated at launch, `marathon::pod::network::check_port`).
    Index(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// From the host's network namespace, to the mapping's host port.
    Host,
    /// Inside the container's network namespace, to the mapping's container port.
    Container,
}

impl HealthCheck {
    /// The protocol name as Marathon spells it, for `ps`, `inspect` and messages.
    pub fn protocol(&self) -> &'static str {
        match (&self.probe, self.side) {
            (Probe::Http { https: false, .. }, Side::Host) => "HTTP",
            (Probe::Http { https: true, .. }, Side::Host) => "HTTPS",
            (Probe::Tcp { .. }, Side::Host) => "TCP",
            (Probe::Http { https: false, .. }, Side::Container) => "MESOS_HTTP",
            (Probe::Http { https: true, .. }, Side::Container) => "MESOS_HTTPS",
            (Probe::Tcp { .. }, Side::Container) => "MESOS_TCP",
            (Probe::Command { .. }, _) => "COMMAND",
        }
    }
}

/// An HTTP check's path: absolute, no spaces or control characters (it goes into a request line as is).
pub fn url_path(p: Option<&str>, at: &str) -> Result<String> {
    let p = p.unwrap_or("/");
    if !p.starts_with('/') || p.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(SpecError::field(
            at,
            format!("{p:?}: an absolute URL path without spaces"),
        ));
    }
    Ok(p.to_string())
}
