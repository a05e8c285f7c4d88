//! config-linux.md "Namespaces" and "User namespace mappings", and runc's create flags `--no-new-keyring` and
//! `--no-pivot`: a user namespace with id mappings, namespaces joined by path (pid, mount, network with a user
//! namespace), a time namespace with clock offsets, the session keyring, through `ucr-runc` on busybox bundles.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::common::oci::Runc;

const HOST_ID: u32 = 100000;

/// A bundle whose rootfs belongs to the ids the container's root maps to (as podman and containerd chown it).
fn mapped_bundle(r: &Runc, name: &str, args: &[&str], net: Option<&str>) -> std::path::PathBuf {
    let b = r.bundle(name, args, |c| {
        c["root"]["readonly"] = false.into();
        let mut ns = vec![json!({"type": "user"})];
        for t in ["pid", "ipc", "uts", "mount"] {
            ns.push(json!({"type": t}));
        }
        ns.push(match net {
            Some(p) => json!({"type": "network", "path": p}),
            None => json!({"type": "network"}),
        });
        c["linux"]["namespaces"] = json!(ns);
        let map = json!([{"containerID": 0, "hostID": HOST_ID, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
    });
    let owner = format!("{HOST_ID}:{HOST_ID}");
    let st = Command::new("chown")
        .args(["-hR", &owner])
        .arg(b.join("rootfs"))
        .status()
        .expect("chown");
    assert!(st.success());
    b
}

fn running_pid(r: &Runc, bundle: &Path, id: &str) -> i64 {
    let c = r.run(&["run", "-d", "-b", &bundle.display().to_string(), id]);
    assert_eq!(c.code, 0, "{}", c.all());
    let s: serde_json::Value = serde_json::from_str(&r.run(&["state", id]).stdout).expect("state");
    s["pid"].as_i64().expect("pid")
}

/// config-linux.md "User namespace mappings": the container's root is the mapped host id, inside it is 0, the
/// files it makes belong to the mapped id on the host, and `exec` joins the same namespace.
#[test]
fn a_user_namespace_maps_the_containers_root_to_the_given_host_ids() {
    let r = Runc::new();
    let script = "cat /proc/self/uid_map; id -u; id -g; stat -c %u:%g /bin/busybox; touch /made; \
                  echo > /dev/null && echo devnull";
    let b = mapped_bundle(&r, "u", &["sh", "-c", script], None);
    let out = r.run(&["run", "-b", &b.display().to_string(), "u1"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    let map: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"], "{}", out.stdout);
    assert_eq!(&lines[1..], ["0", "0", "0:0", "devnull"], "{}", out.stdout);
    let made = std::fs::metadata(b.join("rootfs/made")).expect("made");
    use std::os::unix::fs::MetadataExt;
    assert_eq!((made.uid(), made.gid()), (HOST_ID, HOST_ID));

    let b2 = mapped_bundle(&r, "u2", &["sleep", "100"], None);
    let pid = running_pid(&r, &b2, "u2");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let uid = status.lines().find(|l| l.starts_with("Uid:")).expect("Uid");
    assert_eq!(uid.split_whitespace().nth(1), Some("100000"), "{uid}");
    let e = r.run(&["exec", "u2", "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    assert_eq!(e.code, 0, "{}", e.all());
    assert!(e.stdout.starts_with("0\n"), "{}", e.stdout);
    assert!(e.stdout.contains("100000"), "{}", e.stdout);
}

/// Mappings that cannot work are refused at create, naming the field, and leave nothing behind.
#[test]
fn bad_mappings_are_refused_by_field() {
    let r = Runc::new();
    let b = r.bundle("bad", &["true"], |c| {
        c["linux"]["namespaces"] = json!([{"type": "user"}, {"type": "mount"}]);
        c["linux"]["uidMappings"] = json!([{"containerID": 1, "hostID": HOST_ID, "size": 10}]);
        c["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": HOST_ID, "size": 10}]);
    });
    r.refused_at_create(&b, "bad", "linux.uidMappings: id 0 is not mapped");
}

/// A user namespace with a network namespace given by path (podman's and Kubernetes' case): the network is
/// joined with the host's rights before the user namespace; sysfs, which that user namespace may not mount,
/// is the host's bound read-only; device nodes are the host's bound.
#[test]
fn a_user_namespace_joins_a_network_namespace_given_by_path() {
    let r = Runc::new();
    // Bound to a file of the test's own, not by `ip netns add`: that makes /run/netns a mount of its own the
    // first time, and `ip netns del` leaves it (a leak on a fresh machine).
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("netns");
    std::fs::File::create(&file).expect("netns file");
    assert!(Command::new("unshare")
        .arg(format!("--net={}", file.display()))
        .arg("true")
        .status()
        .expect("unshare")
        .success());
    struct Netns<'a>(&'a Path);
    impl Drop for Netns<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _ns = Netns(&file);
    let path = file.display().to_string();
    let script = "cat /proc/net/dev | tail -n +3 | cut -d: -f1; id -u; \
                  test -d /sys/class && echo sys; echo x > /dev/null && echo null";
    let b = mapped_bundle(&r, "n", &["sh", "-c", script], Some(&path));
    let out = r.run(&["run", "-b", &b.display().to_string(), "n1"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(words, ["lo", "0", "sys", "null"], "{}", out.stdout);
}

/// config-linux.md "Namespaces": a pid namespace given by path is the container's: it sees the other
/// container's init as pid 1.
#[test]
fn a_pid_namespace_given_by_path_is_joined() {
    let r = Runc::new();
    let a = r.bundle("a", &["sleep", "100"], |_| {});
    let pid = running_pid(&r, &a, "pa");
    let ns = format!("/proc/{pid}/ns/pid");
    let b = r.bundle(
        "b",
        &["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"],
        |c| {
            let mut list = c["linux"]["namespaces"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            list.retain(|n| n["type"] != "pid");
            list.push(json!({"type": "pid", "path": ns}));
            c["linux"]["namespaces"] = json!(list);
        },
    );
    let out = r.run(&["run", "-b", &b.display().to_string(), "pb"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout.trim(), "sleep 100");
}

/// config-linux.md "Namespaces": a mount namespace given by path is where the container's root is set up —
/// it sees a mount that exists only there.
#[test]
fn a_mount_namespace_given_by_path_is_joined() {
    let r = Runc::new();
    let b = r.bundle(
        "m",
        &["sh", "-c", "grep ' /marked ' /proc/self/mountinfo | wc -l"],
        |c| {
            c["root"]["readonly"] = false.into();
            let mut list = c["linux"]["namespaces"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            list.retain(|n| n["type"] != "mount");
            list.push(json!({"type": "mount", "path": r.dir.path().join("priv/mnt")}));
            c["linux"]["namespaces"] = json!(list);
        },
    );
    std::fs::create_dir(b.join("rootfs/marked")).expect("mkdir");
    // The namespace file is bound on a private mount, as `unshare --mount=FILE` needs.
    let private = r.dir.path().join("priv");
    std::fs::create_dir(&private).expect("priv");
    let sh = |s: &str| {
        let st = Command::new("sh").args(["-c", s]).status().expect("sh");
        assert!(st.success(), "{s}");
    };
    let p = private.display();
    sh(&format!(
        "mount --bind {p} {p} && mount --make-private {p} && touch {p}/mnt"
    ));
    struct Unmount(String);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").args(["-l", &self.0]).status();
        }
    }
    // The namespace file first, then the private mount it is bound on (a tuple drops in order).
    let _m = (Unmount(format!("{p}/mnt")), Unmount(p.to_string()));
    let marked = b.join("rootfs/marked");
    sh(&format!(
        "unshare --mount={p}/mnt --propagation private mount -t tmpfs only-there {}",
        marked.display()
    ));
    assert!(
        std::fs::read_dir(&marked).expect("marked").next().is_none(),
        "the host does not see it"
    );
    let out = r.run(&["run", "-b", &b.display().to_string(), "m1"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout.trim(), "1", "{}", out.all());
}

/// runc gives each container a session keyring of its own, named after it; `--no-new-keyring` keeps the
/// caller's.
#[test]
fn a_session_keyring_of_its_own_unless_no_new_keyring() {
    let r = Runc::new();
    let id = format!("kr{}", std::process::id());
    let b = r.bundle("k", &["sleep", "100"], |_| {});
    let has = |name: &str| {
        std::fs::read_to_string("/proc/keys")
            .expect("keys")
            .lines()
            .any(|l| l.ends_with(&format!(": {name}: empty")) || l.contains(&format!(" {name}: ")))
    };
    running_pid(&r, &b, &id);
    assert!(has(&id), "no keyring {id} in /proc/keys");
    assert_eq!(r.run(&["delete", "--force", &id]).code, 0);
    let other = format!("nk{}", std::process::id());
    let b2 = r.bundle("k2", &["sleep", "100"], |_| {});
    let c = r.run(&[
        "run",
        "-d",
        "--no-new-keyring",
        "-b",
        &b2.display().to_string(),
        &other,
    ]);
    assert_eq!(c.code, 0, "{}", c.all());
    assert!(!has(&other), "--no-new-keyring made one");
}

/// `--no-pivot`: the root is moved and chrooted into; the program runs in it, and the only whole procfs it
/// can see is its own.
#[test]
fn no_pivot_runs_the_program_in_its_root() {
    let r = Runc::new();
    let b = r.bundle(
        "np",
        &[
            "sh",
            "-c",
            "ls /bin/busybox && awk '$4 == \"/\" && / - proc /' /proc/self/mountinfo | wc -l",
        ],
        |_| {},
    );
    let out = r.run(&["run", "--no-pivot", "-b", &b.display().to_string(), "np"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(words, ["/bin/busybox", "1"], "{}", out.stdout);
}

/// config.md "Mounts" `uidMappings`/`gidMappings`: an ID-mapped bind shows its source's owners through the
/// mount's own maps (here without any user namespace: on-disk root is seen as 1234).
#[test]
fn an_id_mapped_bind_shows_the_sources_owners_through_its_maps() {
    let r = Runc::new();
    let data = r.dir.path().join("data");
    std::fs::create_dir(&data).expect("data");
    std::fs::write(data.join("f"), "x").expect("f");
    let b = r.bundle("idm", &["sh", "-c", "stat -c %u:%g /data/f"], |c| {
        let map = json!([{"containerID": 0, "hostID": 1234, "size": 1}]);
        let mut mounts = c["mounts"].as_array().cloned().unwrap_or_default();
        mounts.push(json!({
            "destination": "/data", "type": "bind", "source": data, "options": ["bind"],
            "uidMappings": map, "gidMappings": map,
        }));
        c["mounts"] = json!(mounts);
    });
    let out = r.run(&["run", "-b", &b.display().to_string(), "idm"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout.trim(), "1234:1234");
}

/// `idmap` without maps of its own takes the container's: in a user namespace (root = host 100000) a volume
/// of files the host's root owns is the container root's, and what it writes there belongs to the host's root
/// — Kubernetes' volumes for pods with user namespaces.
#[test]
fn idmap_gives_a_user_namespace_the_hosts_files_as_its_own() {
    let r = Runc::new();
    let data = r.dir.path().join("vol");
    std::fs::create_dir(&data).expect("vol");
    std::fs::write(data.join("f"), "x").expect("f");
    let script = "stat -c %u /vol/f; touch /vol/made && echo made";
    let b = mapped_bundle(&r, "uidm", &["sh", "-c", script], None);
    let path = b.join("config.json");
    let mut c: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("config")).expect("json");
    let mut mounts = c["mounts"].as_array().cloned().unwrap_or_default();
    mounts.push(json!({"destination": "/vol", "type": "bind", "source": data, "options": ["bind", "idmap"]}));
    c["mounts"] = json!(mounts);
    std::fs::write(&path, c.to_string()).expect("config");
    let out = r.run(&["run", "-b", &b.display().to_string(), "uidm"]);
    assert_eq!(out.code, 0, "{}", out.all());
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(words, ["0", "made"], "{}", out.stdout);
    use std::os::unix::fs::MetadataExt;
    let made = std::fs::metadata(data.join("made")).expect("made");
    assert_eq!(made.uid(), 0);
}

/// A year, as a boottime and monotonic offset: far more than any test machine's uptime.
const YEAR: i64 = 365 * 24 * 3600;

fn uptime_secs(text: &str) -> i64 {
    let first = text.split_whitespace().next().unwrap_or_default();
    let secs = first.split('.').next().unwrap_or_default();
    secs.parse().unwrap_or_else(|_| panic!("uptime {text:?}"))
}

/// config-linux.md "Namespaces" (time) and "Offset for Time Namespace": the container's boottime clock is offset,
/// the host's is not, and `exec` joins the same namespace; a second container joins it by path.
#[test]
fn a_time_namespace_offsets_the_containers_clocks() {
    let r = Runc::new();
    let host = uptime_secs(&std::fs::read_to_string("/proc/uptime").expect("uptime"));
    assert!(host < YEAR, "this machine has been up a year: {host} s");
    let b = r.bundle("t", &["sleep", "100"], |c| {
        let mut list = c["linux"]["namespaces"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        list.push(json!({"type": "time"}));
        c["linux"]["namespaces"] = json!(list);
        c["linux"]["timeOffsets"] = json!({
            "boottime": {"secs": YEAR, "nanosecs": 0},
            "monotonic": {"secs": YEAR, "nanosecs": 0}
        });
    });
    let pid = running_pid(&r, &b, "t1");
    let ns = std::fs::read_link(format!("/proc/{pid}/ns/time")).expect("ns");
    assert_ne!(
        ns,
        std::fs::read_link("/proc/self/ns/time").expect("own ns")
    );
    let e = r.run(&["exec", "t1", "cat", "/proc/uptime"]);
    assert_eq!(e.code, 0, "{}", e.all());
    let inside = uptime_secs(&e.stdout);
    assert!((YEAR..YEAR + host + 60).contains(&inside), "{inside} s");

    let path = format!("/proc/{pid}/ns/time");
    let j = r.bundle("tj", &["cat", "/proc/uptime"], |c| {
        let mut list = c["linux"]["namespaces"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        list.push(json!({"type": "time", "path": path}));
        c["linux"]["namespaces"] = json!(list);
    });
    let out = r.run(&["run", "-b", &j.display().to_string(), "t2"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(uptime_secs(&out.stdout) >= YEAR, "{}", out.stdout);
}

/// Offsets need a new time namespace: refused at create naming the field, nothing left behind.
#[test]
fn time_offsets_without_a_time_namespace_are_refused() {
    let r = Runc::new();
    let b = r.bundle("to", &["true"], |c| {
        c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 10}});
    });
    let want = "linux.timeOffsets: clock offsets without a time namespace";
    r.refused_at_create(&b, "to", want);
}
