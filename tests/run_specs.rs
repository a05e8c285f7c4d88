//! End-to-end tests of what runs inside a container: the Mesos command table (ENTRYPOINT/CMD/shell, one test per
//! row of MESOS-SEMANTICS.md "Command", through `ucr launch` with a LAUNCH_CONTAINER call), the environment and
//! working directory rules, and Mesos/Marathon documents from their docs run unchanged (fixtures/specs/).
//! Lifecycle, sandbox, teardown and backends are in tests/run.rs.

use serde_json::{json, Value};

use crate::common::{Containers, Run, CMD_TIMEOUT};
use ucr_fixtures::image::{
    busybox_builder, busybox_layer, Compression, ImageBuilder, ManifestFormat,
};
use ucr_fixtures::registry::Registry;

/// The images of the command table, each echoing its argv so the output shows exactly what ran:
/// `ep` has ENTRYPOINT `/bin/echo ep` and CMD `c1 c2`; `cmd` only CMD `/bin/echo c1 c2`; `none` neither.
struct Table {
    _reg: Registry,
    ep: String,
    cmd: String,
    none: String,
    c: Containers,
}

fn table() -> Table {
    let reg = Registry::plain();
    let ep = busybox_builder()
        .entrypoint(["/bin/echo", "ep"])
        .cmd(["c1", "c2"])
        .build(ManifestFormat::Oci);
    let cmd = busybox_builder()
        .cmd(["/bin/echo", "c1", "c2"])
        .build(ManifestFormat::Oci);
    // Built without `.cmd()`: the config has neither key.
    let none = ImageBuilder::new()
        .layer_tar(busybox_layer(), Compression::Gzip)
        .build(ManifestFormat::Oci);
    for (repo, img) in [("cmd/ep", &ep), ("cmd/cmd", &cmd), ("cmd/none", &none)] {
        reg.push(repo, "1", img);
    }
    let name = |repo: &str| format!("{}/{repo}:1", reg.host);
    let t = Table {
        ep: name("cmd/ep"),
        cmd: name("cmd/cmd"),
        none: name("cmd/none"),
        c: Containers::new(),
        _reg: reg,
    };
    // Pulled up front so a launch's stderr holds only what the launch said.
    for image in [&t.ep, &t.cmd, &t.none] {
        t.c.run_for(&["pull", "--quiet", image], CMD_TIMEOUT).ok();
    }
    t
}

impl Table {
    /// `ucr launch --rm -` of a LAUNCH_CONTAINER call running `image` with `command` (a Mesos CommandInfo).
    fn launch(&self, image: &str, command: Value) -> Run {
        let call = json!({
            "type": "LAUNCH_CONTAINER",
            "launch_container": {
                "container_id": {"value": self.c.id("cmd")},
                "command": command,
                "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}}},
            }
        });
        self.c
            .run_stdin(&["launch", "--rm", "-"], &call.to_string())
    }
}

#[track_caller]
fn assert_prints(out: &Run, expected: &str) {
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout, expected, "stderr: {}", out.stderr);
}

#[track_caller]
fn assert_fails(out: &Run, code: i32, what: &str) {
    assert_eq!(out.code, code, "{}", out.all());
    let line = out.stderr.trim_end();
    assert_eq!(line.lines().count(), 1, "one line: {:?}", out.stderr);
    assert!(
        line.starts_with("ucr: ") && line.contains(what),
        "{what:?} in {line:?}"
    );
}

#[test]
fn shell_true_with_value_runs_sh_c_and_ignores_entrypoint() {
    let t = table();
    let out = t.launch(
        &t.ep,
        json!({"shell": true, "value": "echo \"shell:$((6*7))\""}),
    );
    assert_prints(&out, "shell:42\n");
    // shell is the Mesos default.
    let out = t.launch(&t.ep, json!({"value": "echo default-shell $0"}));
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.starts_with("default-shell "), "{}", out.stdout);
    assert!(!out.stdout.contains("ep"), "{}", out.stdout);
}

