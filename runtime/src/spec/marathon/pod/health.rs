//! A pod container's `healthCheck` → a health check (Marathon `HealthCheckConversion`: `http` is MESOS_HTTP or
//! MESOS_HTTPS by `scheme`, `tcp` MESOS_TCP, `exec` COMMAND). Pods have only Mesos-level checks: they run inside
//! the pod's network namespace, against the endpoint's container port (its host port on host networking; see
//! `network::check_port`), and `maxConsecutiveFailures` kills with Mesos's meaning (0 kills on the first
//! failure). Defaults are the RAML's: grace 300, interval 60, timeout 20, failures 3, delay 15.

use super::network::check_port;
use super::types::{HealthCheck as PodCheck, HttpScheme, MesosCommand, PodContainer};
use crate::spec::config::NetworkSpec;
use crate::spec::error::{Result, SpecError};
use crate::spec::health::{url_path, CheckCommand, HealthCheck, Probe, Side};

const GRACE: u32 = 300;
const INTERVAL: u32 = 60;
const TIMEOUT: u32 = 20;
const MAX_FAILURES: u32 = 3;
const DELAY: u32 = 15;

/// `c`'s check at JSON path `at`, its endpoint looked up among `c`'s endpoints and the pod's mappings `net`.
pub fn health_check(
    hc: &PodCheck,
    c: &PodContainer,
    net: &NetworkSpec,
    at: &str,
) -> Result<HealthCheck> {
    let interval = hc.interval_seconds.unwrap_or(INTERVAL);
    let timeout = hc.timeout_seconds.unwrap_or(TIMEOUT);
    // Marathon's validation: the timeout is below the interval (which makes the interval at least 1).
    if timeout >= interval {
        return Err(SpecError::field(
            format!("{at}.timeoutSeconds"),
            format!("{timeout} must be less than intervalSeconds ({interval})"),
        ));
    }
    let endpoint = |name: &str, field: &str| {
        let known = c.endpoints.iter().any(|e| e.name == name);
        known
            .then(|| check_port(net, name))
            .flatten()
            .ok_or_else(|| {
                SpecError::field(
                    format!("{at}.{field}.endpoint"),
                    format!("{name:?} is not one of the container's endpoints"),
                )
            })
    };
    let probe = match (&hc.http, &hc.tcp, &hc.exec) {
        (Some(h), None, None) => Probe::Http {
            https: h.scheme == Some(HttpScheme::Https),
            path: url_path(h.path.as_deref(), &format!("{at}.http.path"))?,
            port: endpoint(&h.endpoint, "http")?,
            ipv6: false,
            ignore_1xx: false,
        },
        (None, Some(t), None) => Probe::Tcp {
            port: endpoint(&t.endpoint, "tcp")?,
            ipv6: false,
        },
        (None, None, Some(e)) => Probe::Command {
            command: check_command(&e.command, &format!("{at}.exec.command"))?,
        },
        _ => {
            return Err(SpecError::field(
                at,
                "give exactly one of http, tcp and exec",
            ))
        }
    };
    let max = hc.max_consecutive_failures.unwrap_or(MAX_FAILURES);
    Ok(HealthCheck {
        probe,
        side: Side::Container,
        grace_secs: f64::from(hc.grace_period_seconds.unwrap_or(GRACE)),
        interval_secs: f64::from(interval),
        timeout_secs: f64::from(timeout),
        delay_secs: f64::from(hc.delay_seconds.unwrap_or(DELAY)),
        kill_after: Some(max.max(1)),
        max_failures: max,
    })
}

/// An `exec` check's command: `shell` runs `/bin/sh -c`, `argv` is run as is.
fn check_command(cmd: &MesosCommand, at: &str) -> Result<CheckCommand> {
    match (&cmd.shell, &cmd.argv) {
        (Some(s), None) if !s.trim().is_empty() => Ok(CheckCommand {
            shell: true,
            value: s.clone(),
            ..CheckCommand::default()
        }),
        (None, Some(argv)) if !argv.is_empty() => Ok(CheckCommand {
            shell: false,
            value: argv[0].clone(),
            arguments: argv.clone(),
            ..CheckCommand::default()
        }),
        (Some(_), None) => Err(SpecError::field(format!("{at}.shell"), "empty")),
        (None, Some(_)) => Err(SpecError::field(format!("{at}.argv"), "empty")),
        _ => Err(SpecError::field(at, "give exactly one of shell and argv")),
    }
}
