//! `ucr launch --dry-run`: the request parsed as a launch parses it, the image looked up in the store only,
//! and what would run printed as JSON, with nothing started or pulled and secrets shown only as present.

use serde_json::json;

use crate::common::{busybox_registry, Containers, CMD_TIMEOUT};

#[test]
fn prints_argv_env_and_the_request_without_running_or_pulling() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let secrets = tempfile::tempdir().expect("tempdir");
    let secret_file = secrets.path().join("token");
    std::fs::write(&secret_file, "t0ps3cret").expect("write");
    let app = |image: &str| {
        json!({
            "id": "/dry/app",
            "cmd": "echo $A",
            "cpus": 0.25,
            "mem": 64,
            "env": {"A": "1", "TOKEN": {"secret": "tok"}},
            "secrets": {"tok": {"source": secret_file.display().to_string()}},
            "container": {"type": "MESOS", "docker": {"image": image}},
            "healthChecks": [{"protocol": "MESOS_TCP", "portIndex": 0}],
            "portDefinitions": [{"port": 0, "name": "http"}],
            "taskKillGracePeriodSeconds": 7,
            "instances": 3,
            "upgradeStrategy": {"minimumHealthCapacity": 0.5}
        })
        .to_string()
    };
    let dry = |text: String| {
        let out = c.run_stdin(&["launch", "--dry-run", "-"], &text);
        assert_eq!(out.code, 0, "{}", out.all());
        assert!(
            !out.all().contains("t0ps3cret"),
            "the secret printed: {}",
            out.all()
        );
        serde_json::from_str::<serde_json::Value>(&out.stdout).expect("JSON")
    };

    // Not in the store: nothing is pulled, and the answer says what it cannot know.
    let v = dry(app(&image));
    assert_eq!(v["id"], "dry_app", "{v}");
    assert_eq!(v["image"]["in_store"], false, "{v}");
    assert!(v["process"]["note"].as_str().is_some(), "{v}");
    let images = c.run_for(&["images", "--json"], CMD_TIMEOUT).ok().stdout;
    assert_eq!(images.trim(), "", "nothing pulled");

    // In the store: the argv, env and working directory the launch would use.
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let v = dry(app(&image));
    let p = &v["process"];
    assert_eq!(v["image"]["in_store"], true, "{v}");
    let argv: Vec<&str> = p["argv"]
        .as_array()
        .expect("argv")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(argv[1..], ["-c", "echo $A"], "{p}");
    let env: Vec<&str> = p["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    for want in [
        "A=1",
        "TOKEN=<secret>",
        "MESOS_SANDBOX=/mnt/mesos/sandbox",
        // Marathon's port variables, as the launch sets them, with what only the launch knows said so.
        "PORT0=<allocated at launch>",
        "PORT_HTTP=<allocated at launch>",
        "PORTS=<allocated at launch>",
    ] {
        assert!(env.contains(&want), "{want} in {env:?}");
    }
    assert_eq!(p["cwd"], "/mnt/mesos/sandbox", "{p}");
    let r = &v["request"];
    assert_eq!(r["kill_grace_period_secs"], 7.0, "{r}");
    assert_eq!(r["ignored"], json!(["instances", "upgradeStrategy"]), "{r}");
    let check = &v["health_checks"][0];
    assert_eq!(check["protocol"], "MESOS_TCP", "{v}");
    assert_eq!(check["check"]["side"], "container", "{v}");
    assert_eq!(check["check"]["probe"]["port"]["index"], 0, "{v}");
    assert_eq!(check["check"]["kill_after"], 3, "{v}");
    // Nothing was made.
    let ps = c
        .run_for(&["ps", "--all", "--json"], CMD_TIMEOUT)
        .ok()
        .stdout;
    assert_eq!(ps.trim(), "", "no container");

    // A bad request is one line naming the field.
    let out = c.run_stdin(
        &["launch", "--dry-run", "-"],
        r#"{"id":"/x","cmd":"true","cpus":"lots"}"#,
    );
    assert_ne!(out.code, 0);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].contains("cpus"),
        "{}",
        out.stderr
    );

    // Marathon's tolerance: unknown fields skipped with one warning line (and listed as ignored), null as absent,
    // enum values in any case.
    let tolerated = json!({
        "id": "b", "cmd": "sleep 1", "fetch": null, "foo": 1, "instances": 1,
        "container": {"type": "docker", "docker": {"image": image, "forcePull": true, "type": "x",
                      "requirePorts": true, "network": "bridge"}},
    });
    let out = c.run_stdin(&["launch", "--dry-run", "-"], &tolerated.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        out.stderr,
        "ucr: warning: app /b: unknown fields ignored: container.docker.forcePull, \
         container.docker.requirePorts, container.docker.type, foo\n"
    );
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(
        v["request"]["ignored"],
        json!([
            "instances",
            "container.docker.forcePull",
            "container.docker.requirePorts",
            "container.docker.type",
            "foo"
        ]),
        "{v}"
    );
    assert_eq!(v["request"]["container_type"], "DOCKER", "{v}");
    assert_eq!(
        v["request"]["network"]["mode"]["name"], "mesos-bridge",
        "{v}"
    );
}
