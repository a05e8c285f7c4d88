//! Health checks, run by the container's supervisor: Marathon's HTTP/HTTPS/TCP from the host against the host
//! port, with `maxConsecutiveFailures` (0 = never kill) past the grace period; Mesos's (TaskInfo `health_check`,
//! Marathon MESOS_* and COMMAND) inside the container, where 0 kills on the first failure. `ps` and `inspect`
//! show the results; a task past its limit is killed through its kill policy and its termination says so.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{busybox_registry, Containers, CMD_TIMEOUT};

/// A TCP port of loopback nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `ucr --resources ...ports:[P-P] launch -d -` of `app`: the one host port the app gets is `port`, so parallel
/// tests (each with its own root and port allocator) never pick the same one.
fn launch(c: &Containers, app: &Value, port: u16) -> String {
    let resources = format!("cpus:2;mem:512;ports:[{port}-{port}]");
    let out = c.run_stdin(
        &["--resources", &resources, "launch", "-d", "-"],
        &app.to_string(),
    );
    assert_eq!(out.code, 0, "{}", out.all());
    out.stdout.trim().to_string()
}

fn health(c: &Containers, id: &str) -> Value {
    c.ps(id).expect("listed")["health"].clone()
}

/// Polls `ps` until `pred` holds of the container's entry; returns it.
#[track_caller]
fn until(c: &Containers, id: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        let v = c.ps(id).expect("listed");
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out; last: {v:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn exited(v: &Value) -> bool {
    v["state"] == "EXITED"
}

/// The container (its `ps` entry) was killed by its health check after one probe, the message saying `why`.
#[track_caller]
fn killed_by_one_probe(v: &Value, why: &str) {
    let t = &v["termination"];
    assert_eq!(
        (&t["state"], &t["healthy"]),
        (&json!("TASK_KILLED"), &json!(false)),
        "{t}"
    );
    assert!(t["message"].as_str().unwrap_or("").contains(why), "{t}");
    assert_eq!(v["health"]["checks"][0]["probes"], 1, "{v:#}");
}

fn sandbox(c: &Containers, id: &str) -> PathBuf {
    c.root().join("containers").join(id).join("sandbox")
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: i64) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[test]
fn an_http_check_keeps_a_serving_task_healthy_and_kills_it_after_exactly_its_limit_of_failures() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let port = free_port();
    let app = json!({
        "id": c.id("hc-http"),
        "cmd": "mkdir -p www && echo ok > www/index.html && exec httpd -f -p $PORT0 -h www",
        "container": {"type": "MESOS", "docker": {"image": image}},
        "portDefinitions": [{"port": 0}],
        "taskKillGracePeriodSeconds": 1,
        "healthChecks": [{
            "protocol": "HTTP", "portIndex": 0, "path": "/index.html",
            // Failures before httpd listens are not counted: the grace period lasts until the first pass.
            "gracePeriodSeconds": 60, "intervalSeconds": 1, "timeoutSeconds": 2,
            "maxConsecutiveFailures": 3, "delaySeconds": 0
        }]
    });
    let id = launch(&c, &app, port);
    let v = until(&c, &id, CMD_TIMEOUT, |v| {
        v["health"]["checks"][0]["probes"].as_u64().unwrap_or(0) >= 4
            && v["health"]["status"] == "healthy"
    });
    let check = &v["health"]["checks"][0];
    assert_eq!(
        check["target"],
        format!("http://127.0.0.1:{port}/index.html"),
        "{v:#}"
    );
    assert_eq!(check["consecutive_failures"], 0, "{v:#}");
    assert!(
        check["last"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("HTTP 200"),
        "{v:#}"
    );
    assert_eq!(v["state"], "RUNNING");
    let ps = c.run_for(&["ps"], CMD_TIMEOUT).ok().stdout;
    assert!(ps.contains("(healthy)"), "{ps}");
    // The probes are the supervisor's children, not threads, and it keeps its memory: no more than the
    // supervisor of a container without checks (the same build), and its 2 MiB target in a release build.
    let supervisor = v["owner"]["pid"].as_i64().expect("owner pid");
    let threads = std::fs::read_dir(format!("/proc/{supervisor}/task"))
        .expect("tasks")
        .count();
    assert_eq!(threads, 1, "the supervisor is single-threaded");
    let plain = c.id("hc-none");
    c.run_for(
        &["run", "-d", "--name", &plain, &image, "sleep", "1000"],
        CMD_TIMEOUT,
    )
    .ok();
    c.wait_running(&plain);
    std::thread::sleep(Duration::from_millis(500));
    let without = rss_kib(
        c.ps(&plain).expect("listed")["owner"]["pid"]
            .as_i64()
            .expect("pid"),
    );
    let with = rss_kib(supervisor);
    assert!(
        with <= without + 512,
        "supervisor RSS {with} KiB with checks, {without} KiB without"
    );
    if cfg!(not(debug_assertions)) {
        assert!(with <= 2048, "supervisor RSS {with} KiB");
    }

    // It stops answering (404): three failures, one second apart, and it is killed; not one failure sooner.
    let stopped = Instant::now();
    std::fs::remove_file(sandbox(&c, &id).join("www/index.html")).expect("rm index.html");
    let v = until(&c, &id, CMD_TIMEOUT, exited);
    assert!(
        stopped.elapsed() >= Duration::from_secs(2),
        "killed after {:?}: too soon for 3 failures 1 s apart",
        stopped.elapsed()
    );
    let t = &v["termination"];
    assert_eq!(t["state"], "TASK_KILLED", "{t}");
    assert_eq!(t["healthy"], false, "{t}");
    assert_eq!(
        t["reason"], "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
        "{t}"
    );
    let message = t["message"].as_str().unwrap_or("");
    assert!(
        message.contains("3 consecutive failures") && message.contains("HTTP 404"),
        "{t}"
    );
    let check = &v["health"]["checks"][0];
    assert_eq!(
        check["consecutive_failures"], 3,
        "exactly the limit: {check}"
    );
    assert_eq!(v["health"]["status"], "unhealthy", "{v:#}");
}

#[test]
fn a_command_check_runs_inside_the_container_as_its_task_with_its_environment() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let port = free_port();
    let app = json!({
        "id": c.id("hc-cmd"),
        "cmd": "sleep 1000",
        "user": "nobody",
        "container": {"type": "MESOS", "docker": {"image": image}},
        "portDefinitions": [],
        "healthChecks": [{
            "protocol": "COMMAND",
            // Passes only in the container's root (busybox has no /usr/lib, the host does) and pid namespace,
            // where the task is the init's first child.
            "command": {"value": "test ! -e /usr/lib && echo \"$MESOS_SANDBOX $(id -u) $(cat /proc/2/cmdline | tr '\\0' ' ')\" > $MESOS_SANDBOX/probe.txt"},
            "gracePeriodSeconds": 0, "intervalSeconds": 1, "maxConsecutiveFailures": 0, "delaySeconds": 0
        }]
    });
    let id = launch(&c, &app, port);
    let v = until(&c, &id, CMD_TIMEOUT, |v| {
        v["health"]["status"] == "healthy" || exited(v)
    });
    assert_eq!(v["state"], "RUNNING", "{v:#}");
    let seen = std::fs::read_to_string(sandbox(&c, &id).join("probe.txt")).expect("probe.txt");
    assert_eq!(seen.trim(), "/mnt/mesos/sandbox 65534 sleep 1000", "{seen}");

    // A failing COMMAND check has Mesos's rule: `maxConsecutiveFailures: 0` kills on the first counted failure,
    // and the output's last line is in the message.
    let app = json!({
        "id": c.id("hc-cmd-fail"),
        "cmd": "sleep 1000",
        "container": {"type": "MESOS", "docker": {"image": image}},
        "portDefinitions": [],
        "taskKillGracePeriodSeconds": 1,
        "healthChecks": [{
            "protocol": "COMMAND", "command": {"value": "echo not ready >&2; exit 3"},
            "gracePeriodSeconds": 0, "intervalSeconds": 1, "maxConsecutiveFailures": 0, "delaySeconds": 0
        }]
    });
    let id = launch(&c, &app, port);
    let v = until(&c, &id, CMD_TIMEOUT, exited);
    killed_by_one_probe(&v, "command exited with status 3: not ready");
}

#[test]
fn marathon_zero_failures_never_kills_and_a_taskinfo_check_kills_on_its_first_counted_failure() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let closed = free_port();
    // Marathon TCP with maxConsecutiveFailures 0: unhealthy, and left running.
    let app = json!({
        "id": c.id("hc-never"),
        "cmd": "sleep 1000",
        "container": {"type": "MESOS", "docker": {"image": image}},
        "portDefinitions": [],
        "healthChecks": [{
            "protocol": "TCP", "port": closed, "gracePeriodSeconds": 0, "intervalSeconds": 1,
            "timeoutSeconds": 1, "maxConsecutiveFailures": 0, "delaySeconds": 0
        }]
    });
    let never = launch(&c, &app, free_port());
    let v = until(&c, &never, CMD_TIMEOUT, |v| {
        v["health"]["checks"][0]["consecutive_failures"]
            .as_u64()
            .unwrap_or(0)
            >= 3
    });
    assert_eq!(v["state"], "RUNNING", "{v:#}");
    assert_eq!(v["health"]["status"], "unhealthy", "{v:#}");
    assert!(
        v["health"]["checks"][0].get("kill_after").is_none(),
        "{v:#}"
    );

    // A Mesos TaskInfo TCP check in the container's network namespace, proto defaults but for the timing.
    let task = json!({
        "name": "t",
        "task_id": {"value": c.id("hc-task")},
        "agent_id": {"value": "a"},
        "resources": [],
        "command": {"value": "sleep 1000"},
        "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}}},
        "health_check": {
            "type": "TCP", "tcp": {"port": closed}, "consecutive_failures": 0,
            "delay_seconds": 0, "interval_seconds": 0.5, "grace_period_seconds": 0
        },
        "kill_policy": {"grace_period": {"nanoseconds": 1_000_000_000u64}}
    });
    let id = launch(&c, &task, free_port());
    let v = until(&c, &id, CMD_TIMEOUT, exited);
    killed_by_one_probe(&v, "MESOS_TCP health check");
    assert_eq!(c.ps(&never).expect("listed")["state"], "RUNNING");
}

