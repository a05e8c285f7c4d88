//! A pod's `networks` and its containers' `endpoints` → the parent's network: the mode, and every container's
//! endpoints as port mappings named after them, in the pod's order (Marathon `TaskGroupBuilder.buildMesosNetworks`,
//! `PodNormalization`, `PodsValidation.endpointValidator`).
//!
//! - `networks` absent or `[]`: the host's network (Mesos gets no NetworkInfo). Marathon then leaves the pod in
//!   no network mode at all for its endpoint variables; ucr treats it as `host` throughout, so `containerPort` is
//!   refused there as on an explicit `host` network (no document of Marathon's has one).
//! - `host`: an endpoint is its host port (`hostPort` absent or 0: allocated); `containerPort` is refused, as by
//!   Marathon.
//! - `container/bridge` (`mesos-bridge`): `hostPort` absent or 0 is allocated; `containerPort` absent or 0 is the
//!   host port.
//! - `container` (named CNI networks, several allowed): `containerPort` is required. Marathon binds no host port
//!   when `hostPort` is absent; a `PortMapping` has no way to say so (0 = allocate), so ucr allocates one, as it
//!   does for apps (`marathon/ports.rs`); the endpoint variables then carry an `EP_HOST_<NAME>` Marathon would not.
//! - `protocol`: Marathon advertises the names in service discovery and hands them to Mesos; `udp` binds UDP and
//!   any other name (`tcp`, `http`, ...) TCP; several give one mapping each, on one host port.

use super::super::ports::networks_mode;
use super::ctx::{check_name, first_duplicate};
use super::types::{Endpoint, Pod};
use crate::spec::config::{NetworkMode, NetworkSpec, PortMapping};
use crate::spec::error::{Result, SpecError};
use crate::spec::health::CheckPort;

/// The pod's network, with the port mappings of every endpoint.
pub fn network(pod: &Pod) -> Result<NetworkSpec> {
    let nets: &[super::super::types::Network] = pod.networks.as_deref().unwrap_or_default();
    let dup = first_duplicate(
        nets.iter()
            .enumerate()
            .filter_map(|(i, n)| Some((n.name.as_deref()?, format!("networks[{i}].name")))),
    );
    if let Some((at, name)) = dup {
        return Err(SpecError::field(
            at,
            format!("network {name:?} is given twice"),
        ));
    }
    let (mode, extra_networks) = networks_mode(nets)?;
    // The container networks' names, which `networkNames` may name: none for host and bridge networking.
    let named: Vec<&str> = match &mode {
        NetworkMode::Cni(first) if !is_bridge(nets) => std::iter::once(first.as_str())
            .chain(extra_networks.iter().map(String::as_str))
            .collect(),
        _ => Vec::new(),
    };
    let host = mode == NetworkMode::Host;
    let mut port_mappings = Vec::new();
    for (i, c) in pod.containers.iter().enumerate() {
        for (j, ep) in c.endpoints.iter().enumerate() {
            let at = format!("containers[{i}].endpoints[{j}]");
            port_mappings.extend(mappings(ep, host, &named, &at)?);
        }
    }
    unique_endpoints(pod)?;
    Ok(NetworkSpec {
        mode,
        port_mappings,
        extra_networks,
        ..NetworkSpec::default()
    })
}

fn is_bridge(nets: &[super::super::types::Network]) -> bool {
    use super::super::types::NetworkMode as Mode;
    nets.iter().any(|n| n.mode == Some(Mode::ContainerBridge))
}

