//! A container on two CNI networks at once (Marathon's several `container` networks, Mesos's several
//! `NetworkInfo`s): one interface per network (`eth0`, `eth1`), each port mapping on the network its
//! `networkNames` names, both networks in `network_infos`, and both attachments undone at `rm`.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::common::CMD_TIMEOUT;
use crate::network::support::*;

const SECOND: &str = "ucr-test-second";
const SECOND_BRIDGE: &str = "ucrt2br0";

/// The second network's bridge and leases go with the test, whatever it asserted.
struct SecondNet;

impl Drop for SecondNet {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", SECOND_BRIDGE])
            .output();
        let _ = std::fs::remove_dir_all(Path::new("/var/lib/cni/networks").join(SECOND));
    }
}

#[test]
fn a_marathon_app_on_two_networks_gets_an_interface_and_mappings_on_each() {
    let _s = serial();
    let (_reg, image) = busybox_registry();
    let n = Net::new();
    warm_up(&n, &image);
    let _second = SecondNet;
    let conf = json!({
        "cniVersion": "1.0.0", "name": SECOND,
        "plugins": [
            {"type": "bridge", "bridge": SECOND_BRIDGE, "isGateway": true,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.213.77.0/24"}]]}},
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    });
    std::fs::write(n.cni_dir.join("second.conflist"), conf.to_string()).expect("conf");
    let id = n.c.id("multi");
    let app = json!({
        "id": id,
        "cmd": "mkdir -p /a /b && echo first > /a/index.html && echo second > /b/index.html && \
                httpd -p 8080 -h /a && httpd -p 8081 -h /b && ls /sys/class/net | tr '\\n' ' ' && sleep 1000",
        "container": {"type": "MESOS", "docker": {"image": image},
            "portMappings": [
                {"containerPort": 8080, "name": "web", "networkNames": [NET]},
                {"containerPort": 8081, "name": "admin", "networkNames": [SECOND]}
            ]},
        "networks": [{"mode": "container", "name": NET}, {"mode": "container", "name": SECOND}]
    });
    let out =
        n.c.run_stdin(&n.args(&["launch", "-d", "-"]), &app.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    n.c.wait_running(&id);
    let v = n.inspect(&id);
    let infos = v["status"]["network_infos"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(infos.len(), 2, "{v}");
    assert_eq!(infos[0]["name"], NET, "{v}");
    assert_eq!(infos[1]["name"], SECOND, "{v}");
    let ip = infos[1]["ip_addresses"][0]["ip_address"]
        .as_str()
        .unwrap_or("");
    assert!(ip.starts_with("10.213.77."), "{v}");
    let host_port = |info: &serde_json::Value| {
        assert_eq!(
            info["port_mappings"].as_array().map(Vec::len),
            Some(1),
            "{info}"
        );
        info["port_mappings"][0]["host_port"].as_u64().unwrap_or(0) as u16
    };
    assert_eq!(infos[0]["port_mappings"][0]["container_port"], 8080, "{v}");
    assert_eq!(infos[1]["port_mappings"][0]["container_port"], 8081, "{v}");
    // Each host port reaches its own server, through its own network's port mapper.
    let deadline = std::time::Instant::now() + CMD_TIMEOUT;
    let (first, second) = loop {
        let got = (
            http_get(host_port(&infos[0]), "/"),
            http_get(host_port(&infos[1]), "/"),
        );
        if got.0.contains("first") && got.1.contains("second")
            || std::time::Instant::now() > deadline
        {
            break got;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        first.contains("first") && second.contains("second"),
        "{first:?} {second:?}"
    );
    let logs = n.ucr(&["logs", &id]).ok().stdout;
    assert!(logs.contains("eth0") && logs.contains("eth1"), "{logs}");
    // rm undoes both attachments: no lease is left on the second network.
    let out = n.ucr(&["rm", "--force", &id]);
    assert_eq!(out.code, 0, "{}", out.all());
    let leases = std::fs::read_dir(Path::new("/var/lib/cni/networks").join(SECOND))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("10."))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(leases, 0, "a lease of the second network is left");
}
