//! runtime-spec `runtime.md` and `config.md` (hooks) clauses, one test each, driving `ucr-runc` on a busybox
//! bundle as a caller of runc would.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::oci::Runc;

fn state(r: &Runc, id: &str) -> Value {
    let s = r.run(&["state", id]);
    assert_eq!(s.code, 0, "state {id}: {}", s.all());
    serde_json::from_str(&s.stdout).expect("state JSON")
}

fn wait_status(r: &Runc, id: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.status(id) != want {
        assert!(Instant::now() < deadline, "{id} never became {want}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// runtime.md "create": everything but the user's program; "start" then runs it.
#[test]
fn create_applies_the_config_but_runs_the_program_only_at_start() {
    let r = Runc::new();
    let b = r.bundle("b", &["sh", "-c", "touch /started; sleep 100"], |c| {
        c["root"]["readonly"] = false.into();
    });
    let c = r.run(&["create", "--bundle", &b.display().to_string(), "c1"]);
    assert_eq!(c.code, 0, "{}", c.all());
    let s = state(&r, "c1");
    assert_eq!(s["status"], "created");
    let pid = s["pid"].as_i64().expect("pid");
    assert!(
        Path::new(&format!("/proc/{pid}")).exists(),
        "the init waits"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !b.join("rootfs/started").exists(),
        "the program ran before start"
    );
    assert_eq!(r.run(&["start", "c1"]).code, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b.join("rootfs/started").exists() {
        assert!(Instant::now() < deadline, "the program never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(state(&r, "c1")["status"], "running");
}

/// runtime.md "State": the fields, and created → running → stopped as the kernel says, then gone after delete.
#[test]
fn state_transitions_and_the_state_fields() {
    let r = Runc::new();
    let b = r.bundle("b", &["sleep", "100"], |c| {
        c["annotations"] = json!({"org.example.k": "v"});
    });
    assert_eq!(
        r.run(&["create", "-b", &b.display().to_string(), "st"])
            .code,
        0
    );
    let s = state(&r, "st");
    assert_eq!(s["ociVersion"], "1.2.0");
    assert_eq!(s["id"], "st");
    assert_eq!(s["status"], "created");
    assert_eq!(s["bundle"], b.display().to_string());
    assert_eq!(s["annotations"], json!({"org.example.k": "v"}));
    assert_eq!(r.run(&["start", "st"]).code, 0);
    assert_eq!(state(&r, "st")["status"], "running");
    assert_eq!(r.run(&["pause", "st"]).code, 0);
    assert_eq!(state(&r, "st")["status"], "paused");
    assert_eq!(r.run(&["resume", "st"]).code, 0);
    assert_eq!(r.run(&["kill", "st", "KILL"]).code, 0);
    wait_status(&r, "st", "stopped");
    assert_eq!(r.run(&["delete", "st"]).code, 0);
    let gone = r.run(&["state", "st"]);
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr.contains("container st does not exist"),
        "{}",
        gone.stderr
    );
}

/// runtime.md "create": a duplicate or invalid id is an error, and creates (and changes) nothing.
#[test]
fn create_with_a_taken_or_invalid_id_fails_and_changes_nothing() {
    let r = Runc::new();
    let b = r.bundle("b", &["sleep", "100"], |_| {});
    let bundle = b.display().to_string();
    assert_eq!(r.run(&["create", "-b", &bundle, "dup"]).code, 0);
    let before = state(&r, "dup");
    let again = r.run(&["create", "-b", &bundle, "dup"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("container with id exists: dup"),
        "{}",
        again.stderr
    );
    assert_eq!(state(&r, "dup"), before);
    for bad in ["../x", "a/b", ".", ""] {
        let c = r.run(&["create", "-b", &bundle, bad]);
        assert_eq!(c.code, 1, "{bad:?}");
        assert!(c.stderr.contains("invalid container id"), "{}", c.stderr);
    }
    assert_eq!(r.run(&["list", "-q"]).stdout.trim(), "dup");
}

/// runtime.md "create": later changes to config.json do not affect the container.
#[test]
fn edits_to_the_bundle_after_create_change_nothing() {
    let r = Runc::new();
    let b = r.bundle("b", &["sh", "-c", "echo original > /out; sleep 100"], |c| {
        c["root"]["readonly"] = false.into();
    });
    assert_eq!(
        r.run(&["create", "-b", &b.display().to_string(), "ed"])
            .code,
        0
    );
    let path = b.join("config.json");
    let mut config: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    config["process"]["args"] = json!(["sh", "-c", "echo edited > /out; sleep 100"]);
    std::fs::write(&path, config.to_string()).expect("write");
    assert_eq!(r.run(&["start", "ed"]).code, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(b.join("rootfs/out"))
        .unwrap_or_default()
        .is_empty()
    {
        assert!(Instant::now() < deadline, "no output");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read_to_string(b.join("rootfs/out")).expect("out"),
        "original\n"
    );
}

/// runtime.md "start": an error unless the container is created; the state stays as it was.
#[test]
fn start_of_a_running_container_is_an_error() {
    let r = Runc::new();
    let b = r.bundle("b", &["sleep", "100"], |_| {});
    assert_eq!(
        r.run(&["run", "-d", "-b", &b.display().to_string(), "twice"])
            .code,
        0
    );
    let again = r.run(&["start", "twice"]);
    assert_eq!(again.code, 1);
    assert!(
        again
            .stderr
            .contains("cannot start container twice that is running"),
        "{}",
        again.stderr
    );
    assert_eq!(r.status("twice"), "running");
}

/// runtime.md "kill": an error unless created or running — with runc's "container not running", which
/// containerd's shim maps to "process already finished".
#[test]
fn kill_of_a_stopped_container_is_an_error() {
    let r = Runc::new();
    let b = r.bundle("b", &["true"], |_| {});
    assert_eq!(
        r.run(&["run", "-d", "-b", &b.display().to_string(), "done"])
            .code,
        0
    );
    wait_status(&r, "done", "stopped");
    let k = r.run(&["kill", "done", "TERM"]);
    assert_eq!(k.code, 1);
    assert!(k.stderr.contains("container not running"), "{}", k.stderr);
    let unknown = r.run(&["kill", "nosuch", "9"]);
    assert!(
        unknown.stderr.contains("container nosuch does not exist"),
        "{}",
        unknown.stderr
    );
}

/// runtime.md "delete": an error unless stopped, and the container keeps running; `--force` kills it first.
#[test]
fn delete_of_a_running_container_is_an_error() {
    let r = Runc::new();
    let b = r.bundle("b", &["sleep", "100"], |_| {});
    assert_eq!(
        r.run(&["run", "-d", "-b", &b.display().to_string(), "busy"])
            .code,
        0
    );
    let pid = state(&r, "busy")["pid"].as_i64().expect("pid");
    let d = r.run(&["delete", "busy"]);
    assert_eq!(d.code, 1);
    assert!(
        d.stderr
            .contains("cannot delete container busy that is not stopped: running"),
        "{}",
        d.stderr
    );
    assert_eq!(r.status("busy"), "running");
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert_eq!(r.run(&["delete", "--force", "busy"]).code, 0);
    assert!(r.run(&["state", "busy"]).stderr.contains("does not exist"));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z"),
        "still alive: {stat}"
    );
}

/// A hook that appends its name and the status it was given to `log` (a path as the hook sees it). Its
/// timeout makes a hook that never ends fail the test instead of hanging it.
fn hook(name: &str, log: &str) -> Value {
    sh_hook(format!(
        "echo {name} $(sed -n 's/.*\"status\":\"\\([a-z]*\\)\".*/\\1/p') >> {log}"
    ))
}

/// A hook running `script` with `sh -c`, with a timeout.
fn sh_hook(script: String) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script], "timeout": 30})
}

/// config.md "POSIX-platform Hooks" and runtime.md "Lifecycle": the six kinds in lifecycle order, each with
/// the state on stdin (status creating, creating, creating, created, running, stopped).
#[test]
fn hooks_run_in_lifecycle_order_with_the_state_on_stdin() {
    let r = Runc::new();
    let dir = r.dir.path().join("b");
    let log = dir.join("rootfs/hooks.log").display().to_string();
    let b = r.bundle("b", &["sleep", "100"], |c| {
        c["root"]["readonly"] = false.into();
        c["hooks"] = json!({
            "prestart": [hook("prestart", &log)],
            "createRuntime": [hook("createRuntime", &log)],
            "createContainer": [hook("createContainer", &log)],
            "startContainer": [hook("startContainer", "/hooks.log")],
            "poststart": [hook("poststart", &log)],
            "poststop": [hook("poststop", &log)],
        });
    });
    assert_eq!(
        r.run(&["create", "-b", &b.display().to_string(), "h"]).code,
        0
    );
    assert_eq!(r.run(&["start", "h"]).code, 0);
    assert_eq!(r.run(&["kill", "h", "KILL"]).code, 0);
    wait_status(&r, "h", "stopped");
    let d = r.run(&["delete", "h"]);
    assert_eq!(d.code, 0, "{}", d.all());
    let got = std::fs::read_to_string(&log).expect("hooks.log");
    assert_eq!(
        got.lines().collect::<Vec<_>>(),
        [
            "prestart creating",
            "createRuntime creating",
            "createContainer creating",
            "startContainer created",
            "poststart running",
            "poststop stopped",
        ]
    );
}

/// config.md "createContainer": the hook "MUST be executed in the container namespace": its pid namespace
/// too, as runc's hooks (children of its init) are, and its cgroup: a hook's processes count against the
/// container's limits, not the runtime's.
#[test]
fn a_create_container_hook_runs_in_the_containers_namespaces() {
    let r = Runc::new();
    let dir = r.dir.path().join("n");
    let log = dir.join("rootfs/ns.log").display().to_string();
    let cgroups = dir.join("rootfs/cgroup.log");
    let b = r.bundle("n", &["sleep", "100"], |c| {
        c["root"]["readonly"] = false.into();
        let script = format!(
            "for n in pid net mnt uts; do readlink /proc/self/ns/$n; done > {log}; \
             cat /proc/self/cgroup > {}",
            cgroups.display()
        );
        c["hooks"] = json!({"createContainer": [sh_hook(script)]});
    });
    let c = r.run(&["create", "-b", &b.display().to_string(), "ns"]);
    assert_eq!(c.code, 0, "{}", c.all());
    let pid = state(&r, "ns")["pid"].as_i64().expect("pid");
    let got = std::fs::read_to_string(&log).expect("ns.log");
    let want: Vec<String> = ["pid", "net", "mnt", "uts"]
        .iter()
        .map(|n| {
            let l = std::fs::read_link(format!("/proc/{pid}/ns/{n}")).expect("ns");
            l.display().to_string()
        })
        .collect();
    assert_eq!(got.lines().collect::<Vec<_>>(), want);
    let own = std::fs::read_link("/proc/self/ns/pid").expect("own pid ns");
    assert_ne!(want[0], own.display().to_string());
    // In the container's cgroup namespace, whose root is the container's cgroup: each hierarchy's path is
    // "/" for a process in that cgroup ("/.." and up for one outside it, as the runtime's).
    let cg = std::fs::read_to_string(&cgroups).expect("cgroup.log");
    assert!(cg.lines().count() > 0);
    for line in cg.lines() {
        assert!(
            line.ends_with(":/"),
            "the hook is outside the container's cgroup: {cg}"
        );
    }
    assert_eq!(r.run(&["delete", "--force", "ns"]).code, 0);
}

/// runtime.md: a failing hook before the program fails the operation, which leaves nothing behind.
#[test]
fn a_failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    let r = Runc::new();
    let b = r.bundle("b", &["sleep", "100"], |c| {
        c["linux"]["cgroupsPath"] = "/ucr-test-hookfail".into();
        c["hooks"] =
            json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]});
    });
    let c = r.run(&["create", "-b", &b.display().to_string(), "hf"]);
    assert_eq!(c.code, 1);
    assert!(
        c.stderr.contains("hook createRuntime[0]") && c.stderr.contains("exited with 3"),
        "{}",
        c.stderr
    );
    assert!(r.run(&["state", "hf"]).stderr.contains("does not exist"));
    assert!(!r.root.join("hf").exists());
    assert!(!Path::new("/sys/fs/cgroup/memory/ucr-test-hookfail").exists());
    assert!(!Path::new("/sys/fs/cgroup/unified/ucr-test-hookfail").exists());
}

