//! End-to-end network tests: the real `ucr` binary, as root, with Debian's real CNI plugins (bridge, host-local,
//! portmap) on the bundled `mesos-bridge` network, which ucr writes into each test's own
//! `--network_cni_config_dir`. Traffic stays on this host: the host's loopback, the bridge, and the
//! containers' own namespaces.
//!
//! The tests share host-wide things (the `mesos-cni0` bridge, iptables, host-local's leases in
//! /var/lib/cni/networks/mesos-bridge) and some count them before and after, so each holds the host alone
//! ([`support::serial`]). Every container is removed by [`Containers`] even when an assertion fails; `rm --force` runs
//! the CNI DEL, and the tempdir's mounts (network namespace files included) are unmounted after it.

pub mod support;

use std::time::{Duration, Instant};

use crate::common::CMD_TIMEOUT;
use serde_json::Value;
use support::*;
use ucr_fixtures::image::{busybox_builder, Compression, ManifestFormat};
use ucr_fixtures::registry::Registry;

#[test]
fn bridge_container_serves_on_its_host_port_and_to_a_peer() {
    let _s = serial();
    let (_reg, image) = busybox_registry();
    let n = Net::new();
    let web = n.c.id("web");
    let script = "mkdir -p /www && echo \"hello from $MESOS_CONTAINER_IP\" > /www/index.html && exec httpd -f -p 8080 -h /www";
    let started = Instant::now();
    let out = n.ucr(&[
        "run",
        "-d",
        "--name",
        &web,
        "--network",
        NET,
        "-p",
        "8080",
        "--hostname",
        "web1",
        &image,
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    eprintln!("bridge launch (first, pulls): {:?}", started.elapsed());
    n.c.wait_running(&web);
    let v = n.inspect(&web);
    let (ip, port) = ip_and_port(&v);
    assert!(
        (31000..=32000).contains(&port),
        "host port from the agent's range: {v}"
    );
    assert_eq!(v["ports"][0]["host_port"], port, "{v}");
    assert_eq!(
        v["status"]["network_infos"][0]["port_mappings"][0]["container_port"], 8080,
        "{v}"
    );
    assert!(ip.starts_with("172.") || ip.starts_with("10."), "{ip}");

    // From the host, on its loopback: portmap DNATs 127.0.0.1:<hostPort> (with `snat`, route_localnet on the
    // bridge) to the container.
    assert_eq!(http_get(port, "/"), format!("hello from {ip}\n"));
    // That traffic shows in its statistics (its interfaces, read inside its namespace).
    let stats = n.ucr(&["stats", "--json", &web]).ok();
    let s: Value = serde_json::from_str(stats.stdout.trim()).expect("stats --json");
    assert!(s["net_rx_packets"].as_u64().unwrap_or(0) > 0, "{s}");
    assert!(s["net_tx_bytes"].as_u64().unwrap_or(0) > 0, "{s}");

    // From another container on the same bridge, to the first one's address.
    let url = format!("http://{ip}:8080/");
    let peer = n.c.id("peer");
    let out = n.ucr(&[
        "run", "--rm", "--name", &peer, "--network", NET, &image, "sh", "-c",
        &format!("wget -q -O- {url}; hostname; grep -c . /etc/resolv.conf; grep \"$(hostname)\" /etc/hosts"),
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("hello from {ip}").as_str()),
        "{}",
        out.stdout
    );
    // Its own hostname (the id, cut to a hostname), a resolv.conf, and /etc/hosts mapping the name to its IP.
    assert_eq!(lines.get(1).copied(), Some(peer.as_str()), "{}", out.stdout);
    assert!(
        lines
            .get(2)
            .is_some_and(|n| n.parse::<u32>().unwrap_or(0) > 0),
        "{}",
        out.stdout
    );
    assert!(
        lines
            .get(3)
            .is_some_and(|l| l.ends_with(&peer) && !l.starts_with("127.")),
        "{}",
        out.stdout
    );

    n.ucr(&["rm", "--force", &web]).ok();
    assert_eq!(rules_of(&web), 0, "rm removes its iptables rules");
}

#[test]
fn none_has_only_loopback_and_host_sees_the_hosts_interfaces() {
    let _s = serial();
    let (_reg, image) = busybox_registry();
    let n = Net::new();
    let out = n.ucr(&[
        "run",
        "--rm",
        "--network",
        "none",
        &image,
        "sh",
        "-c",
        "ip -o link; ip -o -4 addr",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let links: Vec<&str> = out.stdout.lines().filter(|l| l.contains("link/")).collect();
    assert_eq!(links.len(), 1, "{}", out.stdout);
    assert!(
        links[0].contains(": lo:") && links[0].contains("UP"),
        "lo is up: {}",
        out.stdout
    );
    assert!(out.stdout.contains("inet 127.0.0.1/8"), "{}", out.stdout);

    // Host networking (the default): the host's interfaces, by name.
    let mut host: Vec<String> = std::fs::read_dir("/sys/class/net")
        .expect("/sys/class/net")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    host.sort();
    let out = n.ucr(&["run", "--rm", &image, "ls", "/sys/class/net"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let mut seen: Vec<String> = out.stdout.split_whitespace().map(str::to_string).collect();
    seen.sort();
    assert_eq!(seen, host);
}

#[test]
fn twenty_containers_get_distinct_ports_and_rm_leaves_nothing() {
    let _s = serial();
    let (_reg, image) = busybox_registry();
    let n = Net::new();
    warm_up(&n, &image);
    let before = host_net();
    let ids: Vec<String> = (0..20).map(|i| n.c.id(&format!("p{i}"))).collect();
    // All at once: the port lock and the CNI lock must keep them apart.
    let started = Instant::now();
    let launches: Vec<_> = ids
        .iter()
        .map(|id| {
            n.c.spawn(&n.args(&[
                "run",
                "-d",
                "--name",
                id,
                "--network",
                NET,
                "-p",
                "80",
                "-p",
                "53/udp",
                &image,
                "sleep",
                "1000",
            ]))
        })
        .collect();
    for (id, l) in ids.iter().zip(launches) {
        let out = l.wait_for(CMD_TIMEOUT);
        assert_eq!(out.code, 0, "{id}: {}", out.all());
    }
    eprintln!(
        "20 bridge containers launched concurrently in {:?}",
        started.elapsed()
    );
    let mut ports = Vec::new();
    let mut ips = Vec::new();
    for id in &ids {
        let v = n.inspect(id);
        let (ip, _) = ip_and_port(&v);
        ips.push(ip);
        for m in v["ports"].as_array().expect("ports") {
            ports.push(m["host_port"].as_u64().unwrap_or(0) as u16);
        }
    }
    let mut distinct = ports.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 40, "distinct host ports: {ports:?}");
    assert!(
        ports.iter().all(|p| (31000..=32000).contains(p)),
        "{ports:?}"
    );
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 20, "distinct addresses");
    let during = host_net();
    assert_eq!(during.veths, before.veths + 20, "{during:?}");
    assert_eq!(during.leases, before.leases + 20, "{during:?}");
    assert!(rules_of(&ids[0]) > 0, "the container's rules exist");

    // A port held by a running container, and one outside the agent's range: one-line errors naming them.
    let taken = ports[0].to_string();
    for (publish, why) in [
        (
            format!("{taken}:80"),
            format!("host port {taken}/tcp is already in use"),
        ),
        (
            "80:80".to_string(),
            "host port 80/tcp is outside the agent's ports".to_string(),
        ),
    ] {
        let id = n.c.id("taken");
        let out = n.ucr(&[
            "run",
            "-d",
            "--name",
            &id,
            "--network",
            NET,
            "-p",
            &publish,
            &image,
            "true",
        ]);
        assert_eq!(out.code, 125, "{}", out.all());
        let err: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(err.len(), 1, "{}", out.stderr);
        assert!(
            err[0].starts_with("ucr: ") && err[0].contains(&why),
            "{}",
            out.stderr
        );
        n.ucr(&["rm", &id]).ok();
    }

    let started = Instant::now();
    let removals: Vec<_> = ids
        .iter()
        .map(|id| n.c.spawn(&n.args(&["rm", "--force", id])))
        .collect();
    for r in removals {
        r.wait_for(CMD_TIMEOUT).ok();
    }
    eprintln!(
        "20 bridge containers removed concurrently in {:?}",
        started.elapsed()
    );
    assert_eq!(
        host_net(),
        before,
        "veths, iptables rules, leases and netns mounts all gone"
    );
    assert!(ids.iter().all(|id| rules_of(id) == 0));
}

#[test]
fn rm_after_the_supervisor_was_killed_still_releases_the_network() {
    let _s = serial();
    let (_reg, image) = busybox_registry();
    let n = Net::new();
    warm_up(&n, &image);
    let before = host_net();
    let id = n.c.id("orphan");
    let out = n.ucr(&[
        "run",
        "-d",
        "--name",
        &id,
        "--network",
        NET,
        "-p",
        "80",
        &image,
        "sleep",
        "1000",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    n.c.wait_running(&id);
    let supervisor = n.c.ps(&id).expect("listed")["owner"]["pid"]
        .as_i64()
        .expect("owner pid") as i32;
    // SAFETY: kill(2) on the supervisor this test started; no memory effects.
    unsafe { libc::kill(supervisor, libc::SIGKILL) };
    let deadline = Instant::now() + CMD_TIMEOUT;
    while n.c.ps(&id).expect("listed")["lost"] != true {
        assert!(Instant::now() < deadline, "never reported lost");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(rules_of(&id) > 0, "nobody has cleaned up yet");
    // A fresh process, with only the checkpoint: CNI DEL, namespace unmounted, lease released.
    n.ucr(&["rm", "--force", &id]).ok();
    assert_eq!(rules_of(&id), 0);
    assert_eq!(host_net(), before);
}

#[test]
fn the_agent_ports_resource_bounds_host_ports() {
    let _s = serial();
    let (_reg, image) = busybox_registry();
    let n = Net::new();
    // A one-port range that nothing on this host binds.
    let port = (42000u16..43000)
        .find(|p| std::net::TcpListener::bind(("0.0.0.0", *p)).is_ok())
        .expect("a free port");
    let resources = format!("cpus:2;mem:512;ports:[{port}-{port}]");
    let a = n.c.id("res");
    let out = n.ucr(&[
        "--resources",
        &resources,
        "run",
        "-d",
        "--name",
        &a,
        "--network",
        NET,
        "-p",
        "80",
        &image,
        "sleep",
        "100",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(n.inspect(&a)["ports"][0]["host_port"], port);
    let b = n.c.id("res");
    let out = n.ucr(&[
        "--resources",
        &resources,
        "run",
        "-d",
        "--name",
        &b,
        "--network",
        NET,
        "-p",
        "80",
        &image,
        "true",
    ]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr
            .contains(&format!("no free tcp port left in [{port}-{port}]")),
        "{}",
        out.stderr
    );
    let out = n.ucr(&["--resources", "ports:[9-1]", "run", "--rm", &image, "true"]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr.starts_with("ucr: --resources ports:[9-1]: "),
        "{}",
        out.stderr
    );
}

/// A CNI plugin whose DEL fails while `<its dir>/fail-del` exists.
const FLAKY_PLUGIN: &str = "#!/bin/sh\ncat > /dev/null\n\
if [ \"$CNI_COMMAND\" = DEL ] && [ -e \"$(dirname \"$0\")/fail-del\" ]; then\n\
  echo '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"not now\"}'; exit 1\nfi\n\
[ \"$CNI_COMMAND\" = ADD ] && echo '{\"cniVersion\":\"1.0.0\",\"interfaces\":[],\"ips\":[]}'\nexit 0\n";

#[test]
fn a_del_that_failed_at_exit_is_retried_by_rm() {
    use std::os::unix::fs::PermissionsExt;
    let _s = serial();
    let (_reg, image) = busybox_registry();
    let n = Net::new();
    let bin = n.c.dir.path().join("cni-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::create_dir_all(&n.cni_dir).expect("conf");
    let plugin = bin.join("flaky");
    std::fs::write(&plugin, FLAKY_PLUGIN).expect("plugin");
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(
        n.cni_dir.join("flaky.conflist"),
        r#"{"cniVersion":"1.0.0","name":"flaky","plugins":[{"type":"flaky"}]}"#,
    )
    .expect("conf");
    std::fs::write(bin.join("fail-del"), b"").expect("marker");
    let id = n.c.id("flaky");
    let plugins = bin.to_str().expect("utf-8 path");
    let out = n.ucr(&[
        "--network_cni_plugins_dir",
        plugins,
        "run",
        "--name",
        &id,
        "--network",
        "flaky",
        &image,
        "true",
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    let v = n.c.ps(&id).expect("listed");
    assert!(
        v["termination"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("plugin flaky (DEL): not now"),
        "{v}"
    );
    let module =
        n.c.runtime_dir()
            .join("containers")
            .join(&id)
            .join("isolators/network-cni");
    assert!(module.join("cni.json").exists(), "kept for the retry");
    let out = n.ucr(&["rm", &id]);
    assert_ne!(out.code, 0, "still failing: {}", out.all());
    assert!(out.stderr.contains("not now"), "{}", out.stderr);
    std::fs::remove_file(bin.join("fail-del")).expect("marker");
    n.ucr(&["rm", &id]).ok();
    assert!(!module.exists());
}

/// Stand-in for `python3 -m http.server PORT` in a busybox image (as in tests/run_specs.rs): busybox httpd
/// serving the working directory (the sandbox) on that port, after writing the port to `port.txt` there.
const PYTHON_STAND_IN: &str = "#!/bin/sh\n\
[ \"$1 $2\" = \"-m http.server\" ] || { echo \"python3 stand-in: only -m http.server PORT\" >&2; exit 2; }\n\
echo \"$3\" > port.txt\n\
exec httpd -f -p \"$3\"\n";

#[test]
fn marathon_bridge_app_from_the_docs_runs_unchanged() {
    let _s = serial();
    // The document names Docker Hub's python:3: a local registry serves busybox with the stand-in under that
    // name, as a --registry-mirror.
    let shim = ucr_fixtures::image::LayerTar::new()
        .dir("usr/local/bin", 0o755)
        .file("usr/local/bin/python3", PYTHON_STAND_IN.as_bytes(), 0o755)
        .finish();
    let reg = Registry::plain();
    reg.push(
        "library/python",
        "3",
        &busybox_builder()
            .layer_tar(shim, Compression::Gzip)
            .build(ManifestFormat::Oci),
    );
    let mirror = format!("http://{}", reg.host);
    let n = Net::new();
    let file = format!(
        "{}/../fixtures/specs/marathon-basic-3-docker-bridge.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let id = "basic-3";
    let out = n.ucr(&["launch", &file, "--detach", "--registry-mirror", &mirror]);
    assert_eq!((out.code, out.stdout.trim()), (0, id), "{}", out.all());
    let _cleanup = RmOnDrop(&n, id);
    n.c.wait_running(id);
    let v = n.inspect(id);
    let (ip, port) = ip_and_port(&v);
    assert_eq!(
        v["status"]["network_infos"][0]["port_mappings"][0]["container_port"], 8080,
        "{v}"
    );
    // $PORT0 is the mapped host port.
    let bundle =
        n.c.runtime_dir()
            .join("containers")
            .join(id)
            .join("bundle/config.json");
    let spec: Value =
        serde_json::from_slice(&std::fs::read(&bundle).expect("bundle")).expect("json");
    let env: Vec<&str> = spec["process"]["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(env.contains(&format!("PORT0={port}").as_str()), "{env:?}");
    assert!(
        env.contains(&format!("MESOS_CONTAINER_IP={ip}").as_str()),
        "{env:?}"
    );
    // The app listens on its container port 8080; the host reaches it on $PORT0.
    assert_eq!(http_get(port, "/port.txt"), "8080\n");
}

/// Removes a container with a fixed id (a document's) when the test ends, however it ends.
struct RmOnDrop<'a>(&'a Net, &'a str);

impl Drop for RmOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.c.run_for(&["rm", "--force", self.1], CMD_TIMEOUT);
    }
}

#[test]
fn bridge_adds_little_to_a_launch() {
    let _s = serial();
    let (_reg, image) = busybox_registry();
    let n = Net::new();
    warm_up(&n, &image);
    let time = |net: &str| {
        let runs = 5;
        let started = Instant::now();
        for _ in 0..runs {
            let out = n.ucr(&["run", "--rm", "--network", net, &image, "true"]);
            assert_eq!(out.code, 0, "{}", out.all());
        }
        started.elapsed() / runs
    };
    let before = host_net();
    let (host, none, bridge) = (time("host"), time("none"), time(NET));
    assert_eq!(host_net(), before, "every run --rm cleaned up after itself");
    eprintln!("run --rm true: host {host:?}, none {none:?}, {NET} {bridge:?} (mean of 5)");
    // CNI ADD and DEL are tens of milliseconds each; a second would mean a sleep or a poll crept in.
    assert!(
        bridge < host + Duration::from_secs(1),
        "host {host:?}, bridge {bridge:?}"
    );
}
