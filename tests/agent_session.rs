//! The agent's streaming calls end to end, driven by a small HTTP client of the tests' own
//! (`agent::stream`): LAUNCH_NESTED_CONTAINER_SESSION with a terminal (typed commands echoed, a resize seen by
//! `stty size`, the exit code by WAIT_CONTAINER, several outputs at once, one input at a time), without one
//! (stdin piped to `cat`, EOF by an empty record, STDERR records, the command's user), a dropped connection (or a dead agent) that
//! kills the command inside the container, ATTACH_CONTAINER_INPUT into a container launched with `tty_info`, and Mesos's status
//! codes for the streaming calls.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::agent::stream::{
    container_id, heartbeat, post, resize, stdin, streaming_call, Output, Upload,
};
use crate::agent::support::{busybox_registry, Agent};

/// An agent with a running busybox container `sleep 1000`: (agent, the container's id, the registry kept up).
fn with_target(tag: &str) -> (Agent, String, ucr_fixtures::registry::Registry) {
    let (reg, image) = busybox_registry();
    let a = Agent::start(&[]);
    a.wait_ready();
    let target = a.c.id(tag);
    let launched = a.launch(&target, &image, "sleep 1000");
    assert_eq!(launched.status, 200, "{}: {}", launched.body, a.log());
    (a, target, reg)
}

fn session_call(target: &str, session: &str, command: Value, container: Option<Value>) -> Value {
    let mut call = json!({"type": "LAUNCH_NESTED_CONTAINER_SESSION", "launch_nested_container_session": {
        "container_id": {"value": session, "parent": {"value": target}},
        "command": command}});
    if let Some(c) = container {
        call["launch_nested_container_session"]["container"] = c;
    }
    call
}

fn wait_json(a: &Agent, id: &str) -> Value {
    let w = a.call(
        &json!({"type": "WAIT_CONTAINER", "wait_container": {"container_id": container_id(id)}})
            .to_string(),
    );
    assert_eq!(w.status, 200, "{}", w.body);
    w.json()["wait_container"].clone()
}

