//! `ucr agent` end to end: the real agent on its unix socket and on TCP (loopback), talked to with curl, with
//! the JSON bodies of Mesos's operator API: every call, Mesos's status codes in Mesos's order, the CLI and the
//! agent on one state, HTTP Basic, the root-only socket, a client that goes away mid-launch, image pruning and
//! the metrics, the forker that forks supervisors. Recovery is in tests/agent_recovery.rs.

mod negotiation;
pub mod stream;
pub mod support;
mod tasks;

use std::time::{Duration, Instant};

use crate::common::{cgroup_dirs, CMD_TIMEOUT};
use support::{busybox_registry, launch_json, listed, mode, Agent};
use ucr_fixtures::proxy::SlowProxy;

fn json_call(kind: &str, field: &str, id: &str) -> String {
    format!(r#"{{"type":"{kind}","{field}":{{"container_id":{{"value":"{id}"}}}}}}"#)
}

#[test]
fn mesos_status_codes_in_mesos_order() {
    let a = Agent::start(&[]);
    a.wait_ready();
    let post = |ctype: &str, accept: Option<&str>, body: &str| {
        let mut args = vec!["-H".to_string(), format!("Content-Type: {ctype}")];
        if let Some(acc) = accept {
            args.extend(["-H".to_string(), format!("Accept: {acc}")]);
        }
        args.extend([
            "--data-binary".into(),
            body.into(),
            "http://agent/api/v1".into(),
        ]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        a.curl(&refs)
    };
    assert_eq!(a.curl(&["http://agent/api/v1"]).status, 405, "GET");
    let no_type = a.curl(&[
        "-H",
        "Content-Type:",
        "--data-binary",
        "{}",
        "http://agent/api/v1",
    ]);
    assert_eq!(no_type.status, 400);
    assert!(no_type.body.contains("Content-Type"), "{}", no_type.body);
    assert_eq!(post("text/plain", None, "{}").status, 415);
    let pb = post("application/x-protobuf", None, "x");
    assert_eq!(pb.status, 415);
    assert!(pb.body.contains("JSON"), "{}", pb.body);
    assert_eq!(
        post(
            "application/json",
            Some("application/x-protobuf"),
            r#"{"type":"GET_HEALTH"}"#
        )
        .status,
        406
    );
    let bad = a.call(r#"{"type":"KILL_CONTAINER","kill_container":{}}"#);
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("kill_container.container_id"),
        "{}",
        bad.body
    );
    let bad_id = a.call(&json_call("WAIT_CONTAINER", "wait_container", "a b"));
    assert_eq!(bad_id.status, 400, "{}", bad_id.body);
    assert_eq!(
        a.call(&json_call("WAIT_CONTAINER", "wait_container", "nope"))
            .status,
        404
    );
    assert_eq!(
        a.call(&json_call("KILL_CONTAINER", "kill_container", "nope"))
            .status,
        404
    );
    assert_eq!(
        a.call(&json_call("REMOVE_CONTAINER", "remove_container", "nope"))
            .status,
        404
    );
    let unknown = a.call(r#"{"type":"GET_AGENT"}"#);
    assert_eq!(unknown.status, 501, "{}", unknown.body);
    assert_eq!(a.call(r#"{"type":"NO_SUCH_CALL"}"#).status, 400);
    let no_payload = a.call(r#"{"type":"LAUNCH_CONTAINER"}"#);
    assert_eq!(
        (no_payload.status, no_payload.body.as_str()),
        (
            400,
            "Failed to validate agent::Call: Expecting 'launch_container' to be present"
        )
    );
    // A field of the wrong JSON type is a decoding error, as Mesos's protobuf parser has it.
    for body in [
        r#"{"type":5}"#,
        r#"{"type":"GET_CONTAINERS","get_containers":{"show_standalone":"yes"}}"#,
    ] {
        let r = a.call(body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.starts_with("Failed to parse body"), "{}", r.body);
    }
    // `<parent>.<child>` is how Mesos writes a nested id: a launched id holds no '.'.
    let dotted = a.call(
        r#"{"type":"LAUNCH_CONTAINER","launch_container":{"container_id":{"value":"a.b"},"command":{"value":"true"}}}"#,
    );
    assert_eq!(dotted.status, 400, "{}", dotted.body);
    assert!(
        dotted.body.contains("must not contain '.'"),
        "{}",
        dotted.body
    );
    // The calls without a container.
    let h = a.call(r#"{"type":"GET_HEALTH"}"#);
    assert_eq!(
        (h.status, h.json()["get_health"]["healthy"].clone()),
        (200, true.into())
    );
    let v = a.call(r#"{"type":"GET_VERSION"}"#).json();
    assert!(
        v["get_version"]["version_info"]["version"].is_string(),
        "{v}"
    );
    let f = a.call(r#"{"type":"GET_FLAGS"}"#).json();
    let flags = f["get_flags"]["flags"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        flags
            .iter()
            .any(|x| x["name"] == "work_dir" && x["value"].is_string()),
        "{f}"
    );
    assert_eq!(a.curl(&["http://agent/health"]).status, 200);
}

#[test]
fn launch_wait_attach_kill_remove_and_the_cli_sees_the_same_containers() {
    let (_reg, image) = busybox_registry();
    let a = Agent::start(&[]);
    a.wait_ready();
    let c1 = a.c.id("api-exit");
    // An unknown field in the call is ignored, as Mesos's JSON reader does.
    let mut call: serde_json::Value =
        serde_json::from_str(&launch_json(&c1, &image, "echo hello; exit 3")).expect("json");
    call["launch_container"]["newer_mesos_field"] = 1.into();
    let l = a.call(&call.to_string());
    assert_eq!(l.status, 200, "{}", l.body);
    assert_eq!(
        a.launch(&c1, &image, "true").status,
        202,
        "the id is in use"
    );
    // GET_STATE and its parts list a framework's tasks, executors and frameworks, never a standalone container:
    // with one launched, every list is there and empty, as Mesos's agent writes them.
    let s = a.call(r#"{"type":"GET_STATE"}"#);
    assert_eq!(s.status, 200, "{}", s.body);
    let state = s.json();
    let empty = serde_json::json!([]);
    let lists = [
        (
            "get_tasks",
            "GET_TASKS",
            &[
                "pending_tasks",
                "queued_tasks",
                "launched_tasks",
                "terminated_tasks",
                "completed_tasks",
            ][..],
        ),
        (
            "get_executors",
            "GET_EXECUTORS",
            &["executors", "completed_executors"][..],
        ),
        (
            "get_frameworks",
            "GET_FRAMEWORKS",
            &["frameworks", "completed_frameworks"][..],
        ),
    ];
    for (part, kind, fields) in lists {
        for f in fields {
            assert_eq!(state["get_state"][part][f], empty, "{part}.{f}: {state}");
        }
        let r = a.call(&format!(r#"{{"type":"{kind}"}}"#));
        assert_eq!(r.status, 200, "{kind}: {}", r.body);
        let r = r.json();
        assert_eq!(
            (&r["type"], &r[part]),
            (&kind.into(), &state["get_state"][part]),
            "{r}"
        );
    }
    let w = a.wait(&c1);
    assert_eq!(w.status, 200, "{}", w.body);
    let t = &w.json()["wait_container"];
    assert_eq!(
        (t["exit_status"].as_i64(), t["state"].as_str()),
        (Some(3 << 8), Some("TASK_FAILED")),
        "{t}"
    );
    let out = a.curl(&[
        "-H",
        "Content-Type: application/json",
        "-H",
        "Accept: application/recordio",
        "--data-binary",
        &json_call("ATTACH_CONTAINER_OUTPUT", "attach_container_output", &c1),
        "http://agent/api/v1",
    ]);
    assert_eq!(out.status, 200);
    assert!(
        out.headers.contains("content-type: application/recordio"),
        "{}",
        out.headers
    );
    // "aGVsbG8K" is base64 of "hello\n", in a STDOUT DATA record behind its length.
    assert!(
        out.body.contains(r#""data":"aGVsbG8K","type":"STDOUT""#),
        "{}",
        out.body
    );

    let c2 = a.c.id("api-sleep");
    assert_eq!(a.launch(&c2, &image, "sleep 1000").status, 200);
    let entry = listed(&a, &c2).unwrap_or_else(|| panic!("{c2} not listed"));
    assert!(
        entry["container_status"]["executor_pid"]
            .as_i64()
            .unwrap_or(0)
            > 0,
        "{entry}"
    );
    assert!(
        entry["resource_statistics"]["processes"]
            .as_u64()
            .unwrap_or(0)
            >= 1,
        "{entry}"
    );
    let hidden = a
        .call(r#"{"type":"GET_CONTAINERS","get_containers":{}}"#)
        .json();
    assert_eq!(
        hidden["get_containers"]["containers"],
        serde_json::json!([]),
        "standalone only when asked"
    );
    let r = a.call(&json_call("REMOVE_CONTAINER", "remove_container", &c2));
    assert_eq!(
        r.status, 400,
        "a running container is not removed: {}",
        r.body
    );
    // The CLI kills what the agent launched; the agent answers its WAIT.
    a.c.run_for(&["kill", &c2], CMD_TIMEOUT).ok();
    let t = a.wait(&c2).json();
    assert_eq!(t["wait_container"]["state"], "TASK_KILLED", "{t}");
    assert_eq!(
        a.call(&json_call("REMOVE_CONTAINER", "remove_container", &c2))
            .status,
        200
    );
    assert!(!a.c.runtime_dir().join("containers").join(&c2).exists());
    assert!(
        !a.c.root().join("containers").join(&c2).exists(),
        "sandbox removed"
    );
    assert_eq!(a.wait(&c2).status, 404);

    // And the agent waits for what the CLI launched.
    let c3 = a.c.id("cli-made");
    a.c.run_for(
        &["run", "-d", "--name", &c3, &image, "sh", "-c", "exit 4"],
        CMD_TIMEOUT,
    )
    .ok();
    let t = a.wait(&c3).json();
    assert_eq!(t["wait_container"]["exit_status"], 4 << 8, "{t}");
    let k = a.call(&format!(
        r#"{{"type":"KILL_CONTAINER","kill_container":{{"container_id":{{"value":"{c3}"}},"signal":15}}}}"#
    ));
    assert_eq!(
        k.status, 404,
        "an exited container cannot be killed: {}",
        k.body
    );
}

#[test]
fn a_failed_launch_answers_400_and_keeps_nothing() {
    let a = Agent::start(&[]);
    a.wait_ready();
    let id = a.c.id("bad");
    let e = a.launch(&id, "Not A Name", "true");
    assert_eq!(e.status, 400);
    assert!(
        e.body.contains("docker.name"),
        "names the field: {}",
        e.body
    );
    // A registry that is not there: the launch fails after the id was claimed; the id is free again.
    let port = support::free_port();
    let f = a.launch(&id, &format!("127.0.0.1:{port}/none/none:1"), "true");
    assert_eq!(f.status, 400, "{}", f.body);
    assert!(f.body.contains(&port.to_string()), "{}", f.body);
    assert_eq!(a.wait(&id).status, 404);
    assert!(a.c.ps(&id).is_none());
}

#[test]
fn a_client_that_goes_away_mid_launch_leaves_no_container() {
    let (reg, _image) = busybox_registry();
    // Every connection to the registry waits 1.5 s: the pull is still running when the client gives up.
    let slow = SlowProxy::start(&reg.host, Duration::from_millis(1500));
    let image = format!("{}/bb:1", slow.addr);
    let a = Agent::start(&[]);
    a.wait_ready();
    let id = a.c.id("gone");
    let out = a.curl(&[
        "--max-time",
        "1",
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        &launch_json(&id, &image, "sleep 1000"),
        "http://agent/api/v1",
    ]);
    assert_eq!(out.status, 0, "curl gave up before the reply");
    // The launch stops (or is undone) once its pull is through.
    let deadline = Instant::now() + CMD_TIMEOUT;
    while a.c.runtime_dir().join("containers").join(&id).exists() {
        assert!(
            Instant::now() < deadline,
            "container left behind: {}",
            a.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(a.wait(&id).status, 404);
    assert!(cgroup_dirs(&id).is_empty());
    assert!(!a.c.root().join("provisioner").join(&id).exists());
}

#[test]
fn basic_auth_on_every_call_and_a_root_only_socket() {
    let d = tempfile::tempdir().expect("tempdir");
    let creds = d.path().join("credentials.json");
    std::fs::write(
        &creds,
        r#"{"credentials":[{"principal":"yoda","secret":"usetheforce"}]}"#,
    )
    .expect("write");
    let a = Agent::start(&[
        "--authenticate_http_readwrite",
        "--http_credentials",
        creds.to_str().expect("utf-8"),
    ]);
    let health = [
        "-H",
        "Content-Type: application/json",
        "--data-binary",
        r#"{"type":"GET_HEALTH"}"#,
    ];
    let none = a.curl_tcp(&health, "/api/v1");
    assert_eq!(none.status, 401);
    assert!(
        none.headers
            .contains(r#"www-authenticate: basic realm="mesos-agent-readwrite""#),
        "{}",
        none.headers
    );
    let mut wrong = vec!["-u", "yoda:nope"];
    wrong.extend(health);
    assert_eq!(a.curl_tcp(&wrong, "/api/v1").status, 401);
    let mut right = vec!["-u", "yoda:usetheforce"];
    right.extend(health);
    let deadline = Instant::now() + CMD_TIMEOUT;
    loop {
        let r = a.curl_tcp(&right, "/api/v1");
        if r.status == 200 {
            break;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!a.log().contains("usetheforce"), "no secret in the log");
    // The socket: root's only. Another user cannot even connect.
    assert_eq!(mode(&a.socket()), 0o600);
    let other = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "curl",
            "-s",
            "--unix-socket",
        ])
        .arg(a.socket())
        .arg("http://agent/health")
        .status()
        .expect("setpriv curl");
    assert_eq!(other.code(), Some(7), "curl as nobody must fail to connect");
}

#[test]
fn prune_images_keeps_what_live_containers_use_and_metrics_count() {
    let (reg, image) = busybox_registry();
    let a = Agent::start(&[]);
    a.wait_ready();
    // A second image nobody uses.
    reg.push(
        "other",
        "1",
        &ucr_fixtures::image::busybox_image(ucr_fixtures::image::ManifestFormat::DockerV2),
    );
    a.c.run_for(
        &["pull", "-q", &format!("{}/other:1", reg.host)],
        CMD_TIMEOUT,
    )
    .ok();
    let id = a.c.id("keep");
    assert_eq!(a.launch(&id, &image, "sleep 1000").status, 200);
    let p = a.call(r#"{"type":"PRUNE_IMAGES","prune_images":{}}"#);
    assert_eq!(p.status, 200, "{}", p.body);
    let images = a.c.run_for(&["images", "--json"], CMD_TIMEOUT).ok().stdout;
    assert!(images.contains("/bb:1"), "in use, kept: {images}");
    assert!(!images.contains("/other:1"), "unused, pruned: {images}");
    let prom = a.curl(&["http://agent/metrics"]);
    assert_eq!(prom.status, 200);
    assert!(
        prom.body.contains("ucr_container_launches_total 1"),
        "{}",
        prom.body
    );
    assert!(
        prom.body
            .contains("ucr_api_calls_total{call=\"PRUNE_IMAGES\",code=\"200\"} 1"),
        "{}",
        prom.body
    );
    let snap = a.curl(&["http://agent/metrics/snapshot"]).json();
    assert_eq!(snap["slave/containers_running"], 1.0, "{snap}");
    assert_eq!(snap["slave/container_launch_errors"], 0.0, "{snap}");
}

/// `(ppid, comm)` of a process, from /proc.
fn parent_and_name(pid: u32) -> (u32, String) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or("");
    let ppid = after
        .split(' ')
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    (ppid, comm.trim().to_string())
}

fn supervisor_of(a: &Agent, id: &str) -> u32 {
    let state =
        a.c.runtime_dir()
            .join("containers")
            .join(id)
            .join("state.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).expect("state.json")).expect("json");
    v["owner"]["pid"].as_u64().expect("an owner pid") as u32
}

/// The agent's supervisors are forked by its forker (no exec per launch); if the forker dies, launches go on
/// with `ucr __supervise` exec'd by the agent; and the forker ends with the agent.
#[test]
fn supervisors_come_from_the_forker_and_exec_takes_over_without_it() {
    let (_reg, image) = busybox_registry();
    let mut a = Agent::start(&[]);
    a.wait_ready();
    let (c1, c2) = (a.c.id("forked"), a.c.id("execd"));
    assert_eq!(a.launch(&c1, &image, "sleep 1000").status, 200);
    let (forker, name) = parent_and_name(supervisor_of(&a, &c1));
    assert_eq!(name, "ucr-forker");
    assert_eq!(
        parent_and_name(forker).0,
        a.pid(),
        "the forker is the agent's child"
    );
    // SAFETY: a signal to the forker, a process of this test's agent.
    unsafe { libc::kill(forker as i32, libc::SIGKILL) };
    let l = a.launch(&c2, &image, "sleep 1000");
    assert_eq!(l.status, 200, "{}", l.body);
    let (parent, name) = parent_and_name(supervisor_of(&a, &c2));
    assert_eq!(
        (parent, name.as_str()),
        (a.pid(), "ucr"),
        "exec'd by the agent"
    );
    for id in [&c1, &c2] {
        let k = a.call(&json_call("KILL_CONTAINER", "kill_container", id));
        assert_eq!(k.status, 200, "{}", k.body);
        assert_eq!(a.wait(id).json()["wait_container"]["exit_status"], 9);
    }
    // A restarted agent has a new forker, which ends when the agent is killed.
    a.restart();
    a.wait_ready();
    let agent = a.pid();
    let forkers = || {
        std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|p| parent_and_name(*p) == (agent, "ucr-forker".to_string()))
            .collect::<Vec<_>>()
    };
    let mine = forkers();
    assert_eq!(mine.len(), 1, "one forker per agent");
    a.kill9();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{}", mine[0])).exists() && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !std::path::Path::new(&format!("/proc/{}", mine[0])).exists(),
        "the forker ended with its agent"
    );
}

/// Two ATTACH_CONTAINER_OUTPUT streams at once on a running container follow its output as it is written and
/// end when it exits; GET_CONTAINERS (`show_nested` too) shows a bridged container's `network_infos`.
#[test]
fn attaches_follow_a_running_container_and_network_infos_are_listed() {
    let _host = crate::common::exclusive();
    let (_reg, image) = busybox_registry();
    let n = crate::network::support::Net::new();
    let cni = n.cni_dir.to_str().expect("utf-8").to_string();
    let a = Agent::over(n.c, &["--network_cni_config_dir", &cni]);
    a.wait_ready();
    let id = a.c.id("attach-follow");
    let mut call: serde_json::Value = serde_json::from_str(&launch_json(
        &id,
        &image,
        "sleep 1; for i in 1 2 3; do echo line$i; echo err$i >&2; sleep 0.3; done",
    ))
    .expect("json");
    call["launch_container"]["container"]["network_infos"] =
        serde_json::json!([{"name": crate::network::support::NET}]);
    assert_eq!(a.call(&call.to_string()).status, 200);
    let attach = json_call("ATTACH_CONTAINER_OUTPUT", "attach_container_output", &id);
    let streams: Vec<_> = (0..2)
        .map(|_| {
            let (socket, body) = (a.socket(), attach.clone());
            std::thread::spawn(move || {
                let out = std::process::Command::new("curl")
                    .args([
                        "-s",
                        "-N",
                        "--max-time",
                        "60",
                        "-H",
                        "Content-Type: application/json",
                    ])
                    .args(["-H", "Accept: application/recordio", "--data-binary", &body])
                    .arg("--unix-socket")
                    .arg(socket)
                    .arg("http://agent/api/v1")
                    .output()
                    .expect("curl");
                String::from_utf8_lossy(&out.stdout).into_owned()
            })
        })
        .collect();
    let list = a
        .call(r#"{"type":"GET_CONTAINERS","get_containers":{"show_standalone":true,"show_nested":true}}"#)
        .json();
    let entry = list["get_containers"]["containers"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|e| e["container_id"]["value"] == id.as_str())
                .cloned()
        })
        .unwrap_or_else(|| panic!("{id} not listed: {list}"));
    let ip = &entry["container_status"]["network_infos"][0]["ip_addresses"][0]["ip_address"];
    assert!(
        ip.as_str()
            .is_some_and(|s| s.parse::<std::net::Ipv4Addr>().is_ok()),
        "{entry}"
    );
    let started = Instant::now();
    for s in streams {
        let body = s.join().expect("attach thread");
        // base64 of "line1\nline2\nline3\n" may be split across records: decode them all.
        let (mut out, mut err) = (String::new(), String::new());
        for v in recordio(&body) {
            let data = v["data"]["data"].as_str().unwrap_or_default();
            let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data)
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes).into_owned();
            match v["data"]["type"].as_str() {
                Some("STDOUT") => out.push_str(&text),
                Some("STDERR") => err.push_str(&text),
                _ => {}
            }
        }
        assert_eq!(out, "line1\nline2\nline3\n", "{body}");
        assert_eq!(err, "err1\nerr2\nerr3\n", "{body}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the streams ended with the container"
    );
    assert_eq!(a.wait(&id).json()["wait_container"]["exit_status"], 0);
    let r = a.call(&json_call("REMOVE_CONTAINER", "remove_container", &id));
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The records of a RecordIO body: each is its length in bytes, a newline, then that many bytes of JSON.
fn recordio(body: &str) -> Vec<serde_json::Value> {
    let mut rest = body.as_bytes();
    let mut out = Vec::new();
    while let Some(nl) = rest.iter().position(|b| *b == b'\n') {
        let len: usize = std::str::from_utf8(&rest[..nl])
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a record length: {body}"));
        let record = &rest[nl + 1..nl + 1 + len];
        out.push(serde_json::from_slice(record).unwrap_or_else(|e| panic!("{e}: {body}")));
        rest = &rest[nl + 1 + len..];
    }
    assert!(rest.is_empty(), "a partial record: {body}");
    out
}

/// `--image_gc_config` runs in the agent: with less free space than the headroom (1.0: always), unused images
/// go at the next watch and what a live container uses or the config excludes stays. `--log-format json` gives
/// one JSON line per API call with its type, container id, status and latency.
#[test]
fn the_image_gc_removes_unused_images_on_its_own_and_calls_are_logged_as_json() {
    let (reg, image) = busybox_registry();
    let gc = format!(
        r#"{{"image_disk_headroom":1.0,"image_disk_watch_interval":{{"nanoseconds":200000000}},
            "excluded_images":[{{"type":"DOCKER","docker":{{"name":"{}/kept:1"}}}}]}}"#,
        reg.host
    );
    let a = Agent::start(&["--image_gc_config", &gc, "--log-format", "json"]);
    a.wait_ready();
    let id = a.c.id("in-use");
    assert_eq!(a.launch(&id, &image, "sleep 1000").status, 200);
    let busybox = ucr_fixtures::image::busybox_image(ucr_fixtures::image::ManifestFormat::DockerV2);
    for name in ["other", "kept"] {
        reg.push(name, "1", &busybox);
        a.c.run_for(
            &["pull", "-q", &format!("{}/{name}:1", reg.host)],
            CMD_TIMEOUT,
        )
        .ok();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let images = loop {
        let images = a.c.run_for(&["images", "--json"], CMD_TIMEOUT).ok().stdout;
        if !images.contains("/other:1") || std::time::Instant::now() > deadline {
            break images;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!images.contains("/other:1"), "unused, collected: {images}");
    assert!(images.contains("/bb:1"), "in use, kept: {images}");
    assert!(images.contains("/kept:1"), "excluded, kept: {images}");
    let snap = a.curl(&["http://agent/metrics/snapshot"]).json();
    assert!(
        snap["containerizer/ucr/image_gc_runs"].as_f64() >= Some(1.0),
        "{snap}"
    );

    let log = a.log();
    let calls: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "api call")
        .collect();
    assert!(
        log.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "every line is JSON: {log}"
    );
    let launch = calls
        .iter()
        .find(|v| v["fields"]["call"] == "LAUNCH_CONTAINER")
        .unwrap_or_else(|| panic!("a LAUNCH_CONTAINER line: {log}"));
    assert_eq!(launch["fields"]["container_id"], id.as_str(), "{launch}");
    assert_eq!(launch["fields"]["status"], 200, "{launch}");
    assert!(
        launch["fields"]["latency_ms"].as_f64() > Some(0.0),
        "{launch}"
    );
}
