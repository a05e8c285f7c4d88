//! End-to-end tests of the cgroups isolators against the real kernel, as root: the memory limit and its OOM
//! limitation, the pids cap under a fork bomb, the CFS quota and the CPU shares as the scheduler applies them,
//! `ucr update` and `ucr stats` on a running container. They run on whatever this machine has: cgroup v1
//! (hybrid) here, cgroup v2 inside `tests/v2/run.sh`'s VM.
//!
//! The tests in this file hold the host alone (`common::exclusive`): the CPU measurements must not share the
//! CPUs with other tests' spinners, hogs and pulls. Every container is removed by its [`Containers`] guard, even when an assertion fails.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::common::busybox_registry;
use crate::common::{exclusive, Containers, Run, CMD_TIMEOUT};

fn ucr(c: &Containers, args: &[&str]) -> Run {
    c.run_for(args, CMD_TIMEOUT)
}

fn v2() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A file of the container's cgroup: `v1` names it in the controller's hierarchy, `v2` in the unified tree.
/// A file of container `id`'s cgroup (`ucr/<instance>/<id>`; ids are unique, any instance's will do).
fn cg_file(id: &str, controller: &str, v1: &str, v2_name: &str) -> PathBuf {
    let (base, name) = if v2() {
        (PathBuf::from("/sys/fs/cgroup"), v2_name)
    } else {
        (PathBuf::from("/sys/fs/cgroup").join(controller), v1)
    };
    let dir = std::fs::read_dir(base.join("ucr"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|i| i.path().join(id))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| base.join("ucr").join(id));
    dir.join(name)
}

fn read(p: &PathBuf) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

/// CPU time used by the container's cgroup, in seconds.
fn cpu_secs(id: &str) -> f64 {
    if v2() {
        let stat = read(&cg_file(id, "", "", "cpu.stat"));
        let usec = stat
            .lines()
            .find_map(|l| l.strip_prefix("usage_usec "))
            .and_then(|v| v.parse::<f64>().ok())
            .expect("usage_usec");
        usec / 1e6
    } else {
        read(&cg_file(id, "cpuacct", "cpuacct.usage", ""))
            .parse::<f64>()
            .expect("cpuacct.usage")
            / 1e9
    }
}

/// Start `args` detached as container `id` and wait until it runs.
fn start(c: &Containers, id: &str, args: &[&str]) {
    let mut all = vec!["run", "--detach", "--name", id];
    all.extend(args);
    ucr(c, &all).ok();
    c.wait_running(id);
}

/// What tells why a container did not end: its supervisor's log, where the supervisor waits, and the memory
/// cgroup's OOM counters.
fn diagnose(c: &Containers, id: &str) -> String {
    let log = c
        .runtime_dir()
        .join("containers")
        .join(id)
        .join("supervisor.log");
    let v = c.ps(id).unwrap_or_default();
    let wchan = v["owner"]["pid"]
        .as_i64()
        .and_then(|o| std::fs::read_to_string(format!("/proc/{o}/wchan")).ok());
    let oom = cg_file(id, "memory", "memory.oom_control", "memory.events");
    format!(
        "supervisor log: {}\nsupervisor waits in: {wchan:?}\n{}: {}\nps: {v}",
        std::fs::read_to_string(log).unwrap_or_default(),
        oom.display(),
        std::fs::read_to_string(&oom).unwrap_or_default()
    )
}

fn wait_json(c: &Containers, id: &str) -> serde_json::Value {
    let w = ucr(c, &["wait", id, "--json"]);
    serde_json::from_str(w.stdout.trim())
        .unwrap_or_else(|e| panic!("wait --json: {e}: {}", w.all()))
}

#[track_caller]
fn assert_memory_limitation(t: &serde_json::Value, mb: f64) {
    assert_eq!(t["state"], "TASK_FAILED", "{t}");
    assert_eq!(t["reason"], "REASON_CONTAINER_LIMITATION_MEMORY", "{t}");
    let msg = t["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with(&format!(
            "Memory limit exceeded: Requested: {mb}MB Maximum Used: "
        )),
        "{t}"
    );
    let r = &t["limitation"]["resources"][0];
    assert_eq!(
        (r["name"].as_str(), r["type"].as_str()),
        (Some("mem"), Some("SCALAR")),
        "{t}"
    );
    assert_eq!(r["scalar"]["value"].as_f64(), Some(mb), "{t}");
}

