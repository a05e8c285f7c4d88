//! A container whose supervisor died (SIGKILL) is still a container: any later `ucr` process — or the agent —
//! can read its statistics, kill it, wait for it and remove it, and its end is recorded exactly once. The task's
//! exit status is checkpointed by the container's init, its reaper, as Mesos's launch helper writes its status
//! file, so it is reported as it was; only when that init died too is it reported as Mesos reports a status it
//! cannot know: killed by SIGKILL, with a reason saying why.

use std::time::{Duration, Instant};

use crate::common::busybox_registry;
use crate::common::{cgroup_dirs, procs_in_cgroup, Containers, Run, CMD_TIMEOUT};

fn ucr(c: &Containers, args: &[&str]) -> Run {
    c.run_for(args, CMD_TIMEOUT)
}

/// Starts `cmd` detached as `id`, then SIGKILLs its supervisor and waits until `ps` says so.
fn orphan(c: &Containers, image: &str, id: &str, cmd: &[&str]) {
    let mut args = vec!["run", "-d", "--name", id, image];
    args.extend_from_slice(cmd);
    ucr(c, &args).ok();
    c.wait_running(id);
    let supervisor = c.ps(id).expect("listed")["owner"]["pid"]
        .as_i64()
        .expect("owner pid") as i32;
    // SAFETY: kill(2) of the supervisor this test started.
    unsafe { libc::kill(supervisor, libc::SIGKILL) };
    let deadline = Instant::now() + CMD_TIMEOUT;
    while c.ps(id).expect("listed")["lost"] != true {
        assert!(Instant::now() < deadline, "never reported");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn stats_kill_wait_and_rm_work_after_the_supervisor_died() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("sup-killed");
    orphan(&c, &image, &id, &["sleep", "1000"]);
    let v = c.ps(&id).expect("listed");
    assert_eq!(v["task_running"], true, "{v}");
    assert_eq!(v["state"], "RUNNING", "{v}");
    let stats = ucr(&c, &["stats", &id, "--json"]).ok();
    let s: serde_json::Value = serde_json::from_str(&stats.stdout).expect("stats json");
    assert!(s["processes"].as_u64().unwrap_or(0) >= 1, "{s}");
    ucr(&c, &["kill", &id]).ok();
    let w = ucr(&c, &["wait", &id, "--json"]);
    let t: serde_json::Value = serde_json::from_str(&w.stdout).expect("wait json");
    assert_eq!(t["state"], "TASK_KILLED", "{t}");
    assert_eq!(t["exit_status"], 9, "{t}");
    assert_eq!(w.code, 137);
    assert!(procs_in_cgroup(&id).is_empty(), "no process left");
    assert!(cgroup_dirs(&id).is_empty(), "no cgroup left");
    // Recorded once: a second wait reads the same end.
    let again: serde_json::Value =
        serde_json::from_str(&ucr(&c, &["wait", &id, "--json"]).stdout).expect("json");
    assert_eq!(again, t);
    ucr(&c, &["rm", &id]).ok();
    assert!(c.ps(&id).is_none());
}

#[test]
fn a_task_that_ends_after_its_supervisor_is_finished_by_whoever_waits() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("sup-gone");
    orphan(&c, &image, &id, &["sh", "-c", "sleep 1; exit 3"]);
    let w = ucr(&c, &["wait", &id, "--json"]);
    let t: serde_json::Value = serde_json::from_str(&w.stdout).expect("wait json");
    assert_eq!(t["state"], "TASK_FAILED", "{t}");
    assert_eq!(t["exit_status"], 3 << 8, "the task's own end: {t}");
    assert_eq!(t["message"], "Command exited with status 3", "{t}");
    assert!(cgroup_dirs(&id).is_empty(), "torn down");
    assert_eq!(w.code, 3);

    // Its init killed as well (it was the task's parent): nobody saw the end.
    let id = c.id("init-gone");
    orphan(&c, &image, &id, &["sh", "-c", "sleep 1; exit 3"]);
    let init = c.ps(&id).expect("listed")["pid"].as_i64().expect("pid") as i32;
    // SAFETY: kill(2) of the container's init, which this test started.
    unsafe { libc::kill(init, libc::SIGKILL) };
    let w = ucr(&c, &["wait", &id, "--json"]);
    let t: serde_json::Value = serde_json::from_str(&w.stdout).expect("wait json");
    assert_eq!(t["state"], "TASK_FAILED", "{t}");
    assert_eq!(t["reason"], "REASON_EXECUTOR_TERMINATED", "{t}");
    assert_eq!(
        t["exit_status"], 9,
        "an exit nobody saw is reported as SIGKILL: {t}"
    );
    assert!(
        t["message"].as_str().unwrap_or("").contains("supervisor"),
        "{t}"
    );
    assert!(cgroup_dirs(&id).is_empty(), "torn down");
    let v = c.ps(&id).expect("kept until rm");
    assert_eq!(v["state"], "EXITED", "{v}");
}