/// config.md: a hook past its `timeout` is killed and fails the operation.
#[test]
fn a_hook_past_its_timeout_fails_create() {
    let r = Runc::new();
    let b = r.bundle("b", &["sleep", "100"], |c| {
        c["hooks"] = json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    });
    let t = Instant::now();
    let c = r.run(&["create", "-b", &b.display().to_string(), "slow"]);
    assert_eq!(c.code, 1, "{}", c.all());
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert!(c.stderr.contains("hook prestart[0]"), "{}", c.stderr);
    assert!(r.run(&["list", "-q"]).stdout.trim().is_empty());
}

/// runtime.md: a failing poststart or poststop hook is a warning; the lifecycle goes on.
#[test]
fn failing_poststart_and_poststop_hooks_are_warnings() {
    let r = Runc::new();
    let fail = json!([{"path": "/bin/false", "args": ["false"]}]);
    let b = r.bundle("b", &["sleep", "100"], |c| {
        c["hooks"] = json!({"poststart": fail, "poststop": fail});
    });
    let s = r.run(&["run", "-d", "-b", &b.display().to_string(), "warn"]);
    assert_eq!(s.code, 0, "{}", s.all());
    assert!(
        s.stderr.contains("level=warning") && s.stderr.contains("poststart"),
        "{}",
        s.stderr
    );
    assert_eq!(r.status("warn"), "running");
    let d = r.run(&["delete", "--force", "warn"]);
    assert_eq!(d.code, 0, "{}", d.all());
    assert!(d.stderr.contains("poststop"), "{}", d.stderr);
}