/// awk doubling a string: past 64 MB the memory cgroup must kill it (there is no swap to go to).
const HOG: &str = "busybox awk 'BEGIN { s = \"x\"; while (1) s = s s }'";

#[test]
fn memory_hog_dies_with_the_memory_limitation() {
    let _serial = exclusive();
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    // The hog is the task's init: the kernel kills the task itself.
    let id = c.id("hog");
    let out = ucr(
        &c,
        &[
            "run",
            "--name",
            &id,
            "--mem",
            "64",
            &image,
            "sh",
            "-c",
            &format!("exec {HOG}"),
        ],
    );
    assert_eq!(out.code, 137, "{}", out.all());
    // The foreground run says why it exited 137, in one line.
    let why = format!(
        "ucr: container {id}: REASON_CONTAINER_LIMITATION_MEMORY: Memory limit exceeded: Requested: 64MB \
         Maximum Used: "
    );
    assert!(
        out.stderr.lines().any(|l| l.starts_with(&why)),
        "{}",
        out.all()
    );
    assert_memory_limitation(&wait_json(&c, &id), 64.0);

    // The hog is a child and the init would live on: the OOM notification makes the supervisor kill it.
    let id = c.id("hogchild");
    let script = format!("{HOG}; echo survived; exec sleep 1000");
    ucr(
        &c,
        &[
            "run", "--detach", "--name", &id, "--mem", "64", &image, "sh", "-c", &script,
        ],
    )
    .ok();
    let t = exited(&c, &id, Duration::from_secs(60))
        .unwrap_or_else(|| panic!("still running after the OOM kill; {}", diagnose(&c, &id)));
    assert_memory_limitation(&t, 64.0);
    assert_eq!(t["exit_status"], 9, "killed by SIGKILL: {t}");
}

