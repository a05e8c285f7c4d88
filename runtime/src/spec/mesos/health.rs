//! Mesos `TaskInfo.health_check` → a health check with Mesos's rules: probes inside the container's network
//! namespace, the port as given, `consecutive_failures` reached kills (0 kills on the first failure). Defaults
//! are mesos.proto's: delay 15, interval 10, timeout 20 (0 = none), failures 3, grace 10.

use super::convert;
use super::types::{HealthCheck as MesosCheck, HealthCheckType, IpProtocol};
use crate::spec::error::{Result, SpecError};
use crate::spec::health::{url_path, CheckCommand, CheckPort, HealthCheck, Probe, Side};
use crate::spec::proto::{PDouble, PInt};

pub fn health_check(c: MesosCheck, at: &str, store: convert::Store<'_>) -> Result<HealthCheck> {
    let secs = |v: Option<PDouble>, default: f64, field: &str| -> Result<f64> {
        let s = v.map(|d| d.0).unwrap_or(default);
        if !s.is_finite() || s < 0.0 {
            return Err(SpecError::field(
                format!("{at}.{field}"),
                format!("{s}: must be a non-negative number of seconds"),
            ));
        }
        Ok(s)
    };
    let interval = secs(c.interval_seconds, 10.0, "interval_seconds")?;
    if interval <= 0.0 {
        return Err(SpecError::field(
            format!("{at}.interval_seconds"),
            "must be greater than 0",
        ));
    }
    let failures = match c.consecutive_failures {
        None => 3,
        Some(PInt(n)) => u32::try_from(n).map_err(|_| {
            SpecError::field(
                format!("{at}.consecutive_failures"),
                format!("{n}: out of range"),
            )
        })?,
    };
    let kind = c
        .kind
        .ok_or_else(|| SpecError::field(format!("{at}.type"), "missing: COMMAND, HTTP or TCP"))?;
    let port = |p: PInt, field: &str| -> Result<CheckPort> {
        u16::try_from(p.0)
            .ok()
            .filter(|p| *p > 0)
            .map(CheckPort::Number)
            .ok_or_else(|| {
                SpecError::field(format!("{at}.{field}"), format!("{}: not a port", p.0))
            })
    };
    let probe = match kind {
        HealthCheckType::Command => {
            let cmd = c.command.ok_or_else(|| {
                SpecError::field(format!("{at}.command"), "missing for type COMMAND")
            })?;
            let (command, secrets) = convert::command(cmd, &format!("{at}.command"), store)?;
            if !secrets.is_empty() {
                return Err(SpecError::field(
                    format!("{at}.command.environment"),
                    "secret variables are not supported in a health check",
                ));
            }
            // The check runs as the task and fetches nothing: Mesos ignores these, ucr says so.
            if !command.uris.is_empty() {
                return Err(SpecError::field(
                    format!("{at}.command.uris"),
                    "a health check fetches nothing; fetch with the task's command",
                ));
            }
            if command.user.is_some() {
                return Err(SpecError::field(
                    format!("{at}.command.user"),
                    "a health check runs as the task's user",
                ));
            }
            let value = command.value.unwrap_or_default();
            if value.trim().is_empty() {
                return Err(SpecError::field(format!("{at}.command.value"), "empty"));
            }
            let command = CheckCommand {
                shell: command.shell,
                value,
                arguments: command.arguments,
                env: command.env,
            };
            Probe::Command { command }
        }
        HealthCheckType::Http => {
            let h = c
                .http
                .ok_or_else(|| SpecError::field(format!("{at}.http"), "missing for type HTTP"))?;
            let https = match h.scheme.as_deref().unwrap_or("http") {
                "http" => false,
                "https" => true,
                other => {
                    return Err(SpecError::field(
                        format!("{at}.http.scheme"),
                        format!("{other:?}: http or https"),
                    ))
                }
            };
            Probe::Http {
                https,
                path: url_path(h.path.as_deref(), &format!("{at}.http.path"))?,
                port: port(h.port, "http.port")?,
                ipv6: h.protocol == Some(IpProtocol::IPv6),
                ignore_1xx: false,
            }
        }
        HealthCheckType::Tcp => {
            let t = c
                .tcp
                .ok_or_else(|| SpecError::field(format!("{at}.tcp"), "missing for type TCP"))?;
            Probe::Tcp {
                port: port(t.port, "tcp.port")?,
                ipv6: t.protocol == Some(IpProtocol::IPv6),
            }
        }
        HealthCheckType::Unknown => {
            return Err(SpecError::field(
                format!("{at}.type"),
                "UNKNOWN: expected COMMAND, HTTP or TCP",
            ))
        }
    };
    Ok(HealthCheck {
        probe,
        side: Side::Container,
        grace_secs: secs(c.grace_period_seconds, 10.0, "grace_period_seconds")?,
        interval_secs: interval,
        timeout_secs: secs(c.timeout_seconds, 20.0, "timeout_seconds")?,
        delay_secs: secs(c.delay_seconds, 15.0, "delay_seconds")?,
        kill_after: Some(failures.max(1)),
        max_failures: failures,
    })
}
