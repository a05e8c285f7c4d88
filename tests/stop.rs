//! `ucr stop`, the kill policy: SIGTERM to every process of the container, SIGKILL to what is left after the
//! grace period (`-t`, else the container's Mesos `kill_policy.grace_period` / Marathon
//! `taskKillGracePeriodSeconds`, else Mesos's 3 seconds). Either way the termination says TASK_KILLED with the
//! status the task really ended with. The task is not pid 1 of its namespace: the container's init stays as its
//! reaper, as Mesos's launch helper does, so a task without a SIGTERM handler ends at the SIGTERM too.

use std::time::{Duration, Instant};

use crate::common::{busybox_registry, procs_in_cgroup, Containers, Run, CMD_TIMEOUT};

fn ucr(c: &Containers, args: &[&str]) -> Run {
    c.run_for(args, CMD_TIMEOUT)
}

/// `ucr stop ARGS...`: it prints the id once the container has exited; how long that took.
#[track_caller]
fn stop(c: &Containers, args: &[&str]) -> Duration {
    let t0 = Instant::now();
    let out = ucr(c, &[&["stop"], args].concat());
    let took = t0.elapsed();
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        out.stdout.trim(),
        *args.last().unwrap_or(&""),
        "{}",
        out.all()
    );
    took
}

/// `ucr run -d --name ID IMAGE CMD...`, then until it runs: its init's pid.
#[track_caller]
fn detached(c: &Containers, image: &str, id: &str, cmd: &[&str]) -> i32 {
    ucr(c, &[&["run", "-d", "--name", id, image][..], cmd].concat()).ok();
    c.wait_running(id)
}

#[track_caller]
fn termination(c: &Containers, id: &str) -> serde_json::Value {
    let v = c.ps(id).expect("listed");
    assert_eq!(v["state"], "EXITED", "{v}");
    v["termination"].clone()
}

#[test]
fn a_task_that_handles_sigterm_ends_at_once_with_its_own_status_and_its_children_get_it_too() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("term");
    // The shell handles TERM by waiting for its child, which only ends when a SIGTERM reaches it too: signalled
    // alone, the shell would wait out the whole grace period.
    let script = "child() { trap 'echo child-term; exit 0' TERM; while :; do sleep 0.1; done; }
child &
trap 'wait; echo bye; exit 7' TERM
wait
sleep 1000";
    detached(&c, &image, &id, &["sh", "-c", script]);
    // Both shells run once the cgroup has four processes (the reaper, and the loop's sleep among them).
    let deadline = Instant::now() + CMD_TIMEOUT;
    while procs_in_cgroup(&id).len() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = stop(&c, &["-t", "60", &id]);
    assert!(
        took < Duration::from_secs(30),
        "no grace period used up: {took:?}"
    );
    let t = termination(&c, &id);
    assert_eq!(t["state"], "TASK_KILLED", "{t}");
    assert_eq!(t["exit_status"], 7 << 8, "the task's own exit: {t}");
    let logs = ucr(&c, &["logs", &id]).ok();
    assert_eq!(logs.stdout, "child-term\nbye\n");
    assert!(procs_in_cgroup(&id).is_empty(), "every process ended");
    // Stopping what has stopped is done already, as with `docker stop`: 0, and its end stays as it was.
    stop(&c, &[&id]);
    assert_eq!(termination(&c, &id), t);
}

#[test]
fn a_task_that_ignores_sigterm_is_killed_after_the_grace_period() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("ignore");
    // The shell ignores TERM, and so does the sleep it execs (an ignored signal stays ignored across exec).
    detached(&c, &image, &id, &["sh", "-c", "trap '' TERM; sleep 1000"]);
    let took = stop(&c, &["--time", "1.5", &id]);
    assert!(
        took >= Duration::from_millis(1500),
        "waited the grace: {took:?}"
    );
    let t = termination(&c, &id);
    assert_eq!(t["state"], "TASK_KILLED", "{t}");
    assert_eq!(t["exit_status"], libc::SIGKILL, "killed by SIGKILL: {t}");
    assert!(procs_in_cgroup(&id).is_empty(), "every process ended");
    // Stopping what does not exist is one line naming it.
    let out = ucr(&c, &["stop", "no-such-container"]);
    assert_ne!(out.code, 0, "{}", out.all());
    let err: Vec<&str> = out.stderr.lines().collect();
    assert!(
        err.len() == 1 && err[0].contains("no-such-container"),
        "{}",
        out.all()
    );
}