/// `openssl s_server -www` on `port` with a fresh self-signed certificate; killed on drop.
struct TlsServer {
    child: Child,
    _certs: tempfile::TempDir,
}

impl TlsServer {
    fn start(port: u16) -> TlsServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, cert) = (dir.path().join("key.pem"), dir.path().join("cert.pem"));
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args([
                "-nodes",
                "-subj",
                "/CN=self-signed",
                "-days",
                "1",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("openssl req");
        assert!(made.success());
        let child = Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-accept",
                &port.to_string(),
                "-cert",
            ])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let deadline = Instant::now() + CMD_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s_server never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        TlsServer { child, _certs: dir }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_https_check_accepts_a_self_signed_certificate_as_marathon_does() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let port = free_port();
    let _server = TlsServer::start(port);
    let app = json!({
        "id": c.id("hc-https"),
        "cmd": "sleep 1000",
        "container": {"type": "MESOS", "docker": {"image": image}},
        "portDefinitions": [],
        "healthChecks": [{
            "protocol": "HTTPS", "port": port, "gracePeriodSeconds": 0, "intervalSeconds": 1,
            "maxConsecutiveFailures": 1, "delaySeconds": 0
        }]
    });
    let id = launch(&c, &app, free_port());
    let v = until(&c, &id, CMD_TIMEOUT, |v| {
        !v["health"]["checks"][0]["last"].is_null()
    });
    let check = &v["health"]["checks"][0];
    assert_eq!(check["status"], "healthy", "{v:#}");
    assert_eq!(
        check["last"]["message"],
        format!("HTTP 200 from https://127.0.0.1:{port}/"),
        "{v:#}"
    );
    let inspect = c.run_for(&["inspect", &id], CMD_TIMEOUT).ok().stdout;
    let inspect: Value = serde_json::from_str(&inspect).expect("inspect JSON");
    assert_eq!(
        inspect["health"]["checks"][0]["protocol"], "HTTPS",
        "{inspect:#}"
    );
    assert_eq!(health(&c, &id)["status"], "healthy");
}
