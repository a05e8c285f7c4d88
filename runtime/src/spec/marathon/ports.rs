//! Marathon `networks`, `portDefinitions`/`ports` and `portMappings` → the config's network and port mappings.
//!
//! Networks (MESOS-SEMANTICS.md): absent or `host` → the host's network; `container/bridge` → CNI network
//! `mesos-bridge`; `container` with a name → that CNI network. ucr joins one network, so several `container`
//! networks are an error. The deprecated `container.docker.network` is read when `networks` is absent.
//!
//! Ports follow Marathon's defaults so that `$PORT0` exists when Marathon would set it:
//! - container networks use `container.portMappings` (or the deprecated `container.docker.portMappings`);
//!   absent means one mapping `{containerPort: 0, hostPort: 0, name: "default"}`, `[]` means none. An absent
//!   `hostPort` is 0 (allocate one). Marathon allocates no host port for an absent `hostPort` on a named
//!   `container` network; ucr cannot express "no host port" and allocates one.
//! - host networking uses `portDefinitions` (or the deprecated `ports`); absent means `[{port: 0, name:
//!   "default"}]`. Each becomes a mapping with `container_port` 0 (the process listens on the host port itself)
//!   and `host_port` = `port` when `requirePorts` is true, else 0 (Marathon then treats `port` as a service port).
//! - `servicePort` is service discovery metadata and is dropped; a protocol `udp,tcp` gives one mapping per
//!   protocol. Port definitions on container networks and mappings on the host network are ignored, as Marathon
//!   ignores them.

use super::types::{App, ContainerPortMapping, DockerNetwork, NetworkMode as AppMode};
use crate::spec::config::{NetworkMode, NetworkSpec, PortMapping};
use crate::spec::error::{Result, SpecError};
use crate::spec::mesos::convert_container::{protocols, BRIDGE_NETWORK};

pub fn network(app: &App) -> Result<NetworkSpec> {
    let container = app.container.as_ref();
    let docker = container.and_then(|c| c.docker.as_ref());
    let mode = match (&app.networks, docker.and_then(|d| d.network)) {
        // Marathon 1.4's IP-per-task: `ipAddress.networkName` is the network joined (with docker.network USER
        // or none); Marathon 1.5+ still accepts the form.
        _ if app.ip_address.is_some() => legacy_ip_address(app)?,
        (Some(_), Some(_)) => {
            return Err(SpecError::field(
                "container.docker.network",
                "deprecated, and conflicts with networks; use networks only",
            ))
        }
        (Some(nets), None) => networks_mode(nets)?,
        (None, Some(n)) => match n {
            DockerNetwork::Host => NetworkMode::Host,
            DockerNetwork::Bridge => NetworkMode::Cni(BRIDGE_NETWORK.to_string()),
            DockerNetwork::None => NetworkMode::None,
            DockerNetwork::User => {
                return Err(SpecError::field(
                    "container.docker.network",
                    "USER needs a network name: use networks: [{\"mode\": \"container\", \"name\": ...}]",
                ))
            }
        },
        (None, None) => NetworkMode::Host,
    };
    let port_mappings = match &mode {
        NetworkMode::Cni(_) => container_ports(app)?,
        NetworkMode::Host => host_ports(app)?,
        NetworkMode::None => Vec::new(),
    };
    Ok(NetworkSpec {
        mode,
        port_mappings,
        ..NetworkSpec::default()
    })
}

fn legacy_ip_address(app: &App) -> Result<NetworkMode> {
    let docker = app.container.as_ref().and_then(|c| c.docker.as_ref());
    if app.networks.is_some() {
        return Err(SpecError::field(
            "ipAddress",
            "deprecated, and conflicts with networks; use networks only",
        ));
    }
    if let Some(n) = docker
        .and_then(|d| d.network)
        .filter(|n| *n != DockerNetwork::User)
    {
        return Err(SpecError::field(
            "container.docker.network",
            format!(
                "{} with ipAddress: ipAddress asks for a network of its own (USER)",
                n.as_str()
            ),
        ));
    }
    match app
        .ip_address
        .as_ref()
        .and_then(|ip| ip.network_name.as_deref())
    {
        Some(name) if !name.is_empty() => Ok(NetworkMode::Cni(name.to_string())),
        _ => Err(SpecError::field(
            "ipAddress.networkName",
            "missing: the network is joined by name (ucr has no --default_network_name)",
        )),
    }
}

