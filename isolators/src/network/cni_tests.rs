//! Tests of the `network/cni` isolator: the modes, checkpoint and cleanup with fake plugins (what the runtime
//! sends and keeps), and one attachment through the real bridge, host-local and portmap plugins on a private
//! bridge and subnet of the test's own. They need root (network namespaces) and skip without it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;
use crate::vocab::{Limits, LinuxSpec, NetworkSpec, Resources};

fn root() -> bool {
    rustix::process::geteuid().is_root()
}

struct Env {
    dir: tempfile::TempDir,
    state: PathBuf,
    id: String,
    network: NetworkSpec,
    ports: Vec<PortMapping>,
    hostname: Option<String>,
    resources: Resources,
    limits: Limits,
    linux: LinuxSpec,
}

impl Env {
    fn new(id: &str, mode: NetworkMode) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        Env {
            state: dir.path().join("state"),
            dir,
            id: id.to_string(),
            network: NetworkSpec {
                mode,
                ..NetworkSpec::default()
            },
            ports: Vec::new(),
            hostname: None,
            resources: Resources::default(),
            limits: Limits::default(),
            linux: LinuxSpec::default(),
        }
    }

    fn container(&self) -> Container<'_> {
        Container {
            id: &self.id,
            cgroup: Path::new("/ucr/x"),
            state_dir: &self.state,
            sandbox: Path::new("/nonexistent"),
            sandbox_in_container: "/mnt/mesos/sandbox",
            rootfs: None,
            ephemeral: &[],
        }
    }

    fn request(&self) -> Request<'_> {
        Request {
            resources: &self.resources,
            limits: &self.limits,
            volumes: &[],
            persistent: &[],
            network: &self.network,
            ports: &self.ports,
            hostname: self.hostname.as_deref(),
            rlimits: &[],
            linux: &self.linux,
            uid: 0,
            gid: 0,
        }
    }

    fn module(&self) -> PathBuf {
        self.container().module_dir(NAME)
    }

    fn cni(&self, config_dir: &Path, plugins: &Path) -> Cni {
        Cni::new(&CniConfig {
            config_dir: Some(config_dir.to_path_buf()),
            plugins_dir: Some(plugins.to_path_buf()),
        })
    }
}

fn port(host: u16, cont: u16) -> PortMapping {
    PortMapping {
        host_port: host,
        container_port: cont,
        protocol: "tcp".into(),
        name: None,
        networks: Vec::new(),
    }
}

/// A fake plugin: logs "<CMD> <type>" and answers with a fixed 1.0.0 result (or fails on `fail_on`).
fn fake(dir: &Path, name: &str, fail_on: &str) {
    let p = dir.join(name);
    let body = format!(
        "#!/bin/sh\ncat > /dev/null\necho \"$CNI_COMMAND {name} $CNI_CONTAINERID\" >> {log}\n\
         if [ \"$CNI_COMMAND\" = \"{fail_on}\" ] || [ {fail_on} = ALL ]; then echo '{{\"code\":7,\"msg\":\"{name} refuses\"}}'; exit 1; fi\n\
         echo '{{\"cniVersion\":\"1.0.0\",\"interfaces\":[{{\"name\":\"eth0\",\"sandbox\":\"x\"}}],\
         \"ips\":[{{\"interface\":0,\"address\":\"10.88.0.7/24\"}}],\"dns\":{{\"nameservers\":[\"10.88.0.1\"]}}}}'\n",
        log = dir.join("log").display()
    );
    std::fs::write(&p, body).expect("write");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn fake_network(dir: &Path, fail_on: &str) -> (PathBuf, PathBuf) {
    let (conf, bin) = (dir.join("conf"), dir.join("bin"));
    std::fs::create_dir_all(&conf).expect("conf");
    std::fs::create_dir_all(&bin).expect("bin");
    fake(&bin, "first", "never");
    fake(&bin, "mapper", fail_on);
    std::fs::write(
        conf.join("net.conflist"),
        r#"{"cniVersion":"1.0.0","name":"fakenet","plugins":[{"type":"first"},{"type":"mapper","capabilities":{"portMappings":true}}]}"#,
    )
    .expect("conf");
    (conf, bin)
}

fn log(bin: &Path) -> String {
    std::fs::read_to_string(bin.join("log")).unwrap_or_default()
}

#[test]
fn host_mode_does_nothing() {
    let e = Env::new("h", NetworkMode::Host);
    let cni = e.cni(Path::new("/nonexistent"), Path::new("/nonexistent"));
    let out = cni.prepare(&e.container(), &e.request()).expect("prepare");
    assert!(out.namespaces.is_empty() && out.mounts.is_empty() && out.status.is_empty());
    assert!(!e.module().exists());
    cni.cleanup(&e.container()).expect("cleanup of nothing");
}

#[test]
fn none_mode_gets_a_loopback_namespace_and_files() {
    if !root() {
        return eprintln!("skipped: needs root");
    }
    let mut e = Env::new("none-1", NetworkMode::None);
    e.hostname = Some("quiet".into());
    let cni = e.cni(Path::new("/nonexistent"), Path::new("/nonexistent"));
    let out = cni.prepare(&e.container(), &e.request()).expect("prepare");
    let ns = e.module().join("netns");
    assert!(netns::is_netns(&ns));
    assert_eq!(out.namespaces.len(), 1);
    assert_eq!(out.namespaces[0].path().as_deref(), Some(ns.as_path()));
    assert_eq!(out.hostname.as_deref(), Some("quiet"));
    assert_eq!(out.mounts.len(), 3);
    let hosts = std::fs::read_to_string(e.module().join("hosts")).unwrap_or_default();
    assert!(hosts.contains("127.0.1.1\tquiet"), "{hosts}");
    assert!(out.env.is_empty() && out.status.is_empty());
    cni.cleanup(&e.container()).expect("cleanup");
    assert!(!e.module().exists());
    cni.cleanup(&e.container()).expect("cleanup again");
    // Ports with no network are refused, and leave nothing.
    e.ports = vec![port(31000, 80)];
    let err = cni
        .prepare(&e.container(), &e.request())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("network mode none"), "{err}");
    assert!(!e.module().exists());
}

