//! Host ports for a container's port mappings, and the Marathon port variables.
//!
//! The agent offers a `ports` resource (`--resources 'ports:[31000-32000]'`, Mesos syntax; 31000–32000 by
//! default, as Mesos agents offer). A container that names its own `ports` resources (a Mesos
//! LAUNCH_CONTAINER) is given exactly those, which must lie in the agent's; any other gets the agent's. A
//! mapping with host port 0 gets the first free port of its ranges; an explicit host port outside them, held
//! by another live container, or already bound on the host is an error naming it. Container port 0 means the
//! host port. The allocation is checkpointed in the container's state under a lock, so concurrent launches
//! never pick the same port and `ucr inspect` shows it.
//!
//! Marathon splits a mapping with protocol `udp,tcp` into one mapping per protocol; those siblings (adjacent,
//! same container port, name and requested host port, another protocol) share one host port and one `PORTn`,
//! as one Marathon port does. Network plumbing for the mappings (CNI portmap) is the network isolator's; this
//! only decides the numbers.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

use super::error::{ContainerError, Result};
use super::paths::Paths;
use super::records;
use crate::spec::{ContainerConfig, NetworkMode, PortMapping, Source};

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
        .map_err(|e| ContainerError::io(&p, e))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| ContainerError::io(&p, e.into()))?;
    Ok(PortLock(f))
}

/// The agent's `ports` from a Mesos `--resources` value: `cpus:4;mem:1024;ports:[31000-32000,33000-33010]`
/// (a role, `ports(*):[...]`, is accepted), or the JSON form (`[{"name":"ports","type":"RANGES","ranges":
/// {"range":[{"begin":31000,"end":32000}]}}]`). None when it has no `ports` (the default range applies).
pub fn parse_resources(value: &str) -> std::result::Result<Option<Vec<(u16, u16)>>, String> {
    let value = value.trim();
    if value.starts_with('[') || value.starts_with('{') {
        return parse_json_resources(value);
    }
    let mut out: Option<Vec<(u16, u16)>> = None;
    for item in value.split(';').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, v) = item
            .split_once(':')
            .ok_or_else(|| format!("{item:?} is not NAME:VALUE"))?;
        let name = name.split('(').next().unwrap_or("").trim();
        if name != "ports" {
            continue;
        }
        let inner = v
            .trim()
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or_else(|| format!("ports:{v}: expected [BEGIN-END,...]"))?;
        let mut ranges = Vec::new();
        for r in inner.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (b, e) = r.split_once('-').unwrap_or((r, r));
            let num = |s: &str| {
                s.trim()
                    .parse::<u16>()
                    .map_err(|_| format!("ports:{v}: {s:?} is not a port"))
            };
            ranges.push(range(num(b)?, num(e)?, v)?);
        }
        out.get_or_insert_with(Vec::new).extend(ranges);
    }
    Ok(out)
}

fn range(b: u16, e: u16, what: &str) -> std::result::Result<(u16, u16), String> {
    if b == 0 || b > e {
        return Err(format!("ports {what}: {b}-{e} is not a range of ports"));
    }
    Ok((b, e))
}

fn parse_json_resources(value: &str) -> std::result::Result<Option<Vec<(u16, u16)>>, String> {
    let v: serde_json::Value = serde_json::from_str(value).map_err(|e| e.to_string())?;
    let list = match &v {
        serde_json::Value::Array(l) => l.clone(),
        one => vec![one.clone()],
    };
    let mut out: Option<Vec<(u16, u16)>> = None;
    for r in list.iter().filter(|r| r["name"] == "ports") {
        let items = r["ranges"]["range"]
            .as_array()
            .ok_or("ports: expected ranges.range[]")?;
        for item in items {
            let port = |k: &str| {
                item[k]
                    .as_u64()
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| format!("ports: {k} {} is not a port", item[k]))
            };
            let r = range(port("begin")?, port("end")?, "")?;
            out.get_or_insert_with(Vec::new).push(r);
        }
    }
    Ok(out)
}

