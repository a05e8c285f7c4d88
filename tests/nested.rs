//! Nested containers (Mesos `ContainerID.parent`), through the CLI (`ucr launch` of a LAUNCH_CONTAINER call) and
//! through the agent's calls, current and deprecated: a nested container runs in its parent's network and UTS
//! namespaces, under its parent's cgroup with its own limits when it does not share them, is named `parent.child`
//! on the command line, is waited for from its checkpoint, and goes with its parent: killing the parent kills it
//! first, removing the parent removes it, and nothing is left of either.

use serde_json::json;

use crate::agent::support::Agent;
use crate::common::{cgroup_dirs, procs_in_cgroup, Containers, CMD_TIMEOUT};

fn nested_call(parent: &str, child: &str, cmd: &str, linux: serde_json::Value) -> String {
    json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {
            "container_id": {"value": child, "parent": {"value": parent}},
            "command": {"value": cmd},
            "resources": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 64}}],
            "container": {"type": "MESOS", "linux_info": linux},
        }
    })
    .to_string()
}

/// Through the agent: `parent`, a top-level container that sleeps, and its nested container `a`, which too.
fn launch_with_child(a: &Agent, parent: &str) {
    let top = json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {"container_id": {"value": parent}, "command": {"value": "sleep 600"}}
    });
    assert_eq!(a.call(&top.to_string()).status, 200);
    let r = a.call(&nested_call(parent, "a", "sleep 600", json!({})));
    assert_eq!(r.status, 200, "{}", r.body);
}