/// The termination of `id` once it has exited, polling `ps` for up to `limit`.
fn exited(c: &Containers, id: &str, limit: Duration) -> Option<serde_json::Value> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(v) = c.ps(id).filter(|v| v["state"] == "EXITED") {
            return Some(v["termination"].clone());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn fork_bomb_never_exceeds_the_pids_limit() {
    let _serial = exclusive();
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("bomb");
    let bomb = "(b() { b | b & }; b) 2>/dev/null & exec sleep 1000";
    start(&c, &id, &["--pids", "64", &image, "sh", "-c", bomb]);
    assert_eq!(read(&cg_file(&id, "pids", "pids.max", "pids.max")), "64");
    let current = cg_file(&id, "pids", "pids.current", "pids.current");
    let (mut peak, mut samples) = (0u64, 0);
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        let n: u64 = read(&current).parse().expect("pids.current");
        assert!(n <= 64, "pids.current {n} > 64");
        peak = peak.max(n);
        samples += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let events = read(&cg_file(&id, "pids", "pids.events", "pids.events"));
    eprintln!("fork bomb under pids 64: peak {peak} in {samples} samples; pids.events: {events}");
    // The bomb reached the limit: forks were refused there. (It dies out soon after, since a shell exits when a
    // fork fails and the container's init reaps every orphan at once; while the task was pid 1, orphans nobody
    // reaped held the limit's slots as zombies for the container's life.)
    let refused: u64 = events
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(refused > 0, "no fork was refused at the limit: {events}");
    ucr(&c, &["kill", &id]).ok();
    wait_json(&c, &id);
}

#[test]
fn cpu_limit_caps_a_spinner_at_half_a_core() {
    let _serial = exclusive();
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("spin");
    start(
        &c,
        &id,
        &[
            "--cpus",
            "0.5",
            "--cpus-limit",
            "0.5",
            &image,
            "sh",
            "-c",
            "while :; do :; done",
        ],
    );
    let quota = if v2() {
        read(&cg_file(&id, "", "", "cpu.max"))
    } else {
        read(&cg_file(&id, "cpu", "cpu.cfs_quota_us", ""))
    };
    assert!(quota.starts_with("50000"), "quota {quota}");
    std::thread::sleep(Duration::from_millis(500));
    let (t0, u0) = (Instant::now(), cpu_secs(&id));
    std::thread::sleep(Duration::from_secs(5));
    let share = (cpu_secs(&id) - u0) / t0.elapsed().as_secs_f64();
    eprintln!("spinner with limits.cpus 0.5 used {share:.3} of a core");
    assert!((0.45..=0.55).contains(&share), "share {share}");
    let s = stats_json(&c, &id);
    assert_eq!(s["cpus_limit"].as_f64(), Some(0.5), "{s}");
    assert!(s["cpus_nr_throttled"].as_u64().unwrap_or(0) > 0, "{s}");
    ucr(&c, &["kill", &id]).ok();
}

#[test]
fn shares_weigh_two_spinners_two_to_one_on_one_core() {
    let _serial = exclusive();
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    // Both pinned to CPU 0 from inside, so they compete for one core.
    let spin = "busybox taskset -p 1 $$ >/dev/null && while :; do :; done";
    let (big, small) = (c.id("big"), c.id("small"));
    start(&c, &big, &["--cpus", "2", &image, "sh", "-c", spin]);
    start(&c, &small, &["--cpus", "1", &image, "sh", "-c", spin]);
    if v2() {
        assert_eq!(read(&cg_file(&big, "", "", "cpu.weight")), "200");
        assert_eq!(read(&cg_file(&small, "", "", "cpu.weight")), "100");
    } else {
        assert_eq!(read(&cg_file(&big, "cpu", "cpu.shares", "")), "2048");
        assert_eq!(read(&cg_file(&small, "cpu", "cpu.shares", "")), "1024");
    }
    std::thread::sleep(Duration::from_millis(500));
    let (b0, s0) = (cpu_secs(&big), cpu_secs(&small));
    std::thread::sleep(Duration::from_secs(5));
    let (b, s) = (cpu_secs(&big) - b0, cpu_secs(&small) - s0);
    let ratio = b / s;
    eprintln!("cpus 2 vs cpus 1 on one core: {b:.3}s vs {s:.3}s, ratio {ratio:.3}");
    assert!(
        (1.6..=2.4).contains(&ratio),
        "ratio {ratio} ({b:.3}s vs {s:.3}s)"
    );
    assert!(
        b + s > 4.0,
        "together they had the core: {b:.3}s + {s:.3}s in 5 s"
    );
    ucr(&c, &["kill", &big]).ok();
    ucr(&c, &["kill", &small]).ok();
}

fn stats_json(c: &Containers, id: &str) -> serde_json::Value {
    let out = ucr(c, &["stats", id, "--json"]).ok();
    serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("stats --json: {e}: {}", out.stdout))
}

#[test]
fn update_changes_limits_live_and_records_them() {
    let _serial = exclusive();
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("upd");
    start(
        &c,
        &id,
        &["--mem", "64", "--cpus", "1", &image, "sleep", "1000"],
    );
    let limit = cg_file(&id, "memory", "memory.limit_in_bytes", "memory.max");
    assert_eq!(read(&limit), (64u64 << 20).to_string());
    // No swap under the limit, from the launch on.
    let (swap, no_swap) = if v2() {
        (cg_file(&id, "", "", "memory.swap.max"), "0".to_string())
    } else {
        let memsw = cg_file(&id, "memory", "memory.memsw.limit_in_bytes", "");
        (memsw, (64u64 << 20).to_string())
    };
    assert_eq!(read(&swap), no_swap);
    ucr(&c, &["update", &id, "--mem", "128", "--cpus", "0.5"]).ok();
    assert_eq!(read(&limit), (128u64 << 20).to_string());
    let soft = cg_file(&id, "memory", "memory.soft_limit_in_bytes", "memory.low");
    assert_eq!(read(&soft), (128u64 << 20).to_string());
    if v2() {
        assert_eq!(read(&cg_file(&id, "", "", "memory.swap.max")), "0");
        assert_eq!(read(&cg_file(&id, "", "", "cpu.weight")), "50");
    } else {
        assert_eq!(
            read(&cg_file(&id, "memory", "memory.memsw.limit_in_bytes", "")),
            (128u64 << 20).to_string()
        );
        assert_eq!(read(&cg_file(&id, "cpu", "cpu.shares", "")), "512");
    }
    let v: serde_json::Value =
        serde_json::from_str(ucr(&c, &["inspect", &id, "--json"]).ok().stdout.trim())
            .expect("inspect");
    let r = &v["config"]["resources"];
    assert_eq!(
        (r["mem_mb"].as_f64(), r["cpus"].as_f64()),
        (Some(128.0), Some(0.5)),
        "{v}"
    );
    let s = stats_json(&c, &id);
    assert_eq!(s["mem_limit_bytes"].as_u64(), Some(128 << 20), "{s}");

    // A bad value changes nothing; an exited container cannot be updated.
    let bad = ucr(&c, &["update", &id, "--mem", "-5"]);
    assert_eq!(bad.code, 125, "{}", bad.all());
    assert_eq!(read(&limit), (128u64 << 20).to_string());
    ucr(&c, &["kill", &id]).ok();
    wait_json(&c, &id);
    let gone = ucr(&c, &["update", &id, "--mem", "256"]);
    assert!(
        gone.code == 125 && gone.stderr.contains("not running"),
        "{}",
        gone.all()
    );
}

