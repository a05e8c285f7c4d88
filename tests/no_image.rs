//! Tasks without an image (Mesos command tasks): they run on the host's root filesystem, in their sandbox, under
//! the same supervisor and isolators as image tasks — cgroup limits with their limitation records, and with
//! `filesystem/linux` a private mount namespace holding their volumes, a fresh /proc and a private /tmp, none of
//! which the host sees. Without `filesystem/linux` they share the host's mounts and cannot be given any.

use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{cgroup_dirs, Containers, CMD_TIMEOUT};

/// The task's output once it holds `lines` lines (or whatever it holds at the deadline).
fn logs(c: &Containers, id: &str, lines: usize) -> String {
    let deadline = Instant::now() + CMD_TIMEOUT;
    loop {
        let l = c.run_for(&["logs", id], CMD_TIMEOUT).ok().stdout;
        if l.lines().count() >= lines || Instant::now() > deadline {
            return l;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn host_mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()
}

/// The first app of Marathon's "application basics", as the docs give it.
#[test]
fn the_basic_marathon_app_runs_on_the_host_root_under_its_limits() {
    let c = Containers::new();
    let id = c.id("basic");
    let app = json!({
        "id": id,
        "cmd": "while [ true ] ; do echo 'Hello Marathon' ; sleep 5 ; done",
        "cpus": 0.1, "mem": 10.0, "instances": 1
    });
    let out = c.run_stdin(&["launch", "-d", "-"], &app.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    let pid = c.wait_running(&id);
    assert!(logs(&c, &id, 1).starts_with("Hello Marathon"));
    // The host's root, the sandbox as working directory.
    let root = std::fs::metadata(format!("/proc/{pid}/root/")).expect("task root");
    let host = std::fs::metadata("/").expect("host root");
    assert_eq!((root.dev(), root.ino()), (host.dev(), host.ino()));
    let v = c.ps(&id).expect("listed");
    let sandbox = v["sandbox"].as_str().expect("sandbox").to_string();
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd");
    assert_eq!(cwd.to_string_lossy(), sandbox);
    let limit = cgroup_dirs(&id).into_iter().find_map(|d| {
        std::fs::read_to_string(d.join("memory.limit_in_bytes"))
            .or_else(|_| std::fs::read_to_string(d.join("memory.max")))
            .ok()
    });
    // 10 MB asked, raised to Mesos's minimum of 32 MB (cgroups/mem's MIN_MEMORY).
    assert_eq!(limit.as_deref().map(str::trim), Some("33554432"));
    c.run_for(&["kill", &id], CMD_TIMEOUT).ok();
    c.run_for(&["wait", &id], CMD_TIMEOUT);
    assert_eq!(c.ps(&id).expect("listed")["state"], "EXITED");
}

#[test]
fn a_memory_hog_without_an_image_ends_with_the_memory_limitation() {
    let c = Containers::new();
    let id = c.id("hog");
    let app = json!({
        "id": id,
        "cmd": "head -c 300m /dev/zero | tail > /dev/null",
        "mem": 32
    });
    let out = c.run_stdin(&["launch", "-"], &app.to_string());
    assert_eq!(out.code, 137, "{}", out.all());
    let v = c.ps(&id).expect("listed");
    let t = &v["termination"];
    assert_eq!(t["reason"], "REASON_CONTAINER_LIMITATION_MEMORY", "{v}");
    assert_eq!(t["state"], "TASK_FAILED", "{v}");
}

/// With filesystem/linux: a host-path volume at an absolute and at a sandbox-relative path, a private /tmp
/// (the sandbox's tmp) and its own /proc — and the host's mount table never changes.
#[test]
fn volumes_and_a_private_tmp_live_in_the_task_mount_namespace_only() {
    let c = Containers::new();
    let id = c.id("vols");
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    let target = dir.path().join("target");
    std::fs::create_dir_all(&src).expect("src");
    std::fs::create_dir_all(&target).expect("target");
    std::fs::write(src.join("v.txt"), "from-the-volume\n").expect("v.txt");
    let before = host_mounts();
    let marker = format!("/tmp/{id}-marker");
    let script = format!(
        "cat {t}/v.txt; cat data/v.txt; echo mine > {marker}; cat {marker}; \
         ls /proc | grep -c '^[0-9]'; echo done; sleep 1000",
        t = target.display()
    );
    let vol = |to: &str| format!("{}:{to}:ro", src.display());
    let out = c.run_for(
        &[
            "run",
            "-d",
            "--name",
            &id,
            "-v",
            &vol(&target.to_string_lossy()),
            "-v",
            &vol("data"),
            "--no-image",
            "/bin/sh",
            "-c",
            &script,
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    c.wait_running(&id);
    let l = logs(&c, &id, 5);
    let lines: Vec<&str> = l.lines().collect();
    assert_eq!(
        lines[..3],
        ["from-the-volume", "from-the-volume", "mine"],
        "{l}"
    );
    // Its own pid namespace and /proc: a handful of processes, not the host's.
    let procs: u32 = lines[3].parse().unwrap_or(u32::MAX);
    assert!(procs < 10, "{l}");
    // The host: no new mount, no marker in its /tmp; the marker is in the sandbox's tmp.
    assert_eq!(host_mounts(), before, "the host's mount table changed");
    assert!(!std::path::Path::new(&marker).exists());
    let sandbox = c.ps(&id).expect("listed")["sandbox"]
        .as_str()
        .expect("sandbox")
        .to_string();
    let in_sandbox = std::path::Path::new(&sandbox)
        .join("tmp")
        .join(format!("{id}-marker"));
    assert_eq!(
        std::fs::read_to_string(&in_sandbox).ok().as_deref(),
        Some("mine\n")
    );
    c.run_for(&["kill", &id], CMD_TIMEOUT).ok();
    c.run_for(&["wait", &id], CMD_TIMEOUT);
    assert_eq!(host_mounts(), before);
}

/// Without filesystem/linux the task shares the host's mount namespace, and asking for a volume says which
/// isolator it needs.
#[test]
fn without_filesystem_linux_no_mount_namespace_and_volumes_are_refused_by_name() {
    let c = Containers::new();
    let iso = "cgroups/cpu,cgroups/mem";
    let id = c.id("nofs");
    let out = c.run_for(
        &[
            "--isolation",
            iso,
            "run",
            "--name",
            &id,
            "--no-image",
            "readlink",
            "/proc/self/ns/mnt",
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let host = std::fs::read_link("/proc/self/ns/mnt").expect("own mnt ns");
    assert_eq!(out.stdout.trim(), host.to_string_lossy());
    let out = c.run_for(
        &[
            "--isolation",
            iso,
            "run",
            "--rm",
            "-v",
            "/tmp:data",
            "--no-image",
            "true",
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 125, "{}", out.all());
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(lines[0].contains("filesystem/linux"), "{}", out.stderr);
}

/// `CommandInfo.user` is honoured on the host: the task runs as that user, in a sandbox it owns.
#[test]
fn a_task_without_an_image_runs_as_the_requested_user() {
    let c = Containers::new();
    let id = c.id("user");
    let task = json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {
            "container_id": {"value": id},
            "command": {"value": "id -un; stat -c %U $MESOS_SANDBOX", "user": "nobody"},
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}]
        }
    });
    let out = c.run_stdin(&["launch", "-"], &task.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        logs(&c, &id, 2).lines().collect::<Vec<_>>(),
        ["nobody", "nobody"]
    );
}

/// On a CNI network a task without an image gets the network's interface, its own hostname and name files
/// (bound over the host's in its mount namespace only), and its port mapping.
#[test]
fn a_task_without_an_image_joins_a_cni_network_with_its_ports() {
    use crate::network::support::{http_get, serial, Net, NET};
    let _s = serial();
    let n = Net::new();
    let id = n.c.id("net");
    let hosts_before = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    let script = "mkdir -p www && echo served > www/index.html && \
                  ip -4 addr show eth0 | grep -c inet && cat /etc/hostname && exec busybox httpd -f -p 8080 -h www";
    let out = n.ucr(&[
        "run",
        "-d",
        "--name",
        &id,
        "--network",
        NET,
        "-p",
        "8080",
        "--no-image",
        "/bin/sh",
        "-c",
        script,
    ]);
    assert_eq!(out.code, 0, "{}", out.all());
    n.c.wait_running(&id);
    let v = n.inspect(&id);
    let port = v["status"]["network_infos"][0]["port_mappings"][0]["host_port"]
        .as_u64()
        .unwrap_or(0) as u16;
    assert!(http_get(port, "/index.html").contains("served"), "{v}");
    let l = logs(&n.c, &id, 2);
    let lines: Vec<&str> = l.lines().collect();
    assert_eq!(lines.first(), Some(&"1"), "an IPv4 address on eth0: {l}");
    assert_ne!(lines.get(1).copied(), Some(host_name().as_str()), "{l}");
    assert_eq!(
        std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
        hosts_before
    );
    n.ucr(&["rm", "--force", &id]).ok();
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A listing whose reader has gone (`ucr ps | head -1`) ends by SIGPIPE, as coreutils' do, without a word; the
/// container it listed runs on.
#[test]
fn a_listing_into_a_closed_pipe_ends_by_sigpipe_not_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    let c = Containers::new();
    let id = c.id("piped");
    let out = c.run_for(
        &["run", "-d", "--name", &id, "--no-image", "sleep", "60"],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    for args in [vec!["ps", "--all"], vec!["inspect", id.as_str()]] {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let done = c
            .command(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("ucr");
        let stderr = String::from_utf8_lossy(&done.stderr);
        assert_eq!(
            done.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr, "", "{args:?}");
    }
    assert_eq!(c.ps(&id).expect("listed")["state"], "RUNNING");
    assert_eq!(c.run_for(&["rm", "--force", &id], CMD_TIMEOUT).code, 0);
    assert!(cgroup_dirs(&id).is_empty());
}