/// One endpoint's mappings, one per protocol. `named` are the pod's container networks (empty: host or bridge).
fn mappings(ep: &Endpoint, host: bool, named: &[&str], at: &str) -> Result<Vec<PortMapping>> {
    check_name(&ep.name, &format!("{at}.name"))?;
    let container_port = match (host, named.is_empty(), ep.container_port) {
        (true, _, Some(_)) => {
            return Err(SpecError::field(
                format!("{at}.containerPort"),
                "not allowed with host networking (the task listens on the host port itself)",
            ))
        }
        (false, false, None) => {
            return Err(SpecError::field(
                format!("{at}.containerPort"),
                "missing: required on a container network",
            ))
        }
        (_, _, p) => p.unwrap_or(0),
    };
    if let Some(n) = ep
        .network_names
        .iter()
        .find(|n| !named.contains(&n.as_str()))
    {
        return Err(SpecError::field(
            format!("{at}.networkNames"),
            format!("{n:?} is not one of the pod's container networks"),
        ));
    }
    if named.len() > 1 && ep.host_port.is_some() && ep.network_names.len() != 1 {
        return Err(SpecError::field(
            format!("{at}.networkNames"),
            "must name exactly one network when hostPort is set and the pod has several container networks",
        ));
    }
    let mut protocols: Vec<&str> = Vec::new();
    for (k, p) in ep.protocol.iter().enumerate() {
        if ep.protocol[..k].contains(p) {
            return Err(SpecError::field(
                format!("{at}.protocol[{k}]"),
                format!("{p:?} is given twice"),
            ));
        }
        let bound = if p.eq_ignore_ascii_case("udp") {
            "udp"
        } else {
            "tcp"
        };
        if !protocols.contains(&bound) {
            protocols.push(bound);
        }
    }
    if protocols.is_empty() {
        protocols.push("tcp");
    }
    Ok(protocols
        .into_iter()
        .map(|protocol| PortMapping {
            host_port: ep.host_port.unwrap_or(0),
            container_port,
            protocol: protocol.to_string(),
            name: Some(ep.name.clone()),
            networks: ep.network_names.clone(),
        })
        .collect())
}

/// Marathon's pod-wide rules: endpoint names, non-zero container ports and non-zero host ports are each unique
/// across all containers.
fn unique_endpoints(pod: &Pod) -> Result<()> {
    let all: Vec<(String, &Endpoint)> = pod
        .containers
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            c.endpoints
                .iter()
                .enumerate()
                .map(move |(j, e)| (format!("containers[{i}].endpoints[{j}]"), e))
        })
        .collect();
    let names = all
        .iter()
        .map(|(at, e)| (e.name.as_str(), format!("{at}.name")));
    if let Some((at, name)) = first_duplicate(names) {
        return Err(SpecError::field(
            at,
            format!("endpoint {name:?} is defined twice in the pod (names are unique across containers)"),
        ));
    }
    let ports = |f: fn(&Endpoint) -> Option<u16>, field: &str| -> Result<()> {
        let strings: Vec<(String, String)> = all
            .iter()
            .filter_map(|(at, e)| {
                f(e).filter(|p| *p != 0)
                    .map(|p| (p.to_string(), format!("{at}.{field}")))
            })
            .collect();
        match first_duplicate(strings.iter().map(|(p, at)| (p.as_str(), at.clone()))) {
            Some((at, port)) => Err(SpecError::field(
                at,
                format!("port {port} is used by another endpoint of the pod"),
            )),
            None => Ok(()),
        }
    };
    ports(|e| e.container_port, "containerPort")?;
    ports(|e| e.host_port, "hostPort")
}

/// The port a Mesos health check of endpoint `name` targets (Marathon `MesosHealthCheck.effectivePort`: the
/// container port where the network has one, else the host port): a number when the definition fixes it, else
/// the index of the endpoint's first mapping among the parent's, resolved once its ports are allocated.
pub fn check_port(net: &NetworkSpec, name: &str) -> Option<CheckPort> {
    let (i, m) = net
        .port_mappings
        .iter()
        .enumerate()
        .find(|(_, m)| m.name.as_deref() == Some(name))?;
    let fixed = if net.mode == NetworkMode::Host {
        m.host_port
    } else if m.container_port != 0 {
        m.container_port
    } else {
        m.host_port
    };
    Some(if fixed != 0 {
        CheckPort::Number(fixed)
    } else {
        CheckPort::Index(i)
    })
}