fn ns(pid: i32, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn a_nested_container_lives_in_its_parents_namespaces_and_cgroup_and_goes_with_it() {
    let c = Containers::new();
    let parent = c.id("par");
    let out = c.run_for(
        &[
            "run",
            "-d",
            "--no-image",
            "--name",
            &parent,
            "--network",
            "none",
            "/bin/sleep",
            "600",
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let ppid = c.wait_running(&parent);
    let call = nested_call(&parent, "web", "sleep 600", json!({"share_cgroups": false}));
    let out = c.run_stdin(&["launch", "-d", "-"], &call);
    assert_eq!(out.code, 0, "{}", out.all());
    let nested = format!("{parent}/web");
    let kid = c.wait_running(&nested);
    // The pod's localhost and hostname; its own mounts and pids.
    for kind in ["net", "uts", "ipc"] {
        assert_eq!(ns(kid, kind), ns(ppid, kind), "{kind}");
    }
    for kind in ["mnt", "pid"] {
        assert_ne!(ns(kid, kind), ns(ppid, kind), "{kind}");
    }
    // Its cgroup is under the parent's, with its own 64 MB limit.
    let dirs = cgroup_dirs(&parent);
    let limit = dirs.iter().find_map(|d| {
        std::fs::read_to_string(d.join("web/memory.limit_in_bytes"))
            .or_else(|_| std::fs::read_to_string(d.join("web/memory.max")))
            .ok()
    });
    assert_eq!(limit.as_deref().map(str::trim), Some("67108864"));
    // The parent still takes one more process (on v2 its own now live in its leaf cgroup).
    let ex = c.run_for(&["exec", &parent, "true"], CMD_TIMEOUT);
    assert_eq!(ex.code, 0, "{}", ex.all());
    let v = c.ps(&nested).expect("ps lists the nested container");
    assert_eq!(v["parent"], parent.as_str());
    // Shown under its parent by its Mesos name, and reachable by it.
    let table = c.run_for(&["ps"], CMD_TIMEOUT).ok().stdout;
    assert!(table.contains(&format!("  {parent}.web")), "{table}");
    let inspect = c.run_for(&["inspect", &parent], CMD_TIMEOUT).ok().stdout;
    assert!(inspect.contains(&nested), "{inspect}");
    // A short-lived second child is waited for by its dotted name, from its checkpoint.
    let call = nested_call(&parent, "once", "exit 3", json!({}));
    let out = c.run_stdin(&["launch", "-"], &call);
    assert_eq!(out.code, 3, "{}", out.all());
    let w = c.run_for(&["wait", &format!("{parent}.once")], CMD_TIMEOUT);
    assert_eq!(w.stdout.trim(), "3", "{}", w.all());
    // Killing the parent kills its children first; removing it removes them.
    c.run_for(&["kill", &parent], CMD_TIMEOUT).ok();
    c.run_for(&["wait", &parent], CMD_TIMEOUT);
    assert_eq!(c.ps(&nested).expect("kept until rm")["state"], "EXITED");
    assert!(procs_in_cgroup(&parent).is_empty());
    c.run_for(&["rm", &parent], CMD_TIMEOUT).ok();
    assert!(c.ps(&nested).is_none());
    assert!(cgroup_dirs(&parent).is_empty());
    assert!(std::fs::read_dir(format!("/proc/{kid}")).is_err());
}

#[test]
fn the_agent_serves_nested_containers_with_the_current_and_the_deprecated_calls() {
    let a = Agent::start(&[]);
    a.wait_ready();
    let parent = a.c.id("agpar");
    launch_with_child(&a, &parent);
    // The deprecated launch: no resources, a parent required.
    let dep = json!({
        "type": "LAUNCH_NESTED_CONTAINER",
        "launch_nested_container": {
            "container_id": {"value": "b", "parent": {"value": parent}},
            "command": {"value": "exit 7"}
        }
    });
    assert_eq!(a.call(&dep.to_string()).status, 200);
    let orphan = json!({
        "type": "LAUNCH_NESTED_CONTAINER",
        "launch_nested_container": {"container_id": {"value": "b"}, "command": {"value": "true"}}
    });
    assert_eq!(a.call(&orphan.to_string()).status, 400);
    let nested_id = |v: &str| json!({"value": v, "parent": {"value": parent}});
    let w = a.call(
        &json!({"type": "WAIT_NESTED_CONTAINER", "wait_nested_container": {"container_id": nested_id("b")}})
            .to_string(),
    );
    assert_eq!(w.status, 200, "{}", w.body);
    assert_eq!(w.json()["type"], "WAIT_NESTED_CONTAINER");
    assert_eq!(w.json()["wait_nested_container"]["exit_status"], 7 << 8);
    // show_nested lists the running child under its parent's id, show_standalone the parent alone.
    let list = |nested: bool, standalone: bool| {
        a.call(
            &json!({"type": "GET_CONTAINERS", "get_containers": {"show_nested": nested, "show_standalone": standalone}})
                .to_string(),
        )
        .json()["get_containers"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let both = list(true, true);
    assert!(
        both.iter().any(|e| e["container_id"] == nested_id("a")),
        "{both:?}"
    );
    assert!(both
        .iter()
        .any(|e| e["container_id"] == json!({"value": parent})));
    let only_top = list(false, true);
    assert!(!only_top.iter().any(|e| e["container_id"] == nested_id("a")));
    // KILL of a nested container, current form; REMOVE, deprecated form.
    let kill =
        json!({"type": "KILL_CONTAINER", "kill_container": {"container_id": nested_id("a")}});
    assert_eq!(a.call(&kill.to_string()).status, 200);
    let w = a.call(
        &json!({"type": "WAIT_CONTAINER", "wait_container": {"container_id": nested_id("a")}})
            .to_string(),
    );
    assert_eq!(
        w.json()["wait_container"]["state"],
        "TASK_KILLED",
        "{}",
        w.body
    );
    let rm = json!({"type": "REMOVE_NESTED_CONTAINER", "remove_nested_container": {"container_id": nested_id("a")}});
    assert_eq!(a.call(&rm.to_string()).status, 200);
    assert!(!a
        .c
        .runtime_dir()
        .join("containers")
        .join(&parent)
        .join("containers/a")
        .exists());
    // The parent's end takes the rest along; a nested remove after it answers 200, as Mesos does.
    let kill =
        json!({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": parent}}});
    assert_eq!(a.call(&kill.to_string()).status, 200);
    a.wait(&parent);
    let rm_top = json!({"type": "REMOVE_CONTAINER", "remove_container": {"container_id": {"value": parent}}});
    assert_eq!(a.call(&rm_top.to_string()).status, 200);
    let rm_b =
        json!({"type": "REMOVE_CONTAINER", "remove_container": {"container_id": nested_id("b")}});
    assert_eq!(a.call(&rm_b.to_string()).status, 200);
    assert!(procs_in_cgroup(&parent).is_empty());
    assert!(cgroup_dirs(&parent).is_empty());
}

#[test]
fn nested_containers_outlive_an_agent_kill_9_and_are_answered_from_their_checkpoints() {
    let mut a = Agent::start(&[]);
    a.wait_ready();
    let parent = a.c.id("recpar");
    let top = json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {"container_id": {"value": parent}, "command": {"value": "sleep 600"}}
    });
    assert_eq!(a.call(&top.to_string()).status, 200);
    assert_eq!(
        a.call(&nested_call(&parent, "a", "sleep 600", json!({})))
            .status,
        200
    );
    assert_eq!(
        a.call(&nested_call(&parent, "b", "exit 5", json!({})))
            .status,
        200
    );
    let nested_id = |v: &str| json!({"value": v, "parent": {"value": parent}});
    let wait_b =
        json!({"type": "WAIT_CONTAINER", "wait_container": {"container_id": nested_id("b")}})
            .to_string();
    assert_eq!(
        a.call(&wait_b).json()["wait_container"]["exit_status"],
        5 << 8
    );
    a.restart();
    a.wait_ready();
    // The exited child from its checkpoint; the running one still running, listed, and killed with its parent.
    assert_eq!(
        a.call(&wait_b).json()["wait_container"]["exit_status"],
        5 << 8
    );
    let list = a
        .call(r#"{"type":"GET_CONTAINERS","get_containers":{"show_nested":true}}"#)
        .json();
    let listed = list["get_containers"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        listed.iter().any(|e| e["container_id"] == nested_id("a")),
        "{list}"
    );
    let kill =
        json!({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": parent}}});
    assert_eq!(a.call(&kill.to_string()).status, 200);
    let wait_a =
        json!({"type": "WAIT_CONTAINER", "wait_container": {"container_id": nested_id("a")}})
            .to_string();
    assert_eq!(
        a.call(&wait_a).json()["wait_container"]["state"],
        "TASK_KILLED"
    );
    a.wait(&parent);
    assert!(procs_in_cgroup(&parent).is_empty());
    assert!(cgroup_dirs(&parent).is_empty());
}

/// Mesos `linux_info.share_pid_namespace` on a nested container: it joins its parent's pid namespace (the
/// parent's processes are its neighbours), while a sibling without it keeps its own.
#[test]
fn a_nested_container_shares_its_parents_pid_namespace_when_asked() {
    let (_reg, image) = crate::common::busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let parent = c.id("pidpar");
    let out = c.run_for(
        &[
            "run",
            "-d",
            "--name",
            &parent,
            "--network",
            "none",
            &image,
            "sleep",
            "600",
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let ppid = c.wait_running(&parent);
    assert_ne!(ns(ppid, "pid"), ns(std::process::id() as i32, "pid"));
    let shared = nested_call(
        &parent,
        "shared",
        "sleep 600",
        json!({"share_pid_namespace": true}),
    );
    let out = c.run_stdin(&["launch", "-d", "-"], &shared);
    assert_eq!(out.code, 0, "{}", out.all());
    let kid = c.wait_running(&format!("{parent}/shared"));
    assert_eq!(ns(kid, "pid"), ns(ppid, "pid"));
    let own = nested_call(&parent, "own", "sleep 600", json!({}));
    let out = c.run_stdin(&["launch", "-d", "-"], &own);
    assert_eq!(out.code, 0, "{}", out.all());
    let kid2 = c.wait_running(&format!("{parent}/own"));
    assert_ne!(ns(kid2, "pid"), ns(ppid, "pid"));
    c.run_for(&["rm", "--force", &parent], CMD_TIMEOUT).ok();
    assert!(procs_in_cgroup(&parent).is_empty());
    assert!(cgroup_dirs(&parent).is_empty());
}

/// KILL_CONTAINER of a nested container and of its parent at once: the parent's kill takes the child along, so
/// the child's own kill finds it running, ending, or gone. Each answer is 200 or Mesos's 404 ("cannot be found
/// (or is already killed)"), never a 500 for a container that ended between the agent's look and its signal.
#[test]
fn killing_a_nested_container_and_its_parent_at_once_answers_200_or_404() {
    let a = Agent::start(&[]);
    a.wait_ready();
    for round in 0..24 {
        let parent = a.c.id(&format!("kp{round}"));
        launch_with_child(&a, &parent);
        let kill = |id: serde_json::Value| {
            json!({"type": "KILL_CONTAINER", "kill_container": {"container_id": id}}).to_string()
        };
        let of_parent = a.call_in_background(kill(json!({"value": parent})));
        let child = a.call(&kill(json!({"value": "a", "parent": {"value": parent}})));
        assert!(
            [200, 404].contains(&child.status),
            "round {round}: {} {}",
            child.status,
            child.body
        );
        let out = of_parent.join().expect("join").expect("curl");
        assert!(out.status.success(), "round {round}: the parent's kill");
        a.wait(&parent);
        let rm = json!({"type": "REMOVE_CONTAINER", "remove_container": {"container_id": {"value": parent}}});
        assert_eq!(a.call(&rm.to_string()).status, 200);
        assert!(
            procs_in_cgroup(&parent).is_empty(),
            "round {round}: processes left"
        );
    }
}