fn networks_mode(nets: &[super::types::Network]) -> Result<NetworkMode> {
    let net = match nets {
        [] => return Ok(NetworkMode::Host),
        [one] => one,
        _ => {
            return Err(SpecError::field(
                "networks",
                "ucr joins one network per container; give a single entry",
            ))
        }
    };
    // Marathon's default mode is `container`.
    match (net.mode.unwrap_or(AppMode::Container), net.name.as_deref()) {
        (AppMode::Host, None) => Ok(NetworkMode::Host),
        (AppMode::ContainerBridge, None) => Ok(NetworkMode::Cni(BRIDGE_NETWORK.to_string())),
        (AppMode::Container, Some(name)) if !name.is_empty() => Ok(NetworkMode::Cni(name.to_string())),
        (AppMode::Container, _) => Err(SpecError::field(
            "networks[0].name",
            "missing: a \"container\" network is joined by name (ucr has no --default_network_name)",
        )),
        (other, Some(_)) => Err(SpecError::field(
            "networks[0].name",
            format!("only for mode \"container\", not {:?}", other.as_str()),
        )),
    }
}

fn container_ports(app: &App) -> Result<Vec<PortMapping>> {
    let container = app.container.as_ref();
    let current = container.and_then(|c| c.port_mappings.as_ref());
    let legacy = container
        .and_then(|c| c.docker.as_ref())
        .and_then(|d| d.port_mappings.as_ref());
    let (list, path): (Vec<&ContainerPortMapping>, &str) = match (current, legacy) {
        (Some(_), Some(_)) => {
            return Err(SpecError::field(
                "container.docker.portMappings",
                "deprecated, and conflicts with container.portMappings; use the latter only",
            ))
        }
        (Some(l), None) => (l.iter().collect(), "container.portMappings"),
        (None, Some(l)) => (l.iter().collect(), "container.docker.portMappings"),
        (None, None) => {
            return Ok(vec![PortMapping {
                host_port: 0,
                container_port: 0,
                protocol: "tcp".into(),
                name: Some("default".into()),
            }])
        }
    };
    let mut out = Vec::new();
    for (i, m) in list.into_iter().enumerate() {
        for protocol in protocols(m.protocol.as_deref(), &format!("{path}[{i}].protocol"))? {
            out.push(PortMapping {
                host_port: m.host_port.unwrap_or(0),
                container_port: m.container_port.unwrap_or(0),
                protocol,
                name: m.name.clone(),
            });
        }
    }
    Ok(out)
}

fn host_ports(app: &App) -> Result<Vec<PortMapping>> {
    // (port, name, protocol, JSON path of the protocol)
    let defs: Vec<(u16, Option<String>, Option<String>, String)> =
        match (&app.port_definitions, &app.ports) {
            (Some(_), Some(_)) => {
                return Err(SpecError::field(
                    "ports",
                    "deprecated, and conflicts with portDefinitions; use the latter only",
                ))
            }
            (Some(defs), None) => defs
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    (
                        d.port.unwrap_or(0),
                        d.name.clone(),
                        d.protocol.clone(),
                        format!("portDefinitions[{i}].protocol"),
                    )
                })
                .collect(),
            (None, Some(ports)) => ports
                .iter()
                .map(|p| (*p, None, None, String::from("ports")))
                .collect(),
            (None, None) => vec![(0, Some("default".into()), None, String::new())],
        };
    let require = app.require_ports.unwrap_or(false);
    let mut out = Vec::new();
    for (port, name, protocol, path) in defs {
        for protocol in protocols(protocol.as_deref(), &path)? {
            out.push(PortMapping {
                host_port: if require { port } else { 0 },
                container_port: 0,
                protocol,
                name: name.clone(),
            });
        }
    }
    Ok(out)
}