#[test]
fn shell_true_without_value_is_an_error() {
    let t = table();
    let out = t.launch(&t.ep, json!({"shell": true}));
    assert_fails(
        &out,
        125,
        "launch_container.command.value: shell specified but no command value",
    );
    let out = t.launch(&t.ep, json!({"arguments": ["x"]}));
    assert_fails(&out, 125, "shell specified but no command value");
    // Refused before a container is claimed: nothing to list.
    assert_eq!(t.c.run(&["ps", "--all", "--json"]).ok().stdout, "");
}

#[test]
fn shell_false_with_value_execs_it_with_arguments_as_the_whole_argv() {
    let t = table();
    // argv[0] is arguments[0]: echo prints only "a b". Were the value prepended, it would print "echo a b".
    let out = t.launch(
        &t.ep,
        json!({"shell": false, "value": "/bin/echo", "arguments": ["echo", "a", "b"]}),
    );
    assert_prints(&out, "a b\n");
}

#[test]
fn shell_false_without_value_runs_the_entrypoint_with_arguments_else_cmd() {
    let t = table();
    let out = t.launch(&t.ep, json!({"shell": false, "arguments": ["x", "y"]}));
    assert_prints(&out, "ep x y\n");
    let out = t.launch(&t.ep, json!({"shell": false}));
    assert_prints(&out, "ep c1 c2\n");
}

#[test]
fn shell_false_only_cmd_runs_cmd0_with_arguments() {
    let t = table();
    // The Mesos quirk: CMD[0] + arguments (Docker would run `x y`, which does not exist).
    let out = t.launch(&t.cmd, json!({"shell": false, "arguments": ["x", "y"]}));
    assert_prints(&out, "x y\n");
    let out = t.launch(&t.cmd, json!({"shell": false}));
    assert_prints(&out, "c1 c2\n");
}

#[test]
fn shell_false_no_value_no_entrypoint_no_cmd_is_an_error() {
    let t = table();
    let out = t.launch(&t.none, json!({"shell": false}));
    assert_fails(&out, 125, "no executable found");
    let out = t.launch(&t.none, json!({"shell": false, "arguments": ["x"]}));
    assert_fails(&out, 125, "no executable found");
    // A failed launch with --rm keeps nothing.
    let containers = t.c.runtime_dir().join("containers");
    let left: Vec<_> = std::fs::read_dir(&containers)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// The one-line report of what a container sees, for the env and workdir tests.
const REPORT: &str =
    "echo \"A=$A B=$B C=$C\"; echo \"PATH=$PATH\"; echo \"SANDBOX=$MESOS_SANDBOX\"; pwd; \
    if env | grep -q NOEQUALS; then echo NOEQUALS-set; else echo NOEQUALS-skipped; fi";

#[test]
fn env_precedence_and_working_dir_from_the_image() {
    let reg = Registry::plain();
    let img = busybox_builder()
        .env([
            "PATH=/usr/bin:/bin:/image/bin",
            "A=image",
            "B=image",
            "NOEQUALS",
        ])
        .workdir("/work/dir/deep")
        .build(ManifestFormat::Oci);
    reg.push("env", "1", &img);
    let image = format!("{}/env:1", reg.host);
    let c = Containers::new();
    let args = [
        "run",
        "--rm",
        "--env",
        "A=request",
        "--env",
        "C=request",
        &image,
        "sh",
        "-c",
        REPORT,
    ];
    let out = c.run_for(&args, CMD_TIMEOUT);
    // Request over image, image over the default PATH, entries without `=` skipped, WorkingDir created.
    assert_prints(
        &out,
        "A=request B=image C=request\nPATH=/usr/bin:/bin:/image/bin\nSANDBOX=/mnt/mesos/sandbox\n\
         /work/dir/deep\nNOEQUALS-skipped\n",
    );
    // A Mesos call's environment wins the same way, PATH included.
    let call = json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {
            "container_id": {"value": c.id("env")},
            "command": {"value": REPORT, "environment": {"variables": [
                {"name": "A", "value": "mesos"}, {"name": "PATH", "value": "/bin"},
            ]}},
            "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}}},
        }
    });
    let out = c.run_stdin(&["launch", "--rm", "-"], &call.to_string());
    assert_prints(
        &out,
        "A=mesos B=image C=\nPATH=/bin\nSANDBOX=/mnt/mesos/sandbox\n/work/dir/deep\nNOEQUALS-skipped\n",
    );
}