fn show(ranges: &[(u16, u16)]) -> String {
    let parts: Vec<String> = ranges.iter().map(|(b, e)| format!("{b}-{e}")).collect();
    format!("[{}]", parts.join(","))
}

fn within(ranges: &[(u16, u16)], p: u16) -> bool {
    ranges.iter().any(|(b, e)| (*b..=*e).contains(&p))
}

/// Marathon's `udp,tcp` split: `b` follows `a` and is the same port for another protocol.
fn siblings(a: &PortMapping, b: &PortMapping) -> bool {
    a.container_port == b.container_port
        && a.name == b.name
        && a.host_port == b.host_port
        && a.protocol != b.protocol
}

/// The mappings with every host port decided, from `agent` (the agent's `ports`; empty = the default range).
/// Call under `lock`.
pub fn allocate_in(
    paths: &Paths,
    cfg: &ContainerConfig,
    agent: &[(u16, u16)],
) -> Result<Vec<PortMapping>> {
    let fail = |why: String| ContainerError::launch(&cfg.id, "preparing", why, 125);
    let agent = if agent.is_empty() {
        &[DEFAULT_RANGE][..]
    } else {
        agent
    };
    let own = &cfg.resources.ports;
    if let Some((b, e)) = own
        .iter()
        .find(|(b, e)| !agent.iter().any(|(ab, ae)| ab <= b && e <= ae))
    {
        return Err(fail(format!(
            "ports resource {b}-{e} is outside the agent's ports {} (--resources)",
            show(agent)
        )));
    }
    let ranges: &[(u16, u16)] = if own.is_empty() { agent } else { own };
    let mappings = &cfg.network.port_mappings;
    if mappings.is_empty() {
        return Ok(Vec::new());
    }
    // Another container's port is taken whatever the protocol: Mesos allocates a port, not a port/protocol.
    let others: Vec<u16> = records::list(paths)?
        .into_iter()
        .filter(|c| c.id != cfg.id && c.is_live())
        .flat_map(|c| c.ports.into_iter().map(|p| p.host_port))
        .collect();
    let mut out: Vec<PortMapping> = Vec::new();
    for (i, m) in mappings.iter().enumerate() {
        let proto = m.protocol.as_str();
        let used_here = |p: u16, out: &[PortMapping]| {
            out.iter().any(|o| o.host_port == p && o.protocol == proto)
        };
        let sibling_port = (i > 0 && siblings(&mappings[i - 1], m))
            .then(|| out.last().map(|o| o.host_port))
            .flatten();
        let host = if m.host_port != 0 {
            let p = m.host_port;
            if !within(ranges, p) {
                return Err(fail(format!(
                    "host port {p}/{proto} is outside the {} {}",
                    if own.is_empty() {
                        "agent's ports (--resources)"
                    } else {
                        "container's ports resource"
                    },
                    show(ranges)
                )));
            }
            if others.contains(&p) || used_here(p, &out) || !bindable(p, proto) {
                return Err(fail(format!("host port {p}/{proto} is already in use")));
            }
            p
        } else if let Some(p) = sibling_port.filter(|p| bindable(*p, proto)) {
            p
        } else {
            let free = ranges.iter().flat_map(|(b, e)| *b..=*e).find(|p| {
                !others.contains(p) && !out.iter().any(|o| o.host_port == *p) && bindable(*p, proto)
            });
            free.ok_or_else(|| fail(format!("no free {proto} port left in {}", show(ranges))))?
        };
        let container = if m.container_port == 0 {
            host
        } else {
            m.container_port
        };
        if cfg.network.mode == NetworkMode::Host && container != host {
            return Err(fail(format!(
                "port mapping {host}->{container}/{proto} needs a container network: on the host network the \
                 task listens on the host port itself"
            )));
        }
        out.push(PortMapping {
            host_port: host,
            container_port: container,
            protocol: m.protocol.clone(),
            name: m.name.clone(),
            networks: m.networks.clone(),
        });
    }
    Ok(out)
}