#[test]
fn cni_mode_adds_checkpoints_and_dels_in_reverse() {
    if !root() {
        return eprintln!("skipped: needs root");
    }
    let mut e = Env::new("odd:id@x", NetworkMode::Cni("fakenet".into()));
    let (conf, bin) = fake_network(e.dir.path(), "never");
    e.ports = vec![port(31005, 80)];
    e.network.port_mappings = vec![port(0, 80)];
    let cni = e.cni(&conf, &bin);
    let out = cni.prepare(&e.container(), &e.request()).expect("prepare");
    let cid = cni_container_id("odd:id@x");
    assert!(cid.starts_with("ucr-") && cid.len() == 36, "{cid}");
    assert_eq!(log(&bin), format!("ADD first {cid}\nADD mapper {cid}\n"));
    assert_eq!(
        out.env,
        vec![("MESOS_CONTAINER_IP".to_string(), "10.88.0.7".to_string())]
    );
    assert_eq!(out.hostname.as_deref(), Some("oddidx"));
    let (key, infos) = &out.status[0];
    assert_eq!(key, "network_infos");
    assert_eq!(
        infos,
        &json!([{"name": "fakenet", "ip_addresses": [{"protocol": "IPv4", "ip_address": "10.88.0.7"}],
                 "port_mappings": [{"host_port": 31005, "container_port": 80, "protocol": "tcp"}]}])
    );
    let resolv = std::fs::read_to_string(e.module().join("resolv.conf")).unwrap_or_default();
    assert_eq!(resolv, "nameserver 10.88.0.1\n");
    let att = Attachment::read(&e.module().join("cni.json"))
        .expect("read")
        .expect("checkpoint");
    assert_eq!(
        att.port_mappings,
        vec![json!({"hostPort": 31005, "containerPort": 80, "protocol": "tcp"})]
    );
    assert!(att.result.is_some());

    cni.recover(&e.container())
        .expect("recover: namespace and checkpoint agree");
    // A later process: only the checkpoint, whatever its own flags say.
    let other = e.cni(Path::new("/nonexistent"), Path::new("/nonexistent"));
    other.cleanup(&e.container()).expect("cleanup");
    assert!(
        log(&bin).ends_with(&format!("DEL mapper {cid}\nDEL first {cid}\n")),
        "{}",
        log(&bin)
    );
    assert!(!e.module().exists());
}

#[test]
fn failed_add_is_undone_and_failed_del_is_kept_for_a_retry() {
    if !root() {
        return eprintln!("skipped: needs root");
    }
    let e = Env::new("fail-add", NetworkMode::Cni("fakenet".into()));
    let (conf, bin) = fake_network(e.dir.path(), "ADD");
    let cni = e.cni(&conf, &bin);
    let err = cni
        .prepare(&e.container(), &e.request())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(err, "network/cni: network fakenet: plugin mapper (ADD): mapper refuses (CNI error 7: invalid network config)");
    assert_eq!(
        log(&bin),
        "ADD first fail-add\nADD mapper fail-add\nDEL mapper fail-add\nDEL first fail-add\n"
    );
    assert!(!e.module().exists(), "nothing left after a failed ADD");

    // A config its plugins reject on ADD and DEL alike: the launch fails once, and nothing is left stuck.
    let e = Env::new("fail-all", NetworkMode::Cni("fakenet".into()));
    let (conf, bin) = fake_network(e.dir.path(), "ALL");
    let cni = e.cni(&conf, &bin);
    assert!(cni.prepare(&e.container(), &e.request()).is_err());
    assert!(
        !e.module().exists(),
        "not kept for a retry that cannot succeed"
    );
    cni.cleanup(&e.container()).expect("nothing to clean");

    let e = Env::new("fail-del", NetworkMode::Cni("fakenet".into()));
    let (conf, bin) = fake_network(e.dir.path(), "DEL");
    let cni = e.cni(&conf, &bin);
    cni.prepare(&e.container(), &e.request()).expect("prepare");
    assert!(cni.cleanup(&e.container()).is_err());
    assert!(
        netns::is_netns(&e.module().join("netns")),
        "kept for the retry"
    );
    fake(&bin, "mapper", "never");
    // The namespace vanished (a reboot emptied the runtime dir's tmpfs under a kept checkpoint): recover says so,
    // and cleanup still DELs.
    netns::remove(&e.module().join("netns")).expect("unmount");
    let err = cni
        .recover(&e.container())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("the network namespace is gone"), "{err}");
    cni.cleanup(&e.container()).expect("retry");
    assert!(
        log(&bin).ends_with("DEL mapper fail-del\nDEL first fail-del\n"),
        "{}",
        log(&bin)
    );
    assert!(!e.module().exists());
}