#[test]
fn without_t_the_grace_is_the_apps_taskkillgraceperiodseconds_else_three_seconds() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let app_id = c.id("app");
    let app = serde_json::json!({
        "id": format!("/{app_id}"),
        "cmd": "trap '' TERM; sleep 1000",
        "cpus": 0.1,
        "mem": 32,
        "container": {"type": "MESOS", "docker": {"image": image}},
        "taskKillGracePeriodSeconds": 5
    });
    let out = c.run_stdin(&["launch", "--detach", "-"], &app.to_string());
    assert_eq!(
        (out.code, out.stdout.trim()),
        (0, app_id.as_str()),
        "{}",
        out.all()
    );
    let plain = c.id("plain");
    detached(
        &c,
        &image,
        &plain,
        &["sh", "-c", "trap '' TERM; sleep 1000"],
    );
    c.wait_running(&app_id);
    // Both at once: the plain one's default (3 s) ends first, the app's 5 s later.
    let t0 = Instant::now();
    let (app_stop, plain_stop) = (c.spawn(&["stop", &app_id]), c.spawn(&["stop", &plain]));
    let out = plain_stop.wait_for(CMD_TIMEOUT);
    let plain_took = t0.elapsed();
    assert_eq!(
        (out.code, out.stdout.trim()),
        (0, plain.as_str()),
        "{}",
        out.all()
    );
    let out = app_stop.wait_for(CMD_TIMEOUT);
    let app_took = t0.elapsed();
    assert_eq!(
        (out.code, out.stdout.trim()),
        (0, app_id.as_str()),
        "{}",
        out.all()
    );
    assert!(
        app_took >= Duration::from_millis(4900),
        "the app's 5 s: {app_took:?}"
    );
    assert!(
        plain_took >= Duration::from_millis(2900),
        "Mesos's 3 s: {plain_took:?}"
    );
    assert!(plain_took < app_took, "{plain_took:?} < {app_took:?}");
    for id in [&app_id, &plain] {
        assert_eq!(termination(&c, id)["state"], "TASK_KILLED");
    }
}

/// Two `rm --force` of one running container at once (two operators, or a script and an agent): one removes
/// it, the other either does too or finds it gone ("no such container"); neither fails on a step the other
/// already took (its cgroup's freezer gone, a directory removed), and nothing is left.
#[test]
fn two_forced_removals_at_once_remove_the_container_and_fail_only_on_its_absence() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    for i in 0..20 {
        let id = c.id(&format!("twice{i}"));
        let out = ucr(&c, &["run", "-d", "--name", &id, &image, "sleep", "600"]);
        assert_eq!(out.code, 0, "{}", out.all());
        let (a, b) = (
            c.spawn(&["rm", "--force", &id]),
            c.spawn(&["rm", "--force", &id]),
        );
        for out in [a.wait_for(CMD_TIMEOUT), b.wait_for(CMD_TIMEOUT)] {
            assert!(
                out.code == 0 || out.stderr.trim_end().ends_with("no such container"),
                "round {i}: {}",
                out.all()
            );
        }
        assert!(c.ps(&id).is_none(), "round {i}: the record is left");
        assert!(procs_in_cgroup(&id).is_empty(), "round {i}: processes left");
    }
}

/// State, parent pid and command name of a process (`/proc/PID/stat`), None once it is gone.
fn proc_stat(pid: i32) -> Option<(char, i32, String)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (name, rest) = (
        s.split_once('(')?.1.rsplit_once(')')?.0,
        s.rsplit_once(')')?.1,
    );
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    Some((state, f.next()?.parse().ok()?, name.to_string()))
}

