//! The fetcher through `ucr launch`, against a real HTTPS server on loopback (Debian's docker-registry with a
//! certificate from a CA made for the test): https is verified with the same `--ca-file` as registries, only
//! HTTP 200 succeeds, and a scheme ucr does not fetch is one line naming it.

use serde_json::json;
use ucr_fixtures::image::{busybox_image, ManifestFormat};
use ucr_fixtures::registry::{Registry, RegistryOptions};

use crate::common::{busybox_registry, Containers, Run};

fn launch(c: &Containers, image: &str, uri: &str, extra: &[&str]) -> Run {
    let call = json!({"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": {"value": c.id("fetch")},
        "command": {
            "value": "grep -q schemaVersion $MESOS_SANDBOX/m.json && echo got",
            "uris": [{"value": uri, "output_file": "m.json", "extract": false}]
        },
        "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}}}
    }});
    let args = [&["launch", "--rm"], extra, &["-"]].concat();
    c.run_stdin(&args, &call.to_string())
}

#[test]
fn https_uris_are_verified_with_the_ca_file_and_only_200_succeeds() {
    let (_reg, image) = busybox_registry();
    let https = Registry::start(RegistryOptions {
        tls: true,
        ..RegistryOptions::default()
    });
    https.push("files", "1", &busybox_image(ManifestFormat::DockerV2));
    let ca = https.ca_pem_path.clone().expect("a CA");
    let ca = ca.to_str().expect("utf-8");
    let url = format!("https://{}/v2/files/manifests/1", https.host);
    let c = Containers::new();

    let out = launch(&c, &image, &url, &[]);
    assert_ne!(out.code, 0, "an unknown CA is refused: {}", out.all());
    assert!(out.stderr.contains(&url), "names the URI: {}", out.all());

    let out = launch(&c, &image, &url, &["--ca-file", ca]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "got\n"),
        "{}",
        out.all()
    );

    let missing = format!("https://{}/v2/files/manifests/nope", https.host);
    let out = launch(&c, &image, &missing, &["--ca-file", ca]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("HTTP 404"), "{}", out.all());

    let out = launch(&c, &image, "hdfs://namenode/data/m.json", &[]);
    assert_ne!(out.code, 0, "{}", out.all());
    let err: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("Pulling"))
        .collect();
    assert!(
        err.len() == 1 && err[0].contains("hdfs://"),
        "{}",
        out.all()
    );
}
