//! Helpers of tests/network.rs: the per-test CNI config dir, the busybox registry, HTTP over loopback, and the
//! counts of what containers leave on the host (veths, iptables lines, host-local leases, netns mounts).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::common::{Containers, Run, CMD_TIMEOUT};
use serde_json::Value;

pub const NET: &str = "mesos-bridge";
pub const LEASES: &str = "/var/lib/cni/networks/mesos-bridge";

/// The network tests count host-wide things before and after: no other test may add to them meanwhile.
pub fn serial() -> crate::common::Exclusive {
    crate::common::exclusive()
}

/// A [`Containers`] whose commands all get `--network_cni_config_dir <its own dir>`.
pub struct Net {
    pub c: Containers,
    pub cni_dir: PathBuf,
}

impl Net {
    pub fn new() -> Net {
        let c = Containers::new();
        let cni_dir = c.dir.path().join("cni");
        Net { c, cni_dir }
    }

    pub fn ucr(&self, args: &[&str]) -> Run {
        self.c.run_for(&self.args(args), CMD_TIMEOUT)
    }

    pub fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let dir = self.cni_dir.to_str().unwrap_or("/nonexistent");
        let mut v = vec!["--network_cni_config_dir", dir];
        v.extend_from_slice(args);
        v
    }

    pub fn inspect(&self, id: &str) -> Value {
        let out = self.ucr(&["inspect", "--json", id]).ok();
        serde_json::from_str(out.stdout.trim()).expect("inspect --json")
    }
}

pub use crate::common::busybox_registry;

/// (container IP, host port of the first mapping) from `inspect`'s Mesos-shaped `network_infos`.
pub fn ip_and_port(v: &Value) -> (String, u16) {
    let info = &v["status"]["network_infos"][0];
    assert_eq!(info["name"], NET, "{v}");
    let ip = info["ip_addresses"][0]["ip_address"]
        .as_str()
        .unwrap_or_else(|| panic!("no ip in {info}"))
        .to_string();
    assert_eq!(info["ip_addresses"][0]["protocol"], "IPv4", "{info}");
    let port = info["port_mappings"][0]["host_port"].as_u64().unwrap_or(0) as u16;
    (ip, port)
}

/// One HTTP/1.0 GET on 127.0.0.1:`port`, retried while the server starts; the body.
pub fn http_get(port: u16, path: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
                .expect("send");
            let mut resp = String::new();
            // A connection accepted before httpd listens inside is reset: try again.
            if s.read_to_string(&mut resp).is_ok() && resp.contains("\r\n\r\n") {
                assert!(
                    resp.starts_with("HTTP/1.") && resp.contains(" 200 "),
                    "{resp}"
                );
                return resp
                    .split_once("\r\n\r\n")
                    .map(|(_, b)| b.to_string())
                    .unwrap_or_default();
            }
        }
        assert!(Instant::now() < deadline, "nothing serves 127.0.0.1:{port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What a container leaves on the host, to compare before and after.
#[derive(Debug, PartialEq)]
pub struct HostNet {
    pub veths: usize,
    pub rules: usize,
    pub leases: usize,
    pub nsfs_mounts: usize,
}

pub fn host_net() -> HostNet {
    let ip = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .expect("ip -o link");
    let rules = std::process::Command::new("iptables-save")
        .output()
        .expect("iptables-save");
    let leases = std::fs::read_dir(LEASES)
        .map(|rd| {
            rd.flatten()
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit())
                })
                .filter(|e| !e.file_name().to_string_lossy().starts_with("last_reserved"))
                .count()
        })
        .unwrap_or(0);
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    HostNet {
        veths: String::from_utf8_lossy(&ip.stdout)
            .lines()
            .filter(|l| l.contains("veth"))
            .count(),
        rules: String::from_utf8_lossy(&rules.stdout)
            .lines()
            .filter(|l| !l.starts_with('#'))
            .count(),
        leases,
        nsfs_mounts: mountinfo.lines().filter(|l| l.contains(" nsfs ")).count(),
    }
}

/// iptables lines naming container `id` (bridge's masquerade and portmap's rules carry it in a comment).
pub fn rules_of(id: &str) -> usize {
    let out = std::process::Command::new("iptables-save")
        .output()
        .expect("iptables-save");
    let needle = format!("id: \\\"{id}\\\"");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

/// Starts and removes one bridge container, so the bridge and the plugins' shared chains exist before a count.
pub fn warm_up(n: &Net, image: &str) {
    let out = n.ucr(&["run", "--rm", "--network", NET, "-p", "80", image, "true"]);
    assert_eq!(out.code, 0, "{}", out.all());
}