/// Pids of the host's processes whose argv is exactly `argv`.
fn processes(argv: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
                .filter(|pid| {
                    std::fs::read(format!("/proc/{pid}/cmdline")).ok() == Some(want.clone())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[track_caller]
fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn agent_session_with_a_terminal_types_resizes_and_exits_with_its_code() {
    let (a, target, _reg) = with_target("sess-tty");
    let sock = a.socket();
    let call = session_call(
        &target,
        "dbg1",
        json!({"value": "/bin/sh", "arguments": ["sh"], "shell": false}),
        Some(json!({"type": "MESOS", "tty_info": {"window_size": {"rows": 24, "columns": 80}}})),
    );
    let r = streaming_call(&sock, &call);
    assert_eq!(r.status, 200, "{}", a.log());
    assert_eq!(r.header("content-type"), Some("application/recordio"));
    assert_eq!(r.header("message-content-type"), Some("application/json"));
    let mut out = Output::new(r);
    let session = format!("{target}/dbg1");

    // The same id again while it runs: in use.
    assert_eq!(streaming_call(&sock, &call).status, 202);
    // Listed under its target.
    let list = a
        .call(r#"{"type":"GET_CONTAINERS","get_containers":{"show_nested":true,"show_standalone":true}}"#)
        .json();
    let listed = list["get_containers"]["containers"]
        .as_array()
        .is_some_and(|l| {
            l.iter()
                .any(|c| c["container_id"] == container_id(&session))
        });
    assert!(listed, "{list}");

    // A second output stream sees what the session writes from now on.
    let mut other = Output::new(streaming_call(
        &sock,
        &json!({"type": "ATTACH_CONTAINER_OUTPUT",
                "attach_container_output": {"container_id": container_id(&session)}}),
    ));
    assert_eq!(other.response.status, 200);

    let mut input = Upload::attach_input(&sock, &session);
    assert!(input.send(&heartbeat()));
    assert!(input.send(&stdin(b"stty size; echo mark''er\n")));
    // The terminal echoes what is typed; then the output.
    out.expect("stty size; echo mark''er");
    out.expect("24 80");
    out.expect("marker");
    other.expect("marker");
    // One input at a time (the first is attached: its input arrived).
    let second = Upload::attach_input(&sock, &session).response();
    assert_eq!(second.status, 409);
    assert!(second.text().contains("Multiple input connections"));
    assert!(input.send(&resize(30, 100)));
    assert!(input.send(&stdin(b"stty size; test -t 0 && echo is''tty\n")));
    out.expect("30 100");
    out.expect("istty");
    // The command's terminal is the container's own, behind the session's.
    assert!(input.send(&stdin(b"tty\n")));
    out.expect("\n/dev/pts/");
    assert!(input.send(&heartbeat()));
    assert!(input.send(&stdin(b"exit 3\n")));
    out.read_to_end();
    other.read_to_end();
    // The input attach ends with its target.
    assert_eq!(input.response().status, 200);
    let w = wait_json(&a, &session);
    assert_eq!(w["exit_status"], 3 << 8, "{w}");
    // Once ended, its id may be removed and used again.
    let rm = a.call(
        &json!({"type": "REMOVE_CONTAINER", "remove_container": {"container_id": container_id(&session)}})
            .to_string(),
    );
    assert_eq!(rm.status, 200, "{}", rm.body);
    // The target is untouched.
    assert_eq!(a.c.ps(&target).expect("target")["state"], "RUNNING");
}

#[test]
fn agent_session_without_a_terminal_pipes_stdin_to_eof_and_codes_in_mesos_order() {
    let (a, target, _reg) = with_target("sess-pipe");
    let sock = a.socket();
    let r = streaming_call(
        &sock,
        &session_call(
            &target,
            "cat1",
            json!({"value": "cat; echo to-stderr >&2; exit 4"}),
            None,
        ),
    );
    assert_eq!(r.status, 200, "{}", a.log());
    let mut out = Output::new(r);
    let session = format!("{target}/cat1");
    let mut input = Upload::attach_input(&sock, &session);
    assert!(input.send(&stdin(b"hello\n")));
    out.expect("hello\n");
    // A window size for a session without a terminal: what Mesos's switchboard says.
    assert!(input.send(&resize(10, 10)));
    let refused = input.response();
    assert_eq!(refused.status, 400);
    assert!(refused.text().contains("window size"));
    // A new input attach; the empty record is EOF.
    let mut input = Upload::attach_input(&sock, &session);
    assert!(input.send(&stdin(b"again\n")));
    assert!(input.send(&stdin(b"")));
    out.expect("again\n");
    out.read_to_end();
    assert_eq!(out.stderr, "to-stderr\n");
    assert_eq!(input.finish().status, 200);
    assert_eq!(wait_json(&a, &session)["exit_status"], 4 << 8);

    // The environment reaches the command.
    let env_cmd = json!({"value": "echo $GREETING",
        "environment": {"variables": [{"name": "GREETING", "value": "hi there"}]}});
    let mut env = Output::new(streaming_call(
        &sock,
        &session_call(&target, "env1", env_cmd, None),
    ));
    env.read_to_end();
    assert_eq!(env.stdout, "hi there\n");

    // CommandInfo.user: the command runs as that user of the container (the task runs as root here); one the
    // container's /etc/passwd does not name is a 400 before any stream.
    let as_user = json!({"value": "id -u; id -g", "user": "nobody"});
    let mut who = Output::new(streaming_call(
        &sock,
        &session_call(&target, "user1", as_user, None),
    ));
    who.read_to_end();
    assert_eq!(who.stdout, "65534\n65534\n", "{}", a.log());
    let unknown_user = streaming_call(
        &sock,
        &session_call(
            &target,
            "user2",
            json!({"value": "true", "user": "no-such-user"}),
            None,
        ),
    );
    assert_eq!(unknown_user.status, 400);
    let why = unknown_user.text();
    assert!(
        why.contains("command.user") && why.contains("no-such-user") && why.contains("/etc/passwd"),
        "{why}"
    );
    assert!(!why.contains("/proc/"), "{why}");

    // Mesos's status codes for the streaming calls.
    let json_only = post(
        &sock,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ],
        &session_call(&target, "x", json!({"value": "true"}), None).to_string(),
    );
    assert_eq!(json_only.status, 406);
    let no_parent = streaming_call(
        &sock,
        &json!({"type": "LAUNCH_NESTED_CONTAINER_SESSION", "launch_nested_container_session": {
            "container_id": {"value": "x"}, "command": {"value": "true"}}}),
    );
    assert_eq!(no_parent.status, 400);
    assert!(no_parent.text().contains("container_id.parent"));
    let unknown = streaming_call(
        &sock,
        &session_call("no-such", "x", json!({"value": "true"}), None),
    );
    assert_eq!(unknown.status, 404);
    let recordio = |first: &Value, message: Option<&str>| {
        let mut headers = vec![
            ("Content-Type", "application/recordio"),
            ("Accept", "application/json"),
        ];
        if let Some(m) = message {
            headers.push(("Message-Content-Type", m));
        }
        let mut u = Upload::open(&sock, &headers);
        u.send(first);
        u.finish()
    };
    let health = json!({"type": "GET_HEALTH"});
    assert_eq!(recordio(&health, Some("application/json")).status, 415);
    assert_eq!(recordio(&health, None).status, 400);
    let attach_to = |id: &str| {
        json!({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input": {
            "type": "CONTAINER_ID", "container_id": container_id(id)}})
    };
    let as_json = a.call(&attach_to(&target).to_string());
    assert_eq!(as_json.status, 415);
    assert_eq!(
        recordio(&attach_to("no-such"), Some("application/json")).status,
        404
    );
    // A container without a terminal has no switchboard: Mesos's 500, in the words dcos-cli looks for.
    let no_tty = recordio(&attach_to(&target), Some("application/json"));
    assert_eq!(no_tty.status, 500);
    assert_eq!(
        no_tty.text(),
        "I/O switchboard server was disabled for this container"
    );
}

#[test]
fn agent_session_dropped_connection_kills_the_command_in_the_container() {
    let (mut a, target, _reg) = with_target("sess-drop");
    let sock = a.socket();
    let secs = format!("{}", 4000 + std::process::id() % 1000);
    let cmd = format!("echo started; sleep {secs}; echo never");
    let mut out = Output::new(streaming_call(
        &sock,
        &session_call(&target, "drop1", json!({"value": cmd}), None),
    ));
    assert_eq!(out.response.status, 200, "{}", a.log());
    out.expect("started");
    // The shell forks `sleep` after its echo.
    until("the session's sleep runs", || {
        processes(&["sleep", &secs]).len() == 1
    });
    let execs = || {
        std::fs::read_dir("/proc")
            .map(|rd| {
                rd.flatten()
                    .filter(|e| {
                        std::fs::read(e.path().join("cmdline"))
                            .map(|c| {
                                let c = String::from_utf8_lossy(&c).into_owned();
                                c.contains("--session") && c.contains(&target)
                            })
                            .unwrap_or(false)
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    assert!(execs() >= 1, "ucr exec runs");
    drop(out);
    until("the session's sleep is killed", || {
        processes(&["sleep", &secs]).is_empty()
    });
    until("its ucr exec is gone", || execs() == 0);
    let w = wait_json(&a, &format!("{target}/drop1"));
    assert_eq!(
        (w["exit_status"].clone(), w["state"].clone()),
        (json!(9), json!("TASK_KILLED")),
        "{w}"
    );
    // The target lives on.
    assert_eq!(a.c.ps(&target).expect("target")["state"], "RUNNING");

    // An agent that dies takes its sessions along: `ucr exec` by its parent-death signal, the command by
    // `ucr exec`'s end.
    let secs = format!("{}", 5000 + std::process::id() % 1000);
    let mut out = Output::new(streaming_call(
        &sock,
        &session_call(
            &target,
            "drop2",
            json!({"value": format!("echo started; sleep {secs}")}),
            None,
        ),
    ));
    out.expect("started");
    until("the second session's sleep runs", || {
        processes(&["sleep", &secs]).len() == 1
    });
    a.kill9();
    until("the session's sleep dies with the agent", || {
        processes(&["sleep", &secs]).is_empty()
    });
    until("its ucr exec is gone", || execs() == 0);
}

#[test]
fn agent_session_input_reaches_a_tty_info_container() {
    let (_reg, image) = busybox_registry();
    let a = Agent::start(&[]);
    a.wait_ready();
    let id = a.c.id("tty-in");
    let launch = json!({"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": {"value": id},
        "command": {"value": "sh"},
        "container": {"type": "MESOS",
                      "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}},
                      "tty_info": {"window_size": {"rows": 20, "columns": 70}}}}});
    let launched = a.call(&launch.to_string());
    assert_eq!(launched.status, 200, "{}: {}", launched.body, a.log());
    let sock = a.socket();
    let socket_file =
        a.c.runtime_dir()
            .join("containers")
            .join(&id)
            .join("console.sock");
    assert_eq!(crate::agent::support::mode(&socket_file), 0o600);
    let attach_output = json!({"type": "ATTACH_CONTAINER_OUTPUT",
        "attach_container_output": {"container_id": {"value": id}}});
    let mut out = Output::new(streaming_call(&sock, &attach_output));
    let mut also = Output::new(streaming_call(&sock, &attach_output));
    assert_eq!(out.response.status, 200);
    let mut input = Upload::attach_input(&sock, &id);
    assert!(input.send(&stdin(b"stty size; echo typed''here\n")));
    out.expect("20 70");
    out.expect("typedhere");
    also.expect("typedhere");
    // One input at a time (the first is attached: its input arrived).
    let second = Upload::attach_input(&sock, &id).response();
    assert_eq!(second.status, 409);
    assert!(input.send(&resize(33, 99)));
    assert!(input.send(&heartbeat()));
    assert!(input.send(&stdin(b"stty size\n")));
    out.expect("33 99");
    // The input attach can end and another take its place.
    assert_eq!(input.finish().status, 200);
    let mut input = Upload::attach_input(&sock, &id);
    assert!(input.send(&stdin(b"exit 5\n")));
    out.read_to_end();
    assert_eq!(input.response().status, 200);
    assert_eq!(wait_json(&a, &id)["exit_status"], 5 << 8);
    assert!(
        !socket_file.exists(),
        "the console socket goes with the task"
    );
}
