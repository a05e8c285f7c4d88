//! Every app definition of Marathon's documentation that names a Docker image (tests/marathon-docs/, see its
//! README), through `ucr launch --dry-run`: accepted unchanged, or refused with one line naming the field that
//! cannot apply. The refusals are listed here, each with why; any other refusal, or a refusal that goes away
//! without this list changing, fails the test.

use std::path::Path;

use crate::common::{Containers, CMD_TIMEOUT};

/// (file, what the one-line error must say).
const REFUSED: &[(&str, &str)] = &[
    // Another container's volumes: ucr has no docker daemon holding named containers.
    (
        "native-docker-5.json",
        "container.docker.parameters[1].key: docker parameter \"volumes-from\" is not supported",
    ),
    // A DC/OS secret store path: ucr reads a Marathon secret's source as a file of this node.
    (
        "native-docker-private-registry-1.json",
        "secret \"pullConfigSecret\": source /mesos-docker/pullConfig",
    ),
    // Local persistent volumes: issue "Command tasks without an image, and Marathon's tolerance".
    (
        "persistent-volumes-1.json",
        "container.volumes[0]: persistent volumes are not supported",
    ),
    (
        "persistent-volumes-2.json",
        "container.volumes[0]: persistent volumes are not supported",
    ),
    // A DVDI volume driver plugin (REX-Ray): a cluster storage service, not this node's.
    (
        "external-volumes-1.json",
        "container.volumes[0]: external volumes are not supported",
    ),
    // Two CNI networks at once: ucr's network isolator attaches one network per container.
    (
        "network-api-migration-3.json",
        "networks: ucr joins one network per container",
    ),
    // The REST API's example asks for a TTY: ucr writes a task's output to its sandbox files.
    ("rest-api-app-1.json", "tty: ucr attaches no TTY"),
];

#[test]
fn marathon_documented_apps_are_accepted_or_refused_by_field() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/marathon-docs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/marathon-docs")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus is there: {}", files.len());
    let c = Containers::new();
    let mut wrong = Vec::new();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let out = c.run_for(&["launch", "--dry-run", &f.to_string_lossy()], CMD_TIMEOUT);
        match REFUSED.iter().find(|(n, _)| *n == name) {
            Some((_, why)) => {
                let lines: Vec<&str> = out.stderr.lines().collect();
                if out.code == 0 || lines.len() != 1 || !lines[0].contains(why) {
                    wrong.push(format!(
                        "{name}: expected one line saying {why:?}: {}",
                        out.all()
                    ));
                }
            }
            None => {
                let printed: serde_json::Value =
                    serde_json::from_str(&out.stdout).unwrap_or_default();
                if out.code != 0 || printed["id"].as_str().is_none() {
                    wrong.push(format!("{name}: refused: {}", out.all()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let ps = c
        .run_for(&["ps", "--all", "--json"], CMD_TIMEOUT)
        .ok()
        .stdout;
    assert_eq!(ps.trim(), "", "a dry run makes no container");
}
