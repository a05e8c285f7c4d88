//! Marathon's own pod definitions (tests/marathon-pods/, see its README) launched for real with `ucr launch -d`:
//! each with its images swapped for the fixture busybox, its artifacts served from a local file of the same
//! name (tests never reach the internet), its secrets in a `--secrets-dir`, and its named CNI networks defined on
//! a test bridge. Each is either launched whole (the parent and every member started) or refused with one line
//! naming the field that cannot apply, as listed here; then removed, leaving nothing.
//!
//! A member may end right after it started: the definitions run DC/OS's python, nginx or the like, which busybox
//! does not have. That is the image's doing; the pod then ends by Marathon's rule, which tests/pods.rs checks.

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};

use crate::common::{cgroup_dirs, procs_in_cgroup, CMD_TIMEOUT};
use crate::network::support::*;

/// (file, what its one-line refusal says), each with why.
const REFUSED: &[(&str, &str)] = &[
    // A `container` network without a name: Marathon fills it from `--default_network_name`, a cluster setting.
    ("docs-pods-9.json", "networks[0].name: missing"),
    ("docs-pods-10.json", "networks[0].name: missing"),
    ("system-container-net-pod.json", "networks[0].name: missing"),
    // Without `resources`, which Marathon's schema requires of every container.
    (
        "docs-secrets-1.json",
        "containers[0]: missing field \"resources\"",
    ),
    (
        "docs-secrets-2.json",
        "containers[0]: missing field \"resources\"",
    ),
    // Marathon's validation refuses a check timeout not below its interval.
    (
        "rest-api-example-pod.json",
        "containers[0].healthCheck.timeoutSeconds: 20 must be less than intervalSeconds (2)",
    ),
    // An upper-case container name, against Marathon's name rule.
    (
        "system-test-pod.json",
        "containers[0].name: \"healthApp1\" is not a Marathon name",
    ),
];

const NETWORKS: &[&str] = &["dcos", "my-virtual-network-name", "my-network"];
const BRIDGE: &str = "ucrpodt0";

/// The test bridge and its leases go with the test, whatever it asserted.
struct TestNets;

impl Drop for TestNets {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", BRIDGE]).output();
        for n in NETWORKS {
            let _ = std::fs::remove_dir_all(Path::new("/var/lib/cni/networks").join(n));
        }
    }
}

/// The pod as the test launches it: images, artifacts and nothing else changed.
fn localized(pod: &mut Value, image: &str, files: &Path) {
    let Some(containers) = pod["containers"].as_array_mut() else {
        return;
    };
    for c in containers {
        if c["image"].is_object() {
            c["image"]["id"] = json!(image);
            c["image"]["kind"] = json!("DOCKER");
        }
        for a in c["artifacts"].as_array_mut().into_iter().flatten() {
            let uri = a["uri"].as_str().unwrap_or_default();
            let name = uri.rsplit('/').next().unwrap_or("artifact");
            let local = files.join(name);
            std::fs::write(&local, "artifact\n").expect("artifact file");
            a["uri"] = json!(format!("file://{}", local.display()));
            // A stand-in is no archive.
            a["extract"] = json!(false);
        }
    }
}

/// Whatever is left of a pod that was not launched (a failed launch keeps its record): its container id is the
/// pod id's segments joined with `_`.
fn remove(n: &Net, pod: &Value) {
    let id = pod["id"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('/')
        .replace('/', "_");
    n.ucr(&["rm", "--force", &id]);
}

#[test]
fn marathon_documented_pods_launch_whole_or_are_refused_by_field() {
    let _s = serial();
    let (_reg, image) = busybox_registry();
    let n = Net::new();
    warm_up(&n, &image);
    let _nets = TestNets;
    std::fs::create_dir_all(&n.cni_dir).expect("cni dir");
    for name in NETWORKS {
        let conf = json!({
            "cniVersion": "1.0.0", "name": name,
            "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": true,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.213.99.0/24"}]]}},
                {"type": "portmap", "capabilities": {"portMappings": true}}
            ]
        });
        std::fs::write(n.cni_dir.join(format!("{name}.conflist")), conf.to_string()).expect("conf");
    }
    let secrets = n.c.dir.path().join("secrets");
    let files = n.c.dir.path().join("artifacts");
    std::fs::create_dir_all(secrets.join("pod")).expect("secrets");
    std::fs::create_dir_all(&files).expect("artifacts");
    for (f, text) in [
        ("config", r#"{"auths":{}}"#),
        ("pod/pullConfig", r#"{"auths":{}}"#),
        ("pullconfig", r#"{"auths":{}}"#),
    ] {
        std::fs::write(secrets.join(f), text).expect("secret");
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/marathon-pods");
    let mut corpus: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/marathon-pods")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    corpus.sort();
    assert!(corpus.len() >= 25, "the corpus is there: {}", corpus.len());
    let mut wrong = Vec::new();
    let mut launched = 0;
    for f in &corpus {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let text = std::fs::read_to_string(f).expect("read");
        let mut pod: Value = serde_json::from_str(&text).expect("json");
        localized(&mut pod, &image, &files);
        let at = n.c.dir.path().join(&name);
        std::fs::write(&at, pod.to_string()).expect("write");
        let secrets_arg = secrets.to_string_lossy().into_owned();
        let args = [
            "--secrets-dir",
            secrets_arg.as_str(),
            "launch",
            "-d",
            at.to_str().unwrap_or(""),
        ];
        let out = n.c.run_for(&n.args(&args), CMD_TIMEOUT);
        let expected = REFUSED
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, why)| *why);
        match (expected, out.code) {
            (None, 0) => {
                launched += 1;
                let id = out.stdout.trim().to_string();
                let members = pod["containers"].as_array().map_or(0, Vec::len);
                let started: Vec<Value> =
                    n.c.ucr
                        .run_for(&["ps", "--all", "--json"], CMD_TIMEOUT)
                        .stdout
                        .lines()
                        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                        .filter(|v| v["id"] == id.as_str() || v["parent"] == id.as_str())
                        .filter(|v| v["started"].is_u64())
                        .collect();
                if started.len() != members + 1 {
                    wrong.push(format!(
                        "{name}: {} of {} started: {started:?}",
                        started.len(),
                        members + 1
                    ));
                }
                let rm = n.ucr(&["rm", "--force", &id]);
                if rm.code != 0 || !procs_in_cgroup(&id).is_empty() || !cgroup_dirs(&id).is_empty()
                {
                    wrong.push(format!("{name}: not cleaned up: {}", rm.all()));
                }
            }
            (Some(why), code) if code != 0 => {
                remove(&n, &pod);
                let lines: Vec<&str> = out
                    .stderr
                    .lines()
                    .filter(|l| !l.starts_with("ucr: warning:"))
                    .collect();
                if lines.len() != 1 || !lines[0].contains(why) {
                    wrong.push(format!(
                        "{name}: expected one line with {why:?}, got {:?}",
                        out.stderr
                    ));
                }
            }
            (_, code) => wrong.push(format!(
                "{name}: exit {code}, expected {expected:?}: {}",
                out.all()
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(launched + REFUSED.len(), corpus.len());
}
