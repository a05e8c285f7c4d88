//! Host ports for a container's port mappings, and the Marathon port variables. A mapping with host port 0 gets
//! a free port from the agent's `ports` range (default 31000–32000, as Mesos agents offer), skipping ports held by
//! other live containers and ports something on the host is already bound to; an explicit host port outside the
//! range or already taken is an error naming it. The allocation is recorded in the container's state, so the
//! next launch sees it (`ucr inspect` shows it). Network plumbing for the mappings (CNI portmap) is the network
//! isolator's; this only decides the numbers.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

use super::error::Result;
use super::launch::launch_err;
use super::ops;
use super::paths::Paths;
use crate::spec::{ContainerConfig, PortMapping, Source};

pub const DEFAULT_RANGE: (u16, u16) = (31000, 32000);

fn bindable(port: u16, proto: &str) -> bool {
    let addr = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    if proto == "udp" {
        UdpSocket::bind(addr).is_ok()
    } else {
        TcpListener::bind(addr).is_ok()
    }
}

/// Held from allocation until the allocation is checkpointed, so two launches never pick the same port.
pub struct PortLock(#[allow(dead_code)] std::fs::File);

pub fn lock(paths: &Paths) -> Result<PortLock> {
    let p = paths.runtime_dir.join("ports.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| super::error::ContainerError::io(&p, e))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| super::error::ContainerError::io(&p, e.into()))?;
    Ok(PortLock(f))
}

/// The mappings with every host port decided (container port 0 = the host port). Call under `lock`.
pub fn allocate(paths: &Paths, cfg: &ContainerConfig) -> Result<Vec<PortMapping>> {
    let range = cfg
        .resources
        .ports
        .first()
        .copied()
        .unwrap_or(DEFAULT_RANGE);
    let mut taken: Vec<u16> = ops::list(paths)?
        .into_iter()
        .filter(|c| c.id != cfg.id && ops::is_live(c))
        .flat_map(|c| c.ports.into_iter().map(|p| p.host_port))
        .collect();
    let mut out = Vec::new();
    for m in &cfg.network.port_mappings {
        let host = if m.host_port == 0 {
            let found =
                (range.0..=range.1).find(|p| !taken.contains(p) && bindable(*p, &m.protocol));
            found.ok_or_else(|| {
                launch_err(
                    &cfg.id,
                    "isolating",
                    format!(
                        "no free {} port left in {}-{}",
                        m.protocol, range.0, range.1
                    ),
                    125,
                )
            })?
        } else {
            let p = m.host_port;
            if taken.contains(&p) || !bindable(p, &m.protocol) {
                return Err(launch_err(
                    &cfg.id,
                    "isolating",
                    format!("host port {p}/{} is already in use", m.protocol),
                    125,
                ));
            }
            p
        };
        taken.push(host);
        out.push(PortMapping {
            host_port: host,
            container_port: if m.container_port == 0 {
                host
            } else {
                m.container_port
            },
            protocol: m.protocol.clone(),
            name: m.name.clone(),
        });
    }
    Ok(out)
}

/// Marathon's task variables for ports: PORT0…, PORT_<NAME>, PORTS, and HOST (the agent's hostname).
pub fn marathon_env(cfg: &ContainerConfig, mappings: &[PortMapping]) -> Vec<(String, String)> {
    if cfg.source != Source::Marathon {
        return Vec::new();
    }
    let mut env = Vec::new();
    for (i, m) in mappings.iter().enumerate() {
        env.push((format!("PORT{i}"), m.host_port.to_string()));
        if let Some(n) = &m.name {
            let name: String = n
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            env.push((format!("PORT_{name}"), m.host_port.to_string()));
        }
    }
    if let Some(first) = mappings.first() {
        env.push(("PORT".into(), first.host_port.to_string()));
    }
    let ports: Vec<String> = mappings.iter().map(|m| m.host_port.to_string()).collect();
    env.push(("PORTS".into(), ports.join(",")));
    env.push((
        "HOST".into(),
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned(),
    ));
    env
}