#[test]
fn stats_move_while_the_task_works() {
    let _serial = exclusive();
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("stats");
    // 16 MB in a tmpfs file (charged to the container's memory cgroup), then spins.
    let work =
        "busybox dd if=/dev/zero of=/dev/shm/f bs=1M count=16 2>/dev/null; while :; do :; done";
    start(
        &c,
        &id,
        &["--cpus", "1", "--mem", "256", &image, "sh", "-c", work],
    );
    std::thread::sleep(Duration::from_millis(300));
    let a = stats_json(&c, &id);
    std::thread::sleep(Duration::from_secs(1));
    let b = stats_json(&c, &id);
    let cpu = |s: &serde_json::Value| {
        s["cpus_user_time_secs"].as_f64().unwrap_or(0.0)
            + s["cpus_system_time_secs"].as_f64().unwrap_or(0.0)
    };
    assert!(cpu(&b) > cpu(&a) + 0.3, "cpu time moved: {a} -> {b}");
    assert!(b["timestamp"].as_f64() > a["timestamp"].as_f64());
    assert!(b["mem_total_bytes"].as_u64().unwrap_or(0) > 1 << 20, "{b}");
    assert_eq!(b["mem_limit_bytes"].as_u64(), Some(256 << 20), "{b}");
    assert_eq!(b["mem_soft_limit_bytes"].as_u64(), Some(256 << 20), "{b}");
    assert_eq!(b["cpus_limit"].as_f64(), Some(1.0), "{b}");
    assert!(b["processes"].as_u64().unwrap_or(0) >= 1, "{b}");
    assert!(b["threads"].as_u64().unwrap_or(0) >= 1, "{b}");
    let table = ucr(&c, &["stats", &id]).ok().stdout;
    for key in [
        "processes",
        "cpus_user_time_secs",
        "cpus_limit",
        "mem_total_bytes",
        "mem_limit_bytes",
    ] {
        assert!(
            table.lines().any(|l| l.starts_with(key)),
            "{key} in:\n{table}"
        );
    }
    ucr(&c, &["kill", &id]).ok();
    wait_json(&c, &id);
    let exited = ucr(&c, &["stats", &id]);
    assert_eq!(exited.code, 125, "{}", exited.all());
}

#[test]
fn devices_outside_the_allow_list_cannot_be_opened() {
    let _serial = exclusive();
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    // The device cgroup allows mknod (Mesos's list has `c *:* m`, `b *:* m`); the task needs CAP_MKNOD too,
    // which only a request for it gives. A node made for an allowed device opens, one for /dev/kmsg (1:11, which
    // root may open for writing without any capability) does not. In /dev: a tmpfs without nodev, so only the
    // device cgroup can say no.
    let script = "busybox mknod /dev/xnull c 1 3 && busybox mknod /dev/xkmsg c 1 11 && \
                  { echo x > /dev/xnull && echo null-ok; } && \
                  { echo ucr-device-test > /dev/xkmsg && echo kmsg-open || echo kmsg-denied; }";
    let call = serde_json::json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {
            "container_id": {"value": c.id("dev")},
            "command": {"value": script},
            "container": {
                "type": "MESOS",
                "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}},
                "linux_info": {"effective_capabilities": {"capabilities": ["MKNOD"]}},
            },
        }
    });
    let out = c.run_stdin(&["launch", "--rm", "-"], &call.to_string());
    assert_eq!(out.stdout, "null-ok\nkmsg-denied\n", "{}", out.all());
}