#[test]
fn unknown_network_missing_plugin_and_unmappable_ports() {
    let mut e = Env::new("x", NetworkMode::Cni("nosuch".into()));
    let (conf, bin) = fake_network(e.dir.path(), "never");
    let cni = e.cni(&conf, &bin);
    let err = cni
        .prepare(&e.container(), &e.request())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("network nosuch") && err.contains("no CNI config"),
        "{err}"
    );
    std::fs::write(
        conf.join("b.conflist"),
        r#"{"cniVersion":"1.0.0","name":"nomap","plugins":[{"type":"first"},{"type":"ghost"}]}"#,
    )
    .expect("conf");
    e.network.mode = NetworkMode::Cni("nomap".into());
    let err = cni
        .prepare(&e.container(), &e.request())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("plugin ghost") && err.contains("not found in"),
        "{err}"
    );
    assert!(
        !log(&bin).contains("ADD"),
        "nothing run before every plugin is found"
    );
    if !root() {
        return;
    }
    std::fs::write(
        conf.join("b.conflist"),
        r#"{"cniVersion":"1.0.0","name":"nomap","plugins":[{"type":"first"}]}"#,
    )
    .expect("conf");
    e.ports = vec![port(31001, 80)];
    e.network.port_mappings = vec![port(0, 80)];
    let err = cni
        .prepare(&e.container(), &e.request())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("no plugin has the portMappings capability"),
        "{err}"
    );
    // Marathon's implicit default mapping is dropped with a warning instead.
    e.network.port_mappings = vec![port(0, 0)];
    let out = cni.prepare(&e.container(), &e.request()).expect("prepare");
    assert!(out.status[0].1[0].get("port_mappings").is_none());
    cni.cleanup(&e.container()).expect("cleanup");
}

#[test]
fn a_cleanup_after_its_caller_died_mid_add_dels_once_the_add_is_over() {
    if !root() {
        return eprintln!("skipped: needs root");
    }
    let e = Env::new("cut-add", NetworkMode::Cni("fakenet".into()));
    let (conf, bin) = fake_network(e.dir.path(), "never");
    // The mapper makes its state last and slowly, as the bridge plugin adds its masquerade rules; DEL undoes it.
    let made = e.dir.path().join("made");
    let body = format!(
        "#!/bin/sh\ncat > /dev/null\necho \"$CNI_COMMAND mapper $CNI_CONTAINERID\" >> {log}\n\
         if [ \"$CNI_COMMAND\" = ADD ]; then sleep 1; touch {made}; echo '{{\"cniVersion\":\"1.0.0\"}}'; \
         else rm -f {made}; fi\n",
        log = bin.join("log").display(),
        made = made.display()
    );
    std::fs::write(bin.join("mapper"), body).expect("write");
    let cni = e.cni(&conf, &bin);
    // What a caller killed during the mapper's ADD leaves: the checkpoint without a result, the namespace, and
    // the chain's ADD going on without it.
    let (c, r) = (e.container(), e.request());
    let dir = e.module();
    let ns = netns_file(&dir);
    let att = cni
        .attachment(&c, &r, "fakenet", 0, &ns)
        .expect("attachment");
    std::fs::create_dir_all(&dir).expect("dir");
    netns::create(&ns).expect("netns");
    att.write(&checkpoint_file_of(&dir, 0)).expect("checkpoint");
    let adding = std::thread::spawn(move || {
        let lock = HostLock::take().map_err(|e| e.to_string())?;
        att.add(&lock).map(|_| ()).map_err(|e| e.to_string())
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !log(&bin).contains("ADD mapper") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    cni.cleanup(&c).expect("cleanup");
    assert!(
        log(&bin).ends_with("ADD mapper cut-add\nDEL mapper cut-add\nDEL first cut-add\n"),
        "DEL only after the ADD: {}",
        log(&bin)
    );
    adding
        .join()
        .expect("join")
        .expect("the ADD itself went through");
    assert!(!made.exists(), "what the ADD made is undone");
    assert!(!dir.exists());
}

#[path = "cni_real_tests.rs"]
mod real;