#[test]
fn default_path_and_sandbox_working_dir_without_image_env() {
    let reg = Registry::plain();
    let img = ImageBuilder::new()
        .layer_tar(busybox_layer(), Compression::Gzip)
        .env(Vec::<String>::new())
        .cmd(["/bin/sh"])
        .build(ManifestFormat::Oci);
    reg.push("noenv", "1", &img);
    let image = format!("{}/noenv:1", reg.host);
    let c = Containers::new();
    let out = c.run_for(
        &["run", "--rm", &image, "/bin/sh", "-c", REPORT],
        CMD_TIMEOUT,
    );
    assert_prints(
        &out,
        "A= B= C=\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n\
         SANDBOX=/mnt/mesos/sandbox\n/mnt/mesos/sandbox\nNOEQUALS-skipped\n",
    );
}

/// A document of fixtures/specs/ (verbatim copies from the Mesos and Marathon docs; see its README.md).
fn spec_file(name: &str) -> String {
    format!("{}/../fixtures/specs/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A registry serving busybox as Docker Hub's `library/<repo>:<tag>`, for documents that name Docker Hub images.
/// The content is a stand-in (busybox plus `extra` layers); the documents themselves run unchanged, with the
/// registry as `--registry-mirror`.
fn hub_mirror(repo: &str, tag: &str, extra: Option<Vec<u8>>) -> (Registry, String) {
    let reg = Registry::plain();
    let mut b = busybox_builder();
    if let Some(layer) = extra {
        b = b.layer_tar(layer, Compression::Gzip);
    }
    reg.push(
        &format!("library/{repo}"),
        tag,
        &b.build(ManifestFormat::Oci),
    );
    let mirror = format!("http://{}", reg.host);
    (reg, mirror)
}

// The documents' container ids are fixed (`my-standalone-container-id`, Marathon's `/ucr-docker-http-server`), so
// their cgroups `/ucr/<id>` are the only names these tests do not make unique: two copies of this test binary
// running at once on one machine would collide there.

#[test]
fn mesos_standalone_launch_container_from_the_docs_runs_unchanged() {
    let (_reg, mirror) = hub_mirror("alpine", "latest", None);
    let c = Containers::new();
    let file = spec_file("mesos-launch-container-standalone.json");
    let id = "my-standalone-container-id";
    let out = c.run_for(
        &["launch", &file, "--detach", "--registry-mirror", &mirror],
        CMD_TIMEOUT,
    );
    assert_eq!((out.code, out.stdout.trim()), (0, id), "{}", out.all());
    let pid = c.wait_running(id);
    let v = c.ps(id).expect("listed");
    assert!(v["image"].as_str().unwrap_or("").contains("alpine"), "{v}");
    // `value` with the default shell: the bundle runs /bin/sh -c "sleep 100" (busybox sh then execs the one
    // command, so the process in the container's cgroup is `sleep 100`).
    let bundle = c
        .runtime_dir()
        .join("containers")
        .join(id)
        .join("bundle/config.json");
    let spec: Value =
        serde_json::from_slice(&std::fs::read(&bundle).expect("bundle config")).expect("json");
    assert_eq!(
        spec["process"]["args"],
        json!(["/bin/sh", "-c", "sleep 100"]),
        "{}",
        spec["process"]
    );
    let cmdline = |p: &i32| std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
    let procs = crate::common::procs_in_cgroup(id);
    assert!(procs.contains(&pid), "init {pid} in its cgroup: {procs:?}");
    assert!(
        procs.iter().any(|p| cmdline(p) == b"sleep\x00100\x00"),
        "sleep 100 runs in the container's cgroup: {procs:?}"
    );
    c.run_for(&["kill", id], CMD_TIMEOUT).ok();
    let w = c.run_for(&["wait", id, "--json"], CMD_TIMEOUT);
    let t: Value = serde_json::from_str(w.stdout.trim()).expect("wait --json");
    assert_eq!(
        (t["state"].as_str(), t["exit_status"].as_i64()),
        (Some("TASK_KILLED"), Some(9)),
        "{t}"
    );
    c.run_for(&["rm", id], CMD_TIMEOUT).ok();
}

/// Stand-in for `python3 -m http.server PORT` in a busybox image: busybox httpd serving the working directory
/// (the sandbox) on that port, after writing the port it was given to `port.txt` there.
const PYTHON_STAND_IN: &str = "#!/bin/sh\n\
[ \"$1 $2\" = \"-m http.server\" ] || { echo \"python3 stand-in: only -m http.server PORT\" >&2; exit 2; }\n\
echo \"$3\" > port.txt\n\
exec httpd -f -p \"$3\"\n";

#[test]
fn marathon_ucr_app_from_the_docs_runs_unchanged_and_serves_on_port0() {
    let shim = ucr_fixtures::image::LayerTar::new()
        .dir("usr/local/bin", 0o755)
        .file("usr/local/bin/python3", PYTHON_STAND_IN.as_bytes(), 0o755)
        .finish();
    let (_reg, mirror) = hub_mirror("python", "3.5-alpine", Some(shim));
    let c = Containers::new();
    let file = spec_file("marathon-ucr-docker-http-server.json");
    // Marathon's app id `/ucr-docker-http-server` as a container id (its safePath).
    let id = "ucr-docker-http-server";
    let out = c.run_for(
        &["launch", &file, "--detach", "--registry-mirror", &mirror],
        CMD_TIMEOUT,
    );
    assert_eq!((out.code, out.stdout.trim()), (0, id), "{}", out.all());
    c.wait_running(id);
    let port_file = c
        .root()
        .join("containers")
        .join(id)
        .join("sandbox/port.txt");
    let deadline = std::time::Instant::now() + CMD_TIMEOUT;
    let port = loop {
        let text = std::fs::read_to_string(&port_file).unwrap_or_default();
        if text.ends_with('\n') {
            break text.trim().to_string();
        }
        let stderr =
            std::fs::read_to_string(port_file.with_file_name("stderr")).unwrap_or_default();
        assert!(
            std::time::Instant::now() < deadline,
            "no port.txt; task stderr: {stderr}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let port: u16 = port.parse().unwrap_or_else(|_| panic!("$PORT0 = {port:?}"));
    assert!(
        (31000..=32000).contains(&port),
        "$PORT0 {port} from the agent's default ports range"
    );
    // The app really serves on the host's port (host networking): fetch the file it wrote.
    let body = http_get(port, "/port.txt");
    assert!(
        body.starts_with("HTTP/1.") && body.contains(" 200 "),
        "{body}"
    );
    assert!(body.ends_with(&format!("\r\n\r\n{port}\n")), "{body}");
    c.run_for(&["rm", "--force", id], CMD_TIMEOUT).ok();
}

/// One HTTP/1.0 GET on 127.0.0.1:`port`, retried while the server is still starting; the whole response.
fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .expect("timeout");
            s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
                .expect("send");
            let mut resp = String::new();
            s.read_to_string(&mut resp).expect("read response");
            return resp;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
