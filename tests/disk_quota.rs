//! `disk/du` (Mesos's isolator of that name): a container with a `disk` resource has what it writes (its
//! sandbox and its root filesystem's writable layer) measured in its statistics, and with
//! `--enforce_container_disk_quota` one past its quota is killed: TASK_FAILED,
//! REASON_CONTAINER_LIMITATION_DISK, Mesos's message and the `disk` resource in the limitation.

use serde_json::{json, Value};

use crate::common::{busybox_registry, Containers, CMD_TIMEOUT};

const MB: u64 = 1 << 20;

/// A Marathon app of `disk` MB running `cmd` on busybox.
fn app(id: &str, image: &str, disk: f64, cmd: &str) -> String {
    json!({"id": id, "cmd": cmd, "cpus": 0.1, "mem": 32, "disk": disk,
           "container": {"type": "MESOS", "docker": {"image": image}}})
    .to_string()
}

/// Launches `request` (of container `id`) with the quota enforced every 200 ms, and checks that it ends
/// killed for a disk of `mb` MB past its size, in Mesos's words; returns its `wait --json`.
fn killed_for_disk(c: &Containers, id: &str, request: &str, mb: u64) -> Value {
    let args = [
        "--enforce-container-disk-quota",
        "--container-disk-watch-interval",
        "200ms",
        "launch",
        "-d",
        "-",
    ];
    let out = c.run_stdin(&args, request);
    assert_eq!(out.code, 0, "{}", out.all());
    let w = c.run_for(&["wait", id, "--json"], CMD_TIMEOUT);
    let t: Value = serde_json::from_str(w.stdout.trim()).expect("wait --json");
    assert_eq!(t["state"], "TASK_FAILED", "{t}");
    assert_eq!(t["reason"], "REASON_CONTAINER_LIMITATION_DISK", "{t}");
    let msg = t["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("Disk usage (") && msg.contains(&format!(") exceeds quota ({mb}MB)")),
        "{t}"
    );
    let r = &t["limitation"]["resources"][0];
    assert_eq!(
        (r["name"].as_str(), r["scalar"]["value"].as_f64()),
        (Some("disk"), Some(mb as f64)),
        "{t}"
    );
    t
}

