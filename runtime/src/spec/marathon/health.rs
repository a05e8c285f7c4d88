//! Marathon `healthChecks` → health checks (TASK-SEMANTICS.md §4.3). HTTP, HTTPS and TCP keep Marathon's rules
//! (from the host, the host port, `maxConsecutiveFailures: 0` never kills); MESOS_HTTP, MESOS_HTTPS, MESOS_TCP
//! and COMMAND get Mesos's, as Marathon hands them to the Mesos executor (inside the container, the container
//! port, 0 kills on the first failure). Defaults are Marathon's (`healthCheck.raml`).

use super::types::{AppHealthCheck, HealthProtocol, IpProtocol};
use crate::spec::config::PortMapping;
use crate::spec::error::{Result, SpecError};
use crate::spec::health::{url_path, CheckCommand, CheckPort, HealthCheck, Probe, Side};

const GRACE: u32 = 300;
const INTERVAL: u32 = 60;
const TIMEOUT: u32 = 20;
const MAX_FAILURES: u32 = 3;
const DELAY: u32 = 15;

/// `ports` are the app's port mappings (what `portIndex` indexes).
pub fn health_checks(list: &[AppHealthCheck], ports: &[PortMapping]) -> Result<Vec<HealthCheck>> {
    list.iter()
        .enumerate()
        .map(|(i, c)| health_check(c, ports, &format!("healthChecks[{i}]")))
        .collect()
}

fn health_check(c: &AppHealthCheck, ports: &[PortMapping], at: &str) -> Result<HealthCheck> {
    let protocol = c.protocol.unwrap_or(HealthProtocol::Http);
    let side = match protocol {
        HealthProtocol::Http | HealthProtocol::Https | HealthProtocol::Tcp => Side::Host,
        _ => Side::Container,
    };
    let interval = c.interval_seconds.unwrap_or(INTERVAL);
    let timeout = c.timeout_seconds.unwrap_or(TIMEOUT);
    if interval == 0 {
        return Err(SpecError::field(
            format!("{at}.intervalSeconds"),
            "must be at least 1",
        ));
    }
    let ipv6 = c.ip_protocol == Some(IpProtocol::IPv6);
    let probe = match protocol {
        HealthProtocol::Command => {
            let cmd = c.command.as_ref().ok_or_else(|| {
                SpecError::field(format!("{at}.command"), "missing for protocol COMMAND")
            })?;
            if cmd.value.trim().is_empty() {
                return Err(SpecError::field(format!("{at}.command.value"), "empty"));
            }
            Probe::Command {
                command: CheckCommand {
                    shell: true,
                    value: cmd.value.clone(),
                    ..CheckCommand::default()
                },
            }
        }
        HealthProtocol::Tcp | HealthProtocol::MesosTcp => Probe::Tcp {
            port: port(c, ports, at)?,
            ipv6,
        },
        HealthProtocol::Http
        | HealthProtocol::Https
        | HealthProtocol::MesosHttp
        | HealthProtocol::MesosHttps => Probe::Http {
            https: matches!(protocol, HealthProtocol::Https | HealthProtocol::MesosHttps),
            path: url_path(c.path.as_deref(), &format!("{at}.path"))?,
            port: port(c, ports, at)?,
            ipv6,
            ignore_1xx: c.ignore_http1xx.unwrap_or(false),
        },
    };
    if c.command.is_some() && !matches!(probe, Probe::Command { .. }) {
        return Err(SpecError::field(
            format!("{at}.command"),
            format!("only for protocol COMMAND, not {}", protocol.as_str()),
        ));
    }
    let max = c.max_consecutive_failures.unwrap_or(MAX_FAILURES);
    Ok(HealthCheck {
        probe,
        side,
        grace_secs: f64::from(c.grace_period_seconds.unwrap_or(GRACE)),
        interval_secs: f64::from(interval),
        timeout_secs: f64::from(timeout),
        delay_secs: f64::from(c.delay_seconds.unwrap_or(DELAY)),
        kill_after: match side {
            Side::Host => Some(max).filter(|m| *m > 0),
            Side::Container => Some(max.max(1)),
        },
        max_failures: max,
    })
}

/// `port` wins over `portIndex` (default 0), which must name one of the app's ports.
fn port(c: &AppHealthCheck, ports: &[PortMapping], at: &str) -> Result<CheckPort> {
    if let Some(p) = c.port {
        if p == 0 {
            return Err(SpecError::field(format!("{at}.port"), "must not be 0"));
        }
        return Ok(CheckPort::Number(p));
    }
    let i = usize::from(c.port_index.unwrap_or(0));
    if i >= ports.len() {
        return Err(SpecError::field(
            format!("{at}.portIndex"),
            format!("{i}, but the app has {} port(s)", ports.len()),
        ));
    }
    Ok(CheckPort::Index(i))
}