/// Marathon's task variables for ports: PORT0…, `PORT_<NAME>`, PORT, PORTS, and HOST (the agent's hostname).
/// Siblings of a `udp,tcp` mapping count once.
pub fn marathon_env(cfg: &ContainerConfig, mappings: &[PortMapping]) -> Vec<(String, String)> {
    if cfg.source != Source::Marathon {
        return Vec::new();
    }
    let host = || {
        let name = rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned();
        ("HOST".to_string(), name)
    };
    // A pod's member: its endpoints' variables come from the pod (`ENDPOINT_*`); Marathon gives it no PORT*.
    if cfg.nesting.is_some() {
        return vec![host()];
    }
    let ports: Vec<&PortMapping> = mappings
        .iter()
        .enumerate()
        .filter(|(i, m)| *i == 0 || !siblings(&mappings[i - 1], m))
        .map(|(_, m)| m)
        .collect();
    let mut env = Vec::new();
    for (i, m) in ports.iter().enumerate() {
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
    if let Some(first) = ports.first() {
        env.push(("PORT".into(), first.host_port.to_string()));
    }
    let list: Vec<String> = ports.iter().map(|m| m.host_port.to_string()).collect();
    env.push(("PORTS".into(), list.join(",")));
    env.push(host());
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::NetworkSpec;

    fn m(host: u16, cont: u16, proto: &str, name: Option<&str>) -> PortMapping {
        PortMapping {
            host_port: host,
            container_port: cont,
            protocol: proto.into(),
            name: name.map(str::to_string),
            networks: Vec::new(),
        }
    }

    fn cfg(id: &str, mode: NetworkMode, maps: Vec<PortMapping>) -> ContainerConfig {
        ContainerConfig {
            id: id.into(),
            network: NetworkSpec {
                mode,
                port_mappings: maps,
                ..NetworkSpec::default()
            },
            ..ContainerConfig::default()
        }
    }

    fn bridge() -> NetworkMode {
        NetworkMode::Cni("mesos-bridge".into())
    }

    /// A range of ports nothing on this host binds (checked), so the test does not depend on the machine.
    fn quiet_range() -> (u16, u16) {
        (41000u16..60000)
            .step_by(97)
            .map(|b| (b, b + 7))
            .find(|(b, e)| (*b..=*e).all(|p| bindable(p, "tcp") && bindable(p, "udp")))
            .unwrap_or((41000, 41007))
    }

    fn err(r: Result<Vec<PortMapping>>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn resources_flag() {
        assert_eq!(parse_resources("cpus:4;mem:1024"), Ok(None));
        assert_eq!(
            parse_resources("cpus:4; ports(*):[31000-31999, 33000-33000];mem:1"),
            Ok(Some(vec![(31000, 31999), (33000, 33000)]))
        );
        assert_eq!(
            parse_resources("ports:[8080]"),
            Ok(Some(vec![(8080, 8080)]))
        );
        let json = r#"[{"name":"cpus","type":"SCALAR","scalar":{"value":2}},
            {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":20000,"end":20100}]}}]"#;
        assert_eq!(parse_resources(json), Ok(Some(vec![(20000, 20100)])));
        for bad in [
            "ports:31000-32000",
            "ports:[2-1]",
            "ports:[0-5]",
            "ports:[x-9]",
            "cpus",
            "[{",
        ] {
            assert!(parse_resources(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allocation_from_the_range() {
        let d = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(d.path().join("root"), d.path().join("run"));
        let (b, e) = quiet_range();
        let agent = [(b, e)];
        let c = cfg(
            "a",
            bridge(),
            vec![m(0, 80, "tcp", None), m(0, 0, "udp", None)],
        );
        let got = allocate_in(&paths, &c, &agent).expect("allocate");
        assert_eq!(
            got,
            vec![m(b, 80, "tcp", None), m(b + 1, b + 1, "udp", None)]
        );

        // An explicit port: inside the range and free, else an error naming it.
        let c = cfg("a", bridge(), vec![m(b + 3, 8080, "tcp", None)]);
        assert_eq!(
            allocate_in(&paths, &c, &agent).expect("explicit")[0].host_port,
            b + 3
        );
        let c = cfg("a", bridge(), vec![m(1234, 80, "tcp", None)]);
        let e1 = err(allocate_in(&paths, &c, &agent));
        assert!(
            e1.contains("host port 1234/tcp is outside the agent's ports"),
            "{e1}"
        );
        let held = TcpListener::bind(("0.0.0.0", b + 4)).expect("hold a port");
        let c = cfg("a", bridge(), vec![m(b + 4, 80, "tcp", None)]);
        let e2 = err(allocate_in(&paths, &c, &agent));
        assert!(
            e2.contains(&format!("host port {}/tcp is already in use", b + 4)),
            "{e2}"
        );
        // Port 0 skips the held port.
        let c = cfg(
            "a",
            bridge(),
            (0..5).map(|_| m(0, 80, "tcp", None)).collect(),
        );
        let ports: Vec<u16> = allocate_in(&paths, &c, &agent)
            .expect("five")
            .iter()
            .map(|p| p.host_port)
            .collect();
        assert_eq!(ports, vec![b, b + 1, b + 2, b + 3, b + 5]);
        drop(held);
        let c = cfg(
            "a",
            bridge(),
            (0..9).map(|_| m(0, 80, "tcp", None)).collect(),
        );
        assert!(err(allocate_in(&paths, &c, &agent)).contains("no free tcp port left"));
    }

    #[test]
    fn siblings_own_resources_and_host_network() {
        let d = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(d.path().join("root"), d.path().join("run"));
        let (b, e) = quiet_range();
        let agent = [(b, e)];
        // Marathon `udp,tcp`: one host port, one PORTn.
        let mut c = cfg(
            "a",
            bridge(),
            vec![
                m(0, 53, "udp", Some("dns")),
                m(0, 53, "tcp", Some("dns")),
                m(0, 80, "tcp", Some("web")),
            ],
        );
        let got = allocate_in(&paths, &c, &agent).expect("siblings");
        assert_eq!(
            got.iter().map(|p| p.host_port).collect::<Vec<_>>(),
            vec![b, b, b + 1]
        );
        c.source = Source::Marathon;
        let env = marathon_env(&c, &got);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("PORT0"), Some(b.to_string()));
        assert_eq!(get("PORT1"), Some((b + 1).to_string()));
        assert_eq!(get("PORT2"), None);
        assert_eq!(get("PORT_WEB"), Some((b + 1).to_string()));
        assert_eq!(get("PORTS"), Some(format!("{b},{}", b + 1)));
        let explicit = cfg(
            "a",
            bridge(),
            vec![m(b + 2, 53, "udp", None), m(b + 2, 53, "tcp", None)],
        );
        assert!(allocate_in(&paths, &explicit, &agent).is_ok());

        // A container's own ports resource: used, and must lie in the agent's.
        let mut c = cfg("a", bridge(), vec![m(0, 80, "tcp", None)]);
        c.resources.ports = vec![(b + 6, b + 7)];
        assert_eq!(
            allocate_in(&paths, &c, &agent).expect("own")[0].host_port,
            b + 6
        );
        c.network.port_mappings = vec![m(b, 80, "tcp", None)];
        assert!(err(allocate_in(&paths, &c, &agent)).contains("container's ports resource"));
        c.resources.ports = vec![(b, e + 1)];
        assert!(err(allocate_in(&paths, &c, &agent)).contains("outside the agent's ports"));

        // Host network: nothing remaps, so a different container port is refused.
        let h = cfg(
            "a",
            NetworkMode::Host,
            vec![m(0, 0, "tcp", None), m(b + 3, b + 3, "tcp", None)],
        );
        assert!(allocate_in(&paths, &h, &agent).is_ok());
        let h = cfg("a", NetworkMode::Host, vec![m(0, 80, "tcp", None)]);
        assert!(err(allocate_in(&paths, &h, &agent)).contains("needs a container network"));
    }
}
