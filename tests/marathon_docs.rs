//! Real Marathon app definitions (tests/marathon-docs/, see its README for each source: Marathon's docs, its REST
//! API examples, its old `examples/` and its system tests' apps), through `ucr launch --dry-run`: accepted
//! unchanged, or refused with one line naming the field that cannot apply. The refusals are listed here, each with
//! why; any other refusal, or a refusal that goes away without this list changing, fails the test. Unknown fields
//! are skipped as Marathon skips them, with one warning line, listed here too.
//!
//! Apps without an image (a plain `cmd` on the agent's filesystem, as Marathon runs them without a `container`)
//! are listed apart in `NO_IMAGE_YET`: ucr cannot run them yet, and each must fail with exactly that message, so
//! the list is emptied when it can.

use std::path::Path;

use crate::common::{Containers, CMD_TIMEOUT};

/// What a launch without an image says (`containerizer::launch::NO_IMAGE`).
const NO_IMAGE: &str = "the container has no image; ucr runs containers from images only";

/// Apps with no image: a plain `cmd` (no `container`, or a MESOS container without `docker`).
const NO_IMAGE_YET: &[&str] = &[
    "application-basics-2.json",
    "application-basics-3.json",
    "application-basics-4.json",
    "application-basics-5.json",
    "application-basics-6.json",
    "articles-app-simple-1.json",
    "examples-Group-1-1.json",
    "examples-Group-1-2.json",
    "examples-Group-1-3.json",
    "examples-Group-2-2.json",
    "examples-Play-1.json",
    "examples-PythonSimpleHTTPServer-1.json",
    "examples-Rails-1.json",
    "examples-Tomcat-1.json",
    "examples-labels-1.json",
    "health-checks-1.json",
    "multirole-1.json",
    "multirole-2.json",
    "multirole-3.json",
    "recipes-3.json",
    "recipes-4.json",
    "recipes-5.json",
    "rest-api-app-check-http-example-1.json",
    // GET /v2/apps output with `"args": null`, `"user": null`, `"container": null`: nulls are absent fields.
    "rest-api-app-list-1.json",
    "rest-api-apps-create-1.json",
    "rest-api-apps-create-2.json",
    "seccomp-1.json",
    "seccomp-2.json",
    "system-fake-framework-1.json",
    "system-http-server-1.json",
    "system-large-sleep-1.json",
    "system-mesos-app-1.json",
    "system-pinger-container-app-1.json",
    "system-pinger-localhost-app-1.json",
    "system-readiness-and-health-app-1.json",
    "system-sleep-app-1.json",
    "system-sleep-group-1.json",
    "system-sleep-group-2.json",
];

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
    // Local persistent volumes: issue "Command tasks without an image, and Marathon's tolerance".
    (
        "persistent-volumes-1.json",
        "container.volumes[0]: persistent volumes are not supported",
    ),
    (
        "persistent-volumes-2.json",
        "container.volumes[0]: persistent volumes are not supported",
    ),
    (
        "system-healthcheck-and-volume-1.json",
        "container.volumes[0]: persistent volumes are not supported",
    ),
    (
        "system-persistent-volume-app-1.json",
        "container.volumes[0]: persistent volumes are not supported",
    ),
    (
        "system-resident-docker-app-1.json",
        "container.volumes[0]: persistent volumes are not supported",
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
        let no_image = NO_IMAGE_YET.contains(&name);
        match (refused, no_image) {
            (Some(_), true) => wrong.push(format!("{name}: in both REFUSED and NO_IMAGE_YET")),
            (Some(why), false) => {
                if out.code == 0 || errors.len() != 1 || !errors[0].contains(why) {
                    wrong.push(format!(
                        "{name}: expected one line saying {why:?}: {}",
                        out.all()
                    ));
                }
            }
            (None, true) => {
                let said = errors.len() == 1 && errors[0].ends_with(&format!(": {NO_IMAGE}"));
                if out.code == 0 || !said {
                    wrong.push(format!(
                        "{name}: expected one line saying {NO_IMAGE:?}: {}",
                        out.all()
                    ));
                }
            }
            (None, false) => {
                let printed: serde_json::Value =
                    serde_json::from_str(&out.stdout).unwrap_or_default();
                if out.code != 0 || printed["id"].as_str().is_none() || !errors.is_empty() {
                    wrong.push(format!("{name}: refused: {}", out.all()));
                }
            }
        }
    }
    for listed in NO_IMAGE_YET
        .iter()
        .chain(REFUSED.iter().map(|(n, _)| n))
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
