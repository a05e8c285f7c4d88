//! Marathon `networks`, `portDefinitions`/`ports` and `portMappings` → the config's network and port mappings.
//!
//! Networks (MESOS-SEMANTICS.md): absent or `host` → the host's network; `container/bridge` → CNI network
//! `mesos-bridge`; `container` with a name → that CNI network; several `container` networks → each joined, on
//! its own interface, with a port mapping on the networks its `networkNames` name (the first one without them;
//! Marathon's rule: with several networks, a `hostPort` needs exactly one name). The deprecated
//! `container.docker.network` is read when `networks` is absent.
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
    let mut extra_networks = Vec::new();
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
        (Some(nets), None) => {
            let (mode, extra) = networks_mode(nets)?;
            extra_networks = extra;
            mode
        }
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
        NetworkMode::Cni(first) => {
            let joined: Vec<&str> = std::iter::once(first.as_str())
                .chain(extra_networks.iter().map(String::as_str))
                .collect();
            container_ports(app, &joined)?
        }
        NetworkMode::Host => host_ports(app)?,
        NetworkMode::None => Vec::new(),
    };
    Ok(NetworkSpec {
        mode,
        port_mappings,
        extra_networks,
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

/// The first network's mode and the names of the further ones (pods use it too: their `networks` are the same
/// RAML type).
pub(super) fn networks_mode(nets: &[super::types::Network]) -> Result<(NetworkMode, Vec<String>)> {
    let net = match nets {
        [] => return Ok((NetworkMode::Host, Vec::new())),
        [one] => one,
        several => {
            // Several networks are container networks, each joined by name.
            let mut names = Vec::new();
            for (i, n) in several.iter().enumerate() {
                match (n.mode.unwrap_or(AppMode::Container), n.name.as_deref()) {
                    (AppMode::Container, Some(name)) if !name.is_empty() => {
                        names.push(name.to_string())
                    }
                    _ => {
                        return Err(SpecError::field(
                            format!("networks[{i}]"),
                            "with several networks each is a \"container\" network with a name",
                        ))
                    }
                }
            }
            let first = NetworkMode::Cni(names.remove(0));
            return Ok((first, names));
        }
    };
    // Marathon's default mode is `container`.
    let mode = match (net.mode.unwrap_or(AppMode::Container), net.name.as_deref()) {
        (AppMode::Host, None) => NetworkMode::Host,
        (AppMode::ContainerBridge, None) => NetworkMode::Cni(BRIDGE_NETWORK.to_string()),
        (AppMode::Container, Some(name)) if !name.is_empty() => NetworkMode::Cni(name.to_string()),
        (AppMode::Container, _) => {
            return Err(SpecError::field(
                "networks[0].name",
                "missing: a \"container\" network is joined by name (ucr has no --default_network_name)",
            ))
        }
        (other, Some(_)) => {
            return Err(SpecError::field(
                "networks[0].name",
                format!("only for mode \"container\", not {:?}", other.as_str()),
            ))
        }
    };
    Ok((mode, Vec::new()))
}

/// `networks` are the names of the networks joined (several only for `container` networks).
fn container_ports(app: &App, networks: &[&str]) -> Result<Vec<PortMapping>> {
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
                networks: Vec::new(),
            }])
        }
    };
    let mut out = Vec::new();
    for (i, m) in list.into_iter().enumerate() {
        let names = m.network_names.clone().unwrap_or_default();
        let at = format!("{path}[{i}].networkNames");
        if let Some(unknown) = names.iter().find(|n| !networks.contains(&n.as_str())) {
            return Err(SpecError::field(
                at,
                format!("{unknown:?} is not one of the app's networks"),
            ));
        }
        if networks.len() > 1 && m.host_port.is_some() && names.len() != 1 {
            return Err(SpecError::field(
                at,
                "must name exactly one network when hostPort is set and the app has several networks",
            ));
        }
        for protocol in protocols(m.protocol.as_deref(), &format!("{path}[{i}].protocol"))? {
            out.push(PortMapping {
                host_port: m.host_port.unwrap_or(0),
                container_port: m.container_port.unwrap_or(0),
                protocol,
                name: m.name.clone(),
                networks: names.clone(),
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
                networks: Vec::new(),
            });
        }
    }
    Ok(out)
}
