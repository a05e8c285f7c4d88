//! `task_group.rs`: the three shapes, the parent from the executor, the tasks nested in it.

use serde_json::{json, Value};

use super::task_group::parse_task_group_with;
use crate::spec::config::NetworkMode;
use crate::spec::json::Unknown;
use crate::spec::pod::{pause_command, PodConfig};

fn parse(doc: &Value) -> Result<(PodConfig, Vec<String>), String> {
    parse_task_group_with(&doc.to_string(), Unknown::Ignore, None).map_err(|e| e.to_string())
}

fn ok(doc: &Value) -> PodConfig {
    match parse(doc) {
        Ok((p, _)) => p,
        Err(e) => panic!("{doc}: {e}"),
    }
}

fn err(doc: &Value) -> String {
    match parse(doc) {
        Ok(_) => panic!("{doc}: parsed, expected an error"),
        Err(e) => e,
    }
}

fn scalar(name: &str, v: f64) -> Value {
    json!({"name": name, "type": "SCALAR", "scalar": {"value": v}})
}

fn task(id: &str, resources: Value) -> Value {
    json!({"name": id, "task_id": {"value": id}, "agent_id": {"value": "a1"},
           "command": {"shell": false, "value": "/bin/sleep", "arguments": ["/bin/sleep", "9"]},
           "resources": resources})
}

fn executor() -> Value {
    json!({"type": "DEFAULT", "executor_id": {"value": "instance-web.1"}, "framework_id": {"value": "f"},
           "resources": [scalar("cpus", 0.1), scalar("mem", 32.0)],
           "labels": {"labels": [{"key": "team", "value": "a"}]},
           "container": {"type": "MESOS",
               "network_infos": [{"name": "n1", "port_mappings": [{"host_port": 31000, "container_port": 80}]}]}})
}

#[test]
fn launch_group_with_an_executor() {
    let ports = json!({"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31000}]}});
    let doc = json!({"executor": executor(), "task_group": {"tasks": [
        task("t1", json!([scalar("cpus", 0.5), scalar("mem", 64.0), ports])),
        task("t2", json!([])),
    ]}});
    let p = ok(&doc);
    let parent = &p.parent;
    assert_eq!(parent.id, "instance-web.1");
    assert_eq!(parent.command, pause_command());
    assert_eq!(parent.image, None);
    assert_eq!(parent.network.mode, NetworkMode::Cni("n1".into()));
    assert_eq!(parent.network.port_mappings[0].host_port, 31000);
    assert_eq!(parent.resources.cpus, Some(0.6));
    assert_eq!(parent.resources.mem_mb, Some(96.0));
    assert_eq!(parent.resources.ports, [(31000, 31000)]);
    assert_eq!(parent.labels.get("team").map(String::as_str), Some("a"));
    let ids: Vec<&str> = p.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["instance-web.1/t1", "instance-web.1/t2"]);
    let [t1, t2] = &p.children[..] else {
        panic!("two tasks")
    };
    assert!(t1.resources.ports.is_empty());
    assert_eq!(t1.command.value.as_deref(), Some("/bin/sleep"));
    let n1 = t1.nesting.as_ref().expect("nested");
    assert_eq!(n1.parent, "instance-web.1");
    // With resources: its own cgroup under the envelope; without: the envelope's.
    assert!(!n1.share_cgroups && n1.kills_parent && n1.share_ipc && !n1.share_pid);
    assert!(t2
        .nesting
        .as_ref()
        .is_some_and(|n| n.share_cgroups && n.kills_parent));
}

#[test]
fn the_other_shapes_and_the_pod_id_without_an_executor() {
    let p = ok(&json!({"tasks": [task("first", json!([])), task("second", json!([]))]}));
    assert_eq!(p.parent.id, "first");
    assert_eq!(p.parent.network.mode, NetworkMode::Host);
    assert_eq!(p.children[0].id, "first/first");
    assert_eq!(p.children[1].id, "first/second");
    let op = json!({"type": "LAUNCH_GROUP", "launch_group": {"executor": executor(),
        "task_group": {"tasks": [task("t", json!([]))]}}});
    assert_eq!(ok(&op).children[0].id, "instance-web.1/t");
    let e = err(
        &json!({"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": [{"name": "x",
        "task_id": {"value": "x"}}]}}}),
    );
    assert_eq!(
        e,
        "launch_group.task_group.tasks[0].command: missing: ucr runs command tasks (a TaskInfo without a command \
         needs an executor)"
    );
}

#[test]
fn share_cgroups_from_the_task_then_the_executor() {
    let mut ex = executor();
    ex["container"]["linux_info"] = json!({"share_cgroups": false});
    let mut own = task("b", json!([]));
    own["container"] = json!({"type": "MESOS", "linux_info": {"share_cgroups": true}});
    let p = ok(&json!({"executor": ex, "task_group": {"tasks": [task("a", json!([])), own]}}));
    assert!(p.children[0]
        .nesting
        .as_ref()
        .is_some_and(|n| !n.share_cgroups));
    assert!(p.children[1]
        .nesting
        .as_ref()
        .is_some_and(|n| n.share_cgroups));
    assert_eq!(p.parent.linux.share_cgroups, None);
}

#[test]
fn refused_naming_the_field() {
    let one = |t: Value| json!({"executor": executor(), "task_group": {"tasks": [t]}});
    let dotted = task("pod.instance-1.web", json!([]));
    assert_eq!(
        err(&one(dotted)),
        "task_group.tasks[0].task_id.value: \"pod.instance-1.web\": a nested container's ids must not contain '.'"
    );
    let mut networked = task("t", json!([]));
    networked["container"] = json!({"type": "MESOS", "network_infos": [{"name": "n2"}]});
    assert!(err(&one(networked))
        .starts_with("task_group.tasks[0].container.network_infos: a task of a group"));
    let mut custom = executor();
    custom["command"] = json!({"value": "./my-executor"});
    let doc = json!({"executor": custom, "task_group": {"tasks": [task("t", json!([]))]}});
    assert!(err(&doc).starts_with("executor.command: custom executors are not supported"));
    let mut imaged = executor();
    imaged["container"]["mesos"] =
        json!({"image": {"type": "DOCKER", "docker": {"name": "busybox"}}});
    let doc = json!({"executor": imaged, "task_group": {"tasks": [task("t", json!([]))]}});
    assert!(err(&doc)
        .starts_with("executor.container.mesos.image: the executor's container runs ucr pause"));
    assert!(err(&json!({"tasks": []})).starts_with("tasks: empty"));
    let mut bad_res = task("t", json!([scalar("cpus", -1.0)]));
    bad_res["resources"][0]["scalar"]["value"] = json!(-1);
    assert!(err(&one(bad_res)).starts_with("task_group.tasks[0].resources[0].scalar.value: "));
}

#[test]
fn unknown_fields_listed_where_they_are() {
    let mut t = task("t", json!([]));
    t["future"] = json!(1);
    let mut ex = executor();
    ex["newer"] = json!(true);
    let (p, unknown) =
        parse(&json!({"executor": ex, "task_group": {"tasks": [t]}})).expect("parse");
    assert_eq!(unknown, ["executor.newer", "task_group.tasks[0].future"]);
    assert_eq!(p.parent.ignored, unknown);
    assert_eq!(p.children[0].ignored, ["task_group.tasks[0].future"]);
    let strict = parse_task_group_with(
        &json!({"tasks": [task("t", json!([]))], "x": 1}).to_string(),
        Unknown::Refuse,
        None,
    );
    assert!(strict.is_err());
}
