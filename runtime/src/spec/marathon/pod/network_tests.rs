//! The network rules of `marathon::pod` (`network.rs`, `health.rs`): networks, endpoints → the parent's port
//! mappings → the endpoint variables, and health checks by endpoint.

use serde_json::{json, Value};

use super::tests::{err, ok, sleeper};
use crate::spec::config::{NetworkMode, PortMapping};
use crate::spec::health::{CheckCommand, CheckPort, Probe, Side};
use crate::spec::pod::endpoint_env;

fn with_endpoints(networks: Value, a: Value, b: Value) -> Value {
    let mut pod =
        json!({"id": "/p", "containers": [sleeper("a"), sleeper("b")], "networks": networks});
    pod["containers"][0]["endpoints"] = a;
    pod["containers"][1]["endpoints"] = b;
    pod
}

/// What the runtime does before `endpoint_env`: dynamic host ports allocated, a container port 0 made the host
/// port.
fn allocate(ms: &[PortMapping], mut next: u16) -> Vec<PortMapping> {
    ms.iter()
        .map(|m| {
            let host = if m.host_port == 0 {
                next += 1;
                next
            } else {
                m.host_port
            };
            let container = if m.container_port == 0 {
                host
            } else {
                m.container_port
            };
            PortMapping {
                host_port: host,
                container_port: container,
                ..m.clone()
            }
        })
        .collect()
}

#[test]
fn host_endpoints_become_the_parents_mappings_and_endpoint_env() {
    let pod = with_endpoints(
        json!([{"mode": "host"}]),
        json!([{"name": "http-api", "hostPort": 0, "protocol": ["tcp", "http"]}, {"name": "fixed", "hostPort": 31999}]),
        json!([{"name": "dns", "protocol": ["udp", "tcp"]}]),
    );
    let p = ok(&pod);
    assert_eq!(p.parent.network.mode, NetworkMode::Host);
    let ms: Vec<(u16, u16, &str, &str)> = p
        .parent
        .network
        .port_mappings
        .iter()
        .map(|m| {
            (
                m.host_port,
                m.container_port,
                m.protocol.as_str(),
                m.name.as_deref().unwrap_or(""),
            )
        })
        .collect();
    // `http` is a discovery name over TCP: one mapping; udp and tcp: two on one port.
    assert_eq!(
        ms,
        [
            (0, 0, "tcp", "http-api"),
            (31999, 0, "tcp", "fixed"),
            (0, 0, "udp", "dns"),
            (0, 0, "tcp", "dns")
        ]
    );
    let allocated = allocate(&p.parent.network.port_mappings, 31000);
    let env = endpoint_env(true, &allocated);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("ENDPOINT_HTTP_API"), Some("31001"));
    assert_eq!(get("EP_HOST_HTTP_API"), Some("31001"));
    assert_eq!(get("EP_CONTAINER_HTTP_API"), None);
    assert_eq!(get("ENDPOINT_FIXED"), Some("31999"));
    assert!(get("ENDPOINT_DNS").is_some());
    // Marathon refuses a container port on the host network, and absent networks are the host's.
    let cp = with_endpoints(
        json!(null),
        json!([{"name": "x", "containerPort": 80}]),
        json!([]),
    );
    assert!(err(&cp)
        .starts_with("containers[0].endpoints[0].containerPort: not allowed with host networking"));
    let dup = with_endpoints(
        json!([{"mode": "host"}]),
        json!([{"name": "x"}]),
        json!([{"name": "x"}]),
    );
    assert!(
        err(&dup).starts_with("containers[1].endpoints[0].name: endpoint \"x\" is defined twice")
    );
    let ports = with_endpoints(
        json!([{"mode": "host"}]),
        json!([{"name": "x", "hostPort": 31001}]),
        json!([{"name": "y", "hostPort": 31001}]),
    );
    assert!(err(&ports).starts_with("containers[1].endpoints[0].hostPort: port 31001 is used"));
}

#[test]
fn container_and_bridge_endpoints() {
    let pod = with_endpoints(
        json!([{"mode": "container", "name": "dcos"}]),
        json!([{"name": "web", "containerPort": 80, "hostPort": 0}]),
        json!([{"name": "admin", "containerPort": 9000}]),
    );
    let p = ok(&pod);
    assert_eq!(p.parent.network.mode, NetworkMode::Cni("dcos".into()));
    let allocated = allocate(&p.parent.network.port_mappings, 31000);
    let env = endpoint_env(false, &allocated);
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("ENDPOINT_WEB"), Some("80"));
    assert_eq!(get("EP_CONTAINER_WEB"), Some("80"));
    assert_eq!(get("EP_HOST_WEB"), Some("31001"));
    assert_eq!(get("ENDPOINT_ADMIN"), Some("9000"));
    let missing = with_endpoints(
        json!([{"mode": "container", "name": "n"}]),
        json!([{"name": "w"}]),
        json!([]),
    );
    assert_eq!(
        err(&missing),
        "containers[0].endpoints[0].containerPort: missing: required on a container network"
    );
    let bridge = with_endpoints(
        json!([{"mode": "container/bridge"}]),
        json!([{"name": "w"}]),
        json!([]),
    );
    let p = ok(&bridge);
    assert_eq!(
        p.parent.network.mode,
        NetworkMode::Cni("mesos-bridge".into())
    );
    assert_eq!(p.parent.network.port_mappings[0].container_port, 0);
    let named = with_endpoints(
        json!([{"mode": "container", "name": "a"}, {"mode": "container", "name": "b"}]),
        json!([{"name": "w", "containerPort": 80, "hostPort": 0, "networkNames": ["b"]}]),
        json!([]),
    );
    let p = ok(&named);
    assert_eq!(p.parent.network.extra_networks, ["b"]);
    assert_eq!(p.parent.network.port_mappings[0].networks, ["b"]);
    let ambiguous = with_endpoints(
        json!([{"mode": "container", "name": "a"}, {"mode": "container", "name": "b"}]),
        json!([{"name": "w", "containerPort": 80, "hostPort": 0}]),
        json!([]),
    );
    assert!(err(&ambiguous)
        .starts_with("containers[0].endpoints[0].networkNames: must name exactly one"));
}