/// Every process whose parent is `parent`.
fn children_of(parent: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|p| proc_stat(*p).is_some_and(|(_, pp, _)| pp == parent))
                .collect()
        })
        .unwrap_or_default()
}

#[track_caller]
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + CMD_TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Under Mesos the task is the child of its launch helper, which forwards signals to it and reaps orphans
/// (launch.cpp), so a task without a SIGTERM handler ends at the SIGTERM. ucr's init does the same: `sleep`
/// has no handler and ends at once; `ucr kill -s`, which signals the init, reaches the task through it.
#[test]
fn a_task_without_a_sigterm_handler_ends_at_the_sigterm_and_signals_reach_it_through_its_init() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("plain");
    let init = detached(&c, &image, &id, &["sleep", "1000"]);
    // The init shows as the reaper in the container, with none of the launching CLI's environment.
    let cmdline = std::fs::read(format!("/proc/{init}/cmdline")).expect("cmdline");
    assert!(
        cmdline.starts_with(b"ucr-init\0"),
        "{:?}",
        String::from_utf8_lossy(&cmdline)
    );
    let environ = std::fs::read(format!("/proc/{init}/environ")).expect("environ");
    assert!(
        environ.iter().all(|b| *b == 0),
        "{:?}",
        String::from_utf8_lossy(&environ)
    );
    let task = children_of(init);
    assert_eq!(task.len(), 1, "one child, the task: {task:?}");
    assert_eq!(proc_stat(task[0]).map(|s| s.2), Some("sleep".into()));
    let took = stop(&c, &["-t", "60", &id]);
    assert!(
        took < Duration::from_secs(30),
        "ended at the SIGTERM: {took:?}"
    );
    let t = termination(&c, &id);
    assert_eq!(t["state"], "TASK_KILLED", "{t}");
    assert_eq!(t["exit_status"], libc::SIGTERM, "the task's own end: {t}");

    let id = c.id("usr1");
    let script = "trap 'echo got-usr1; exit 3' USR1; while :; do sleep 0.1; done";
    let init = detached(&c, &image, &id, &["sh", "-c", script]);
    // The trap is set once the loop runs: the shell has a child of its own.
    until("the loop", || {
        children_of(init)
            .first()
            .is_some_and(|sh| !children_of(*sh).is_empty())
    });
    ucr(&c, &["kill", "-s", "USR1", &id]).ok();
    let out = ucr(&c, &["wait", &id]);
    assert_eq!(out.code, 3, "the task's own exit: {}", out.all());
    assert_eq!(ucr(&c, &["logs", &id]).ok().stdout, "got-usr1\n");
    let t = termination(&c, &id);
    assert_eq!(t["exit_status"], 3 << 8, "{t}");
}

/// An orphan of the task is re-parented to the container's pid 1. When that was the task, one that never waits
/// for children (here `sleep`, exec'd by the shell) left it a zombie for the container's whole life; the init
/// reaps it.
#[test]
fn orphans_of_the_task_are_reaped_by_the_init() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("orphan");
    let script = "(sleep 1 &); exec sleep 1000";
    let init = detached(&c, &image, &id, &["sh", "-c", script]);
    let orphan_of = |init: i32| {
        children_of(init).into_iter().find(|p| {
            proc_stat(*p).is_some_and(|(_, _, name)| name == "sleep") && {
                let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                cmd == b"sleep\x001\x00"
            }
        })
    };
    // The subshell has exited and left its sleep to the init.
    let mut orphan = None;
    until("the orphan re-parented to the init", || {
        orphan = orphan_of(init);
        orphan.is_some()
    });
    let orphan = orphan.unwrap_or_default();
    until("the orphan reaped", || proc_stat(orphan).is_none());
    stop(&c, &["-t", "10", &id]);
}
