//! `ucr top`: what a running container's processes are doing, read from its cgroup and `/proc`: host and
//! container pids, parents, the user as the container names it, command lines; one line or one JSON object per
//! process; a container that is not running is one line naming it.

use serde_json::Value;

use crate::common::{busybox_registry, Containers, CMD_TIMEOUT};

#[test]
fn top_lists_a_containers_processes_with_its_user_names() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let id = c.id("top");
    let script = "sleep 300 & sleep 301; echo done";
    let args = [
        "run", "-d", "-u", "nobody", "--name", &id, &image, "sh", "-c", script,
    ];
    c.run_for(&args, CMD_TIMEOUT).ok();
    c.wait_running(&id);
    // Both sleeps run once the shell has forked them: poll until four processes are listed (the container's
    // init, the task's reaper, among them).
    let deadline = std::time::Instant::now() + CMD_TIMEOUT;
    let rows: Vec<Value> = loop {
        let out = c.run_for(&["top", &id, "--json"], CMD_TIMEOUT).ok();
        let rows: Vec<Value> = out
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        if rows.len() >= 4 || std::time::Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(rows.len(), 4, "{rows:?}");
    let init = rows
        .iter()
        .find(|r| r["ns_pid"] == 1)
        .expect("the init is pid 1 in the container");
    assert_eq!(init["command"], "ucr-init", "{init}");
    let shell = rows
        .iter()
        .find(|r| r["ns_pid"] == 2)
        .expect("the task is the init's first child");
    assert_eq!(shell["command"], format!("sh -c {script}"), "{shell}");
    assert_eq!(shell["ppid"], init["pid"], "{shell}");
    for r in &rows {
        // The init runs as the task's user too.
        assert_eq!(r["user"], "nobody", "{r}");
        assert_eq!(r["uid"], 65534, "{r}");
        if r["ns_pid"] != 1 && r["ns_pid"] != 2 {
            assert_eq!(r["ppid"], shell["pid"], "{r}");
            assert!(r["command"]
                .as_str()
                .is_some_and(|c| c.starts_with("sleep 30")));
        }
    }
    let table = c.run_for(&["top", &id], CMD_TIMEOUT).ok().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("PID") && lines[0].ends_with("COMMAND"),
        "{table}"
    );
    assert_eq!(lines.len(), 5, "{table}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("nobody") && l.ends_with("sleep 301")),
        "{table}"
    );

    c.run_for(&["kill", &id], CMD_TIMEOUT).ok();
    c.run_for(&["wait", &id], CMD_TIMEOUT);
    let out = c.run_for(&["top", &id], CMD_TIMEOUT);
    assert_ne!(out.code, 0, "{}", out.all());
    let err: Vec<&str> = out.stderr.lines().collect();
    assert!(
        err.len() == 1 && err[0].contains(&id) && err[0].contains("not running"),
        "{}",
        out.all()
    );
}
