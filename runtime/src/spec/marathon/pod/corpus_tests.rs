//! Every pod of Marathon's documentation and system tests (`tests/marathon-pods/`, see its README), read as
//! `ucr launch` reads a file: each is detected as a pod, and either parses or is refused with one line that names
//! the field at fault. `EXPECTED` pins which, so a change of either shows here.

use std::path::PathBuf;

use ucr_registry::secret::Secret;

use crate::spec::detect::{read_any_with, Request};
use crate::spec::secrets::SecretSource;

/// Every secret is a docker config.json: the corpus names DC/OS store paths (`/pullconfig`), and what is tested
/// here is the reading of the pod, not the store.
struct AnySecret;

impl SecretSource for AnySecret {
    fn read(&self, _name: &str, _source: &str) -> Result<Secret, String> {
        Ok(Secret::new("{\"auths\":{}}".to_string()))
    }
}

/// File → None when it parses, else the start of its one-line error (the field, and why).
const EXPECTED: &[(&str, Option<&str>)] = &[
    ("docs-multirole-1.json", None),
    ("docs-multirole-2.json", None),
    ("docs-multirole-3.json", None),
    ("docs-multirole-4.json", None),
    ("docs-native-docker-private-registry-1.json", None),
    ("docs-persistent-volumes-1.json", None),
    ("docs-pods-1.json", None),
    (
        "docs-pods-10.json",
        Some("networks[0].name: missing: a \"container\" network is joined by name"),
    ),
    ("docs-pods-11.json", None),
    ("docs-pods-2.json", None),
    ("docs-pods-3.json", None),
    ("docs-pods-4.json", None),
    ("docs-pods-5.json", None),
    ("docs-pods-6.json", None),
    ("docs-pods-7.json", None),
    ("docs-pods-8.json", None),
    (
        "docs-pods-9.json",
        Some("networks[0].name: missing: a \"container\" network is joined by name"),
    ),
    (
        "docs-secrets-1.json",
        Some("containers[0]: missing field \"resources\""),
    ),
    (
        "docs-secrets-2.json",
        Some("containers[0]: missing field \"resources\""),
    ),
    (
        "rest-api-example-pod.json",
        Some("containers[0].healthCheck.timeoutSeconds: 20 must be less than intervalSeconds (2)"),
    ),
    ("system-container-bridge-pod.json", None),
    (
        "system-container-net-pod.json",
        Some("networks[0].name: missing: a \"container\" network is joined by name"),
    ),
    ("system-ephemeral-volume-pod.json", None),
    ("system-persistent-volume-pod.json", None),
    ("system-ports-pod.json", None),
    ("system-private-docker-pod.json", None),
    ("system-simple-pod.json", None),
    (
        "system-test-pod.json",
        Some("containers[0].name: \"healthApp1\" is not a Marathon name"),
    ),
];

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/marathon-pods")
}

/// An error line names a field: `<path>: <why>`, the path made of names, indices and dots.
fn names_a_field(e: &str) -> bool {
    let Some((path, why)) = e.split_once(": ") else {
        return false;
    };
    !why.is_empty()
        && !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_'))
}

#[test]
fn every_pod_of_marathons_documentation_parses_or_is_refused_naming_a_field() {
    let mut files: Vec<String> = std::fs::read_dir(corpus())
        .expect("tests/marathon-pods")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let mut got = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(corpus().join(f)).expect("read");
        let outcome = match read_any_with(&text, &AnySecret) {
            Ok(Request::Pod(p)) => {
                assert!(!p.pod.children.is_empty(), "{f}");
                if let Some(w) = p.warning() {
                    eprintln!("{f}: warning: {w}");
                }
                Ok(())
            }
            Ok(Request::Container(c)) => panic!("{f}: read as one container ({})", c.subject),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = &outcome {
            assert!(!e.contains('\n') && names_a_field(e), "{f}: {e}");
            eprintln!("{f}: refused: {e}");
        }
        got.push((f.clone(), outcome));
    }
    let names: Vec<&str> = EXPECTED.iter().map(|(f, _)| *f).collect();
    assert_eq!(files, names, "the corpus and EXPECTED list different files");
    for ((f, outcome), (_, want)) in got.iter().zip(EXPECTED) {
        match (outcome, want) {
            (Ok(()), None) => {}
            (Err(e), Some(w)) if e.starts_with(w) => {}
            _ => panic!("{f}: got {outcome:?}, expected {want:?}"),
        }
    }
}
