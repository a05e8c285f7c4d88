//! The isolator with the real bridge, host-local and portmap plugins (Debian's containernetworking-plugins), on a
//! bridge and subnet of this test's own, with its address leases in a tempdir. Traffic stays on this host:
//! loopback and the test's own namespaces. Skipped without root or without the plugins.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use super::*;

const PLUGINS: &str = "/usr/lib/cni";

/// Removes the test's bridge even when an assertion fails.
struct Bridge(String);

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.0])
            .status();
    }
}

fn veths() -> usize {
    std::fs::read_dir("/sys/class/net")
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("veth"))
                .count()
        })
        .unwrap_or(0)
}

fn iptables_mentions(what: &str) -> usize {
    let out = std::process::Command::new("iptables-save").output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains(what))
            .count()
    })
    .unwrap_or(0)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// A one-shot echo server on port 8080 inside the namespace at `ns`.
fn echo_server(ns: &Path) -> std::thread::JoinHandle<()> {
    let listener =
        netns::within(ns, || TcpListener::bind("0.0.0.0:8080")).expect("listen in netns");
    std::thread::spawn(move || {
        for _ in 0..3 {
            if let Ok((mut s, _)) = listener.accept() {
                let mut b = [0u8; 5];
                if s.read_exact(&mut b).is_ok() {
                    let _ = s.write_all(&b);
                }
            }
        }
    })
}

fn echo(addr: String) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(
        &addr.parse().map_err(std::io::Error::other)?,
        Duration::from_secs(5),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"hello")?;
    let mut b = [0u8; 5];
    s.read_exact(&mut b)?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

#[test]
fn bridge_host_local_portmap_round_trip() {
    if !root() || !Path::new(PLUGINS).join("portmap").exists() {
        return eprintln!("skipped: needs root and {PLUGINS}");
    }
    let pid = std::process::id();
    let bridge = Bridge(format!("ucrt{}", pid % 100_000));
    let a = Env::new(&format!("real-a-{pid}"), NetworkMode::Cni("ucrtest".into()));
    let mut b = Env::new(&format!("real-b-{pid}"), NetworkMode::Cni("ucrtest".into()));
    let conf = a.dir.path().join("conf");
    let leases = a.dir.path().join("leases");
    std::fs::create_dir_all(&conf).expect("conf");
    let subnet = format!("10.{}.{}.0/24", 200 + (pid % 50), pid % 250);
    let list = json!({
        "cniVersion": "1.0.0", "name": "ucrtest",
        "plugins": [
            {"type": "bridge", "bridge": bridge.0, "isGateway": true, "ipMasq": true, "hairpinMode": true,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]], "dataDir": leases}},
            {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
        ]
    });
    std::fs::write(conf.join("ucrtest.conflist"), list.to_string()).expect("write conf");
    let (veths_before, rules_before) = (veths(), iptables_mentions(&a.id));
    let cni = a.cni(&conf, Path::new(PLUGINS));
    let mut a = a;
    let host_port = free_port();
    a.ports = vec![port(host_port, 8080)];
    a.network.port_mappings = a.ports.clone();

    let started = std::time::Instant::now();
    let out_a = cni
        .prepare(&a.container(), &a.request())
        .expect("prepare a");
    eprintln!("CNI ADD (bridge+portmap) took {:?}", started.elapsed());
    let ip_a = out_a.env[0].1.clone();
    assert!(
        ip_a.starts_with(&format!("10.{}.", 200 + (pid % 50))),
        "{ip_a}"
    );
    assert_eq!(veths(), veths_before + 1);
    assert!(
        iptables_mentions(&a.id) > rules_before,
        "portmap and masquerade rules name the container"
    );
    let server = echo_server(&a.module().join("netns"));

    // The host reaches it on its host port, through loopback (portmap's snat + route_localnet) ...
    assert_eq!(
        echo(format!("127.0.0.1:{host_port}")).expect("via 127.0.0.1:hostPort"),
        "hello"
    );
    // ... and another container on the bridge reaches its address directly.
    b.hostname = Some("peer".into());
    let out_b = cni
        .prepare(&b.container(), &b.request())
        .expect("prepare b");
    assert_ne!(out_b.env[0].1, ip_a, "distinct addresses");
    let to_a = format!("{ip_a}:8080");
    let got = netns::within(&b.module().join("netns"), move || echo(to_a)).expect("from b");
    assert_eq!(got, "hello");
    let hosts = std::fs::read_to_string(b.module().join("hosts")).unwrap_or_default();
    assert!(
        hosts.ends_with(&format!("{}\tpeer\n", out_b.env[0].1)),
        "{hosts}"
    );
    let _ = echo(format!("{ip_a}:8080"));
    let _ = server.join();

    let lease_files = |net: &Path| {
        std::fs::read_dir(net.join("ucrtest"))
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("10."))
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(lease_files(&leases), 2);
    let started = std::time::Instant::now();
    cni.cleanup(&a.container()).expect("cleanup a");
    eprintln!("CNI DEL (bridge+portmap) took {:?}", started.elapsed());
    cni.cleanup(&b.container()).expect("cleanup b");
    b.ports.clear();
    assert_eq!(veths(), veths_before, "veths gone");
    assert_eq!(iptables_mentions(&a.id), rules_before, "rules gone");
    assert_eq!(lease_files(&leases), 0, "leases released");
    assert!(
        echo(format!("127.0.0.1:{host_port}")).is_err(),
        "host port unmapped"
    );
}