/// `stats --json` of `id` once its `disk` resource's use is `bytes` or more (or after [`CMD_TIMEOUT`]).
fn stats_once_used(c: &Containers, id: &str, bytes: u64) -> Value {
    let deadline = std::time::Instant::now() + CMD_TIMEOUT;
    loop {
        let s = c.run_for(&["stats", id, "--json"], CMD_TIMEOUT).ok().stdout;
        let v: Value = serde_json::from_str(s.trim()).expect("stats --json");
        let used = v["disk_used_bytes"].as_u64().unwrap_or(0);
        if used >= bytes || std::time::Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// 3 MB into the sandbox, 2 MB into the root filesystem (the overlay's upper layer).
const WRITE: &str = "dd if=/dev/zero of=$MESOS_SANDBOX/fill bs=1M count=3 2>/dev/null && \
                     dd if=/dev/zero of=/fill bs=1M count=2 2>/dev/null && echo written; sleep 60";

#[test]
fn a_container_past_its_disk_quota_is_killed_for_it_when_enforced() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let id = c.id("disk-over");
    killed_for_disk(&c, &id, &app(&id, &image, 4.0, WRITE), 4);
    let logs = c.run_for(&["logs", &id], CMD_TIMEOUT).ok().stdout;
    assert_eq!(logs, "written\n", "killed once past its quota, not before");

    // A task that ends by itself before a check finds it past its quota has finished, as in Mesos.
    let quick = c.id("disk-quick");
    let args = [
        "--enforce-container-disk-quota",
        "--container-disk-watch-interval",
        "1hrs",
        "launch",
        "-",
    ];
    let cmd = "dd if=/dev/zero of=/fill bs=1M count=6 2>/dev/null";
    let out = c.run_stdin(&args, &app(&quick, &image, 4.0, cmd));
    assert_eq!(out.code, 0, "{}", out.all());
    let w = c.run_for(&["wait", &quick, "--json"], CMD_TIMEOUT);
    let t: Value = serde_json::from_str(w.stdout.trim()).expect("wait --json");
    assert_eq!(t["state"], "TASK_FINISHED", "{t}");
}

#[test]
fn a_containers_disk_use_is_in_its_statistics_and_not_enforced_by_default() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let id = c.id("disk-stats");
    let out = c.run_stdin(&["launch", "-d", "-"], &app(&id, &image, 4.0, WRITE));
    assert_eq!(out.code, 0, "{}", out.all());
    let stats = stats_once_used(&c, &id, 5 * MB);
    assert_eq!(stats["disk_limit_bytes"].as_u64(), Some(4 * MB), "{stats}");
    let used = stats["disk_used_bytes"].as_u64().unwrap_or(0);
    assert!(
        (5 * MB..8 * MB).contains(&used),
        "both writes, the image not: {stats}"
    );
    assert_eq!(
        c.ps(&id).expect("listed")["state"],
        "RUNNING",
        "not enforced"
    );
    // A container with no disk resource is not measured.
    let plain = c.id("disk-none");
    let out = c.run_stdin(
        &["launch", "-d", "-"],
        &app(&plain, &image, 0.0, "sleep 60"),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let s = c
        .run_for(&["stats", &plain, "--json"], CMD_TIMEOUT)
        .ok()
        .stdout;
    assert!(!s.contains("disk_"), "{s}");
}

/// A Mesos LAUNCH_CONTAINER of a command task with a 2 MB persistent volume `roles/web/<vol>` at `data`
/// (`persistent_volumes::task`) and a `disk` of 8 MB.
fn with_volume(id: &str, vol: &str, cmd: &str) -> String {
    let mut t: Value =
        serde_json::from_str(&crate::persistent_volumes::task(id, vol, 2, cmd)).expect("json");
    let plain = json!({"name": "disk", "type": "SCALAR", "scalar": {"value": 8}});
    match t["launch_container"]["resources"].as_array_mut() {
        Some(r) => r.push(plain),
        None => panic!("no resources: {t}"),
    }
    t.to_string()
}

/// 3 MB into the volume (past its 2 MB), 1 MB into the sandbox (within its 8 MB).
const FILL_VOLUME: &str = "dd if=/dev/zero of=data/fill bs=1M count=3 2>/dev/null && \
                           dd if=/dev/zero of=fill bs=1M count=1 2>/dev/null && echo written; sleep 60";

/// The size the test root (tmpfs) leaves unenforced by a project quota, as `ucr volume ls` says: then `disk/du`
/// alone holds the volume to it.
fn not_enforced_by_the_filesystem(c: &Containers, name: &str) {
    let out = c.run_for(&["volume", "ls", "--json"], CMD_TIMEOUT).ok();
    let v: Vec<Value> = out
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let v = v.iter().find(|v| v["name"] == name).expect("listed");
    assert_eq!(v["enforcement"]["quota"], "not_enforced", "{v}");
}

#[test]
fn a_persistent_volume_is_measured_apart_and_past_its_size_is_killed_for_it_when_enforced() {
    let c = Containers::new();
    let id = c.id("pv-stats");
    let out = c.run_stdin(&["launch", "-d", "-"], &with_volume(&id, "kv", FILL_VOLUME));
    assert_eq!(out.code, 0, "{}", out.all());
    not_enforced_by_the_filesystem(&c, "roles/web/kv");
    let stats = stats_once_used(&c, &id, MB);
    let disks = stats["disk_statistics"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(disks.len(), 2, "the volume's, then the sandbox's: {stats}");
    assert_eq!(disks[0]["persistence"]["id"], "kv", "{stats}");
    assert_eq!(disks[0]["limit_bytes"].as_u64(), Some(2 * MB), "{stats}");
    let volume = disks[0]["used_bytes"].as_u64().unwrap_or(0);
    assert!((3 * MB..4 * MB).contains(&volume), "{stats}");
    assert_eq!(disks[1].get("persistence"), None, "{stats}");
    assert_eq!(disks[1]["limit_bytes"].as_u64(), Some(8 * MB), "{stats}");
    let sandbox = stats["disk_used_bytes"].as_u64().unwrap_or(0);
    assert_eq!(disks[1]["used_bytes"].as_u64(), Some(sandbox), "{stats}");
    assert!(
        (MB..2 * MB).contains(&sandbox),
        "the sandbox without the volume: {stats}"
    );
    let rows = c.run_for(&["stats", &id], CMD_TIMEOUT).ok().stdout;
    assert!(rows.contains("volume kv used_bytes"), "{rows}");
    assert_eq!(
        c.ps(&id).expect("listed")["state"],
        "RUNNING",
        "not enforced by default"
    );
    c.run_for(&["rm", "-f", &id], CMD_TIMEOUT).ok();

    let enforced = c.id("pv-over");
    let request = with_volume(&enforced, "kv2", FILL_VOLUME);
    let t = killed_for_disk(&c, &enforced, &request, 2);
    let msg = t["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("Disk usage (3MB)"),
        "the volume's 3 MB: {t}"
    );
}