#[test]
fn networks() {
    let net = |n: Value| {
        ok(&json!({"id": "/p", "containers": [sleeper("a")], "networks": n}))
            .parent
            .network
            .mode
    };
    assert_eq!(
        ok(&json!({"id": "/p", "containers": [sleeper("a")]}))
            .parent
            .network
            .mode,
        NetworkMode::Host
    );
    assert_eq!(net(json!([])), NetworkMode::Host);
    assert_eq!(net(json!([{"mode": "HOST"}])), NetworkMode::Host);
    assert_eq!(net(json!([{"name": "n1"}])), NetworkMode::Cni("n1".into()));
    let bad = |n: Value| err(&json!({"id": "/p", "containers": [sleeper("a")], "networks": n}));
    assert!(bad(json!([{"mode": "container"}])).starts_with("networks[0].name: missing"));
    assert!(
        bad(json!([{"mode": "host", "name": "x"}])).starts_with("networks[0].name: only for mode")
    );
    assert!(
        bad(json!([{"mode": "host"}, {"mode": "container", "name": "x"}]))
            .starts_with("networks[0]: ")
    );
    assert!(bad(json!([{"name": "x"}, {"name": "x"}]))
        .starts_with("networks[1].name: network \"x\" is given twice"));
    assert!(bad(json!([{"mode": "overlay"}])).starts_with("networks[0].mode: unknown variant"));
}

#[test]
fn health_checks_by_endpoint() {
    let mut pod = with_endpoints(
        json!([{"mode": "container", "name": "n"}]),
        json!([{"name": "web", "containerPort": 80}]),
        json!([{"name": "zero", "containerPort": 0, "hostPort": 0}]),
    );
    pod["containers"][0]["healthCheck"] =
        json!({"http": {"endpoint": "web", "path": "/ping", "scheme": "HTTPS"}});
    pod["containers"][1]["healthCheck"] = json!({"tcp": {"endpoint": "zero"}, "maxConsecutiveFailures": 0,
        "intervalSeconds": 5, "timeoutSeconds": 2});
    let p = ok(&pod);
    let hc = &p.children[0].health_checks[0];
    assert_eq!(hc.side, Side::Container);
    assert_eq!(
        hc.probe,
        Probe::Http {
            https: true,
            path: "/ping".into(),
            port: CheckPort::Number(80),
            ipv6: false,
            ignore_1xx: false
        }
    );
    assert_eq!(
        (
            hc.grace_secs,
            hc.interval_secs,
            hc.timeout_secs,
            hc.delay_secs
        ),
        (300.0, 60.0, 20.0, 15.0)
    );
    assert_eq!(hc.kill_after, Some(3));
    // A port only known once allocated is the index of the endpoint's mapping among the parent's.
    let hc = &p.children[1].health_checks[0];
    assert_eq!(
        hc.probe,
        Probe::Tcp {
            port: CheckPort::Index(1),
            ipv6: false
        }
    );
    assert_eq!(hc.kill_after, Some(1));
    // Only the container's own endpoints.
    let mut other = pod.clone();
    other["containers"][0]["healthCheck"]["http"]["endpoint"] = json!("zero");
    assert_eq!(
        err(&other),
        "containers[0].healthCheck.http.endpoint: \"zero\" is not one of the container's endpoints"
    );
    let mut slow = pod.clone();
    slow["containers"][0]["healthCheck"]["timeoutSeconds"] = json!(60);
    assert!(
        err(&slow).starts_with("containers[0].healthCheck.timeoutSeconds: 60 must be less than")
    );
    let mut two = pod.clone();
    two["containers"][0]["healthCheck"]["tcp"] = json!({"endpoint": "web"});
    assert_eq!(
        err(&two),
        "containers[0].healthCheck: give exactly one of http, tcp and exec"
    );
    let mut exec = pod;
    exec["containers"][0]["healthCheck"] =
        json!({"exec": {"command": {"argv": ["/bin/check", "-q"]}}});
    let p = ok(&exec);
    assert_eq!(
        p.children[0].health_checks[0].probe,
        Probe::Command {
            command: CheckCommand {
                shell: false,
                value: "/bin/check".into(),
                arguments: vec!["/bin/check".into(), "-q".into()],
                ..CheckCommand::default()
            }
        }
    );
    // Host networking with a dynamic host port.
    let mut host = with_endpoints(
        json!([{"mode": "host"}]),
        json!([{"name": "h"}]),
        json!([{"name": "f", "hostPort": 31500}]),
    );
    host["containers"][0]["healthCheck"] = json!({"http": {"endpoint": "h"}});
    host["containers"][1]["healthCheck"] = json!({"tcp": {"endpoint": "f"}});
    let p = ok(&host);
    assert!(matches!(
        p.children[0].health_checks[0].probe,
        Probe::Http {
            port: CheckPort::Index(0),
            ..
        }
    ));
    assert!(matches!(
        p.children[1].health_checks[0].probe,
        Probe::Tcp {
            port: CheckPort::Number(31500),
            ..
        }
    ));
}
