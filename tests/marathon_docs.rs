//! Real Marathon app definitions (tests/marathon-docs/, see its README for each source: Marathon's docs, its REST
//! API examples, its old `examples/` and its system tests' apps), through `ucr launch --dry-run`: accepted
//! unchanged, or refused with one line naming the field that cannot apply. The refusals are listed here, each with
//! why; any other refusal, or a refusal that goes away without this list changing, fails the test. Unknown fields
//! are skipped as Marathon skips them, with one warning line, listed here too.
//!
//! Apps without an image (a plain `cmd` on the agent's filesystem, as Marathon runs them without a `container`)
//! are accepted like the others: they run on the host's root.

use std::path::Path;

use crate::common::{Containers, CMD_TIMEOUT};

/// Accepted apps with fields Marathon does not know, and the one warning line each gives.
const WARNED: &[(&str, &str)] = &[
    // `requirePorts` is an app field; inside `docker` Marathon ignores it, and so does ucr, saying so.
    (
        "system-pinger-bridge-app-1.json",
        "ucr: warning: app /pinger-bridge-app: unknown field ignored: container.docker.requirePorts",
    ),
];

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
    (
        "system-private-ucr-docker-app-1.json",
        "secret \"pullConfigSecret\": source /pullconfig",
    ),
    (
        "secrets-1.json",
        "secret \"secretpassword\": source ./databasepassword",
    ),
    // `container` without `type` is DOCKER, which needs `docker.image`: Marathon's validator refuses it too
    // (`AppValidation.dockerDockerContainerValidator`: `container.docker is definedAnd(...)`).
    (
        "secrets-2.json",
        "container.docker: missing: a DOCKER container needs docker.image",
    ),
    // A DVDI volume driver plugin (REX-Ray): a cluster storage service, not this node's.
    (
        "external-volumes-1.json",
        "container.volumes[0]: external volumes are not supported",
    ),
    (
        "system-external-volume-mesos-app-1.json",
        "container.volumes[0]: external volumes are not supported",
    ),
    // The REST API's example names its image `mesosphere:marathon/latest`, which no registry can serve (a
    // registry port of "marathon"): Docker refuses it too.
    (
        "rest-api-app-1.json",
        "container.docker.image: invalid image reference `mesosphere:marathon/latest`",
    ),
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
    assert!(files.len() >= 90, "the corpus is there: {}", files.len());
    let c = Containers::new();
    let mut wrong = Vec::new();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let out = c.run_for(&["launch", "--dry-run", &f.to_string_lossy()], CMD_TIMEOUT);
        let (warnings, errors): (Vec<&str>, Vec<&str>) = out
            .stderr
            .lines()
            .partition(|l| l.starts_with("ucr: warning: "));
        let warned = WARNED.iter().find(|(n, _)| *n == name).map(|(_, w)| *w);
        if warnings != warned.into_iter().collect::<Vec<_>>() {
            wrong.push(format!(
                "{name}: expected the warning {warned:?}: {}",
                out.all()
            ));
        }
        let refused = REFUSED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, why)| *why);
        match refused {
            Some(why) => {
                if out.code == 0 || errors.len() != 1 || !errors[0].contains(why) {
                    wrong.push(format!(
                        "{name}: expected one line saying {why:?}: {}",
                        out.all()
                    ));
                }
            }
            None => {
                let printed: serde_json::Value =
                    serde_json::from_str(&out.stdout).unwrap_or_default();
                if out.code != 0 || printed["id"].as_str().is_none() || !errors.is_empty() {
                    wrong.push(format!("{name}: refused: {}", out.all()));
                }
            }
        }
    }
    for listed in REFUSED
        .iter()
        .map(|(n, _)| n)
        .chain(WARNED.iter().map(|(n, _)| n))
    {
        if !files
            .iter()
            .any(|f| f.file_name().is_some_and(|n| n == *listed))
        {
            wrong.push(format!("{listed}: listed, but not in the corpus"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let ps = c
        .run_for(&["ps", "--all", "--json"], CMD_TIMEOUT)
        .ok()
        .stdout;
    assert_eq!(ps.trim(), "", "a dry run makes no container");
}
