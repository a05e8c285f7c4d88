//! Registry credentials given in the request itself: Mesos `image.docker.credential` and Marathon
//! `container.docker.credential` (`{principal, secret}`) pull from a TLS + htpasswd registry, for a type MESOS
//! Marathon app and a Mesos LAUNCH_CONTAINER; a wrong secret is refused naming the registry; the secret is in
//! no file ucr writes and in no output.

use serde_json::json;
use ucr_fixtures::image::{busybox_image, ManifestFormat};
use ucr_fixtures::registry::Registry;

use crate::common::{files_containing, Containers, Run};

const SECRET: &str = "s3cr3t-pw\"x";

fn launch(c: &Containers, ca: &str, request: &serde_json::Value) -> Run {
    let out = c.run_stdin(
        &["launch", "--rm", "--ca-file", ca, "-"],
        &request.to_string(),
    );
    for dir in [c.root(), c.runtime_dir()] {
        let leaked = files_containing(&dir, SECRET);
        assert!(leaked.is_empty(), "the secret is in {leaked:?}");
    }
    assert!(
        !out.all().contains(SECRET),
        "the secret in the output: {}",
        out.all()
    );
    out
}

#[test]
fn docker_credential_pulls_for_a_marathon_app_and_a_mesos_launch_and_a_wrong_one_is_refused() {
    let reg = Registry::tls_htpasswd("alice", SECRET);
    reg.push("bb", "1", &busybox_image(ManifestFormat::DockerV2));
    let image = format!("{}/bb:1", reg.host);
    let ca = reg.ca_pem_path.clone().expect("a CA");
    let ca = ca.to_str().expect("utf-8");
    let credential = json!({"principal": "alice", "secret": SECRET});

    // Each way with its own store, so each pulls.
    let c = Containers::new();
    let app_id = c.id("cred-app");
    let app = json!({
        "id": format!("/{app_id}"),
        "cmd": "echo marathon",
        "container": {"type": "MESOS", "docker": {"image": image, "credential": credential}}
    });
    let out = launch(&c, ca, &app);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "marathon\n"),
        "{}",
        out.all()
    );

    let c = Containers::new();
    let mesos = |id: &str, credential: serde_json::Value| {
        json!({"type": "LAUNCH_CONTAINER", "launch_container": {
            "container_id": {"value": id},
            "command": {"value": "echo mesos"},
            "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER",
                "docker": {"name": image, "credential": credential}}}}
        }})
    };
    let wrong = launch(
        &c,
        ca,
        &mesos(
            &c.id("cred-wrong"),
            json!({"principal": "alice", "secret": "nope"}),
        ),
    );
    assert_ne!(wrong.code, 0, "{}", wrong.all());
    assert!(
        wrong.stderr.contains(&reg.host)
            && wrong.stderr.contains(
                "rejected the credentials (HTTP 401; the credentials are from the request's"
            )
            && wrong
                .stderr
                .lines()
                .filter(|l| l.starts_with("ucr:"))
                .count()
                == 1,
        "names the registry, the refusal, its status and the credentials' source, on one line: {}",
        wrong.all()
    );
    let out = launch(&c, ca, &mesos(&c.id("cred-mesos"), credential.clone()));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "mesos\n"),
        "{}",
        out.all()
    );

    // With docker.config as well, it is ambiguous: one line naming the field.
    let mut both = mesos(&c.id("cred-both"), credential);
    both["launch_container"]["container"]["mesos"]["image"]["docker"]["config"] =
        json!({"type": "VALUE", "value": {"data": "e30="}});
    let out = c.run_stdin(&["launch", "--rm", "-"], &both.to_string());
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("docker.credential"), "{}", out.all());
}

/// Marathon's documented private-registry flow: a fetched `docker.tar.gz` (holding `.docker/config.json`) or
/// `.dockercfg` gives the pull its credentials, for a type DOCKER app and a type MESOS launch; an archive whose
/// config is a symlink to a host file gives none.
#[test]
fn a_fetched_docker_tar_gz_or_dockercfg_gives_the_pull_its_credentials() {
    use ucr_fixtures::image::LayerTar;
    let reg = Registry::tls_htpasswd("bob", SECRET);
    reg.push("bb", "1", &busybox_image(ManifestFormat::DockerV2));
    let image = format!("{}/bb:1", reg.host);
    let ca = reg.ca_pem_path.clone().expect("a CA");
    let ca = ca.to_str().expect("utf-8");
    let files = tempfile::tempdir().expect("tempdir");
    let at = |name: &str| files.path().join(name).display().to_string();
    let tar_gz = |t: LayerTar| ucr_fixtures::archive::gzip(&t.dir(".docker", 0o700).finish());
    let config = reg.docker_config_json();
    let good = LayerTar::new().file(".docker/config.json", config.as_bytes(), 0o600);
    std::fs::write(at("docker.tar.gz"), tar_gz(good)).expect("write");
    // Legacy .dockercfg: the registry map is the whole document.
    let v: serde_json::Value = serde_json::from_str(&config).expect("json");
    std::fs::write(at(".dockercfg"), v["auths"].to_string()).expect("write");
    // A host file with good credentials, and an archive whose config points at it.
    std::fs::create_dir(at("host")).expect("mkdir");
    std::fs::write(at("host/config.json"), &config).expect("write");
    let hostile = LayerTar::new().symlink(".docker/config.json", &at("host/config.json"));
    std::fs::create_dir(at("hostile")).expect("mkdir");
    std::fs::write(at("hostile/docker.tar.gz"), tar_gz(hostile)).expect("write");

    let c = Containers::new();
    let app = json!({
        "id": format!("/{}", c.id("fetched-app")),
        "cmd": "test -f $MESOS_SANDBOX/.docker/config.json && echo docker-app",
        "fetch": [{"uri": format!("file://{}", at("docker.tar.gz"))}],
        "container": {"type": "DOCKER", "docker": {"image": image}}
    });
    let out = launch(&c, ca, &app);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "docker-app\n"),
        "{}",
        out.all()
    );

    let c = Containers::new();
    let mesos = |id: &str, uri: String| {
        json!({"type": "LAUNCH_CONTAINER", "launch_container": {
            "container_id": {"value": id},
            "command": {"value": "echo mesos", "uris": [{"value": uri}]},
            "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER",
                "docker": {"name": image}}}}
        }})
    };
    let out = launch(
        &c,
        ca,
        &mesos(&c.id("fetched-hostile"), at("hostile/docker.tar.gz")),
    );
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains(".docker/config.json"), "{}", out.all());
    let out = launch(&c, ca, &mesos(&c.id("fetched-cfg"), at(".dockercfg")));
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "mesos\n"),
        "{}",
        out.all()
    );
}