/// `run` in the foreground: the task's exit code is ucr-runc's, and the container is deleted after.
#[test]
fn run_in_the_foreground_exits_with_the_tasks_code() {
    let r = Runc::new();
    let b = r.bundle("b", &["sh", "-c", "echo out; exit 9"], |_| {});
    let out = r.run(&["run", "-b", &b.display().to_string(), "fg"]);
    assert_eq!(out.code, 9, "{}", out.all());
    assert_eq!(out.stdout, "out\n");
    assert!(r.run(&["list", "-q"]).stdout.trim().is_empty());
}

/// containerd reads `--log-format json` line by line and shows the last error's `msg`.
#[test]
fn errors_go_to_the_json_log_as_go_runc_reads_it() {
    let r = Runc::new();
    let log = r.dir.path().join("log.json");
    let out = r.run(&[
        "--log",
        &log.display().to_string(),
        "--log-format",
        "json",
        "start",
        "missing",
    ]);
    assert_eq!(out.code, 1);
    let text = std::fs::read_to_string(&log).expect("log");
    let last: Value =
        serde_json::from_str(text.lines().last().expect("a line")).expect("JSON line");
    assert_eq!(last["level"], "error");
    assert_eq!(last["msg"], "container missing does not exist");
}

/// config-linux.md "Personality": LINUX32 is what a 32-bit build sees (`uname -m`), in the init and in `exec`.
#[test]
fn a_linux32_personality_is_the_containers() {
    let r = Runc::new();
    let b = r.bundle("b", &["sh", "-c", "busybox uname -m; sleep 100"], |c| {
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
    });
    let log = r.dir.path().join("out");
    let mut cmd = r.command(&["run", "-d", "-b", &b.display().to_string(), "p32"]);
    cmd.stdout(std::fs::File::create(&log).expect("out"));
    assert!(cmd.status().expect("run").success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&log).unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "no output");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_to_string(&log).expect("out").trim(), "i686");
    let e = r.run(&["exec", "p32", "busybox", "uname", "-m"]);
    assert_eq!(e.stdout.trim(), "i686", "{}", e.all());
}
