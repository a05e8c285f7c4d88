//! Marathon's tolerance (`lenient.rs`) through the whole app parser: unknown fields, `null`, enum case, numbers.

use serde_json::{json, Value};

use super::parse_marathon_app_with;
use crate::spec::config::{ContainerConfig, ContainerType, NetworkMode, VolumeMode};
use crate::spec::secrets::FileSecrets;

fn parse(app: &Value) -> Result<(ContainerConfig, Vec<String>), String> {
    parse_marathon_app_with(&app.to_string(), &FileSecrets::default()).map_err(|e| e.to_string())
}

fn ok(app: &Value) -> ContainerConfig {
    match parse(app) {
        Ok((cfg, _)) => cfg,
        Err(e) => panic!("{app}: {e}"),
    }
}

fn err(app: &Value) -> String {
    match parse(app) {
        Ok(_) => panic!("{app}: parsed, expected an error"),
        Err(e) => e,
    }
}

/// `app` with `value` set at the dotted `path` (objects made as needed).
fn with(mut app: Value, path: &str, value: Value) -> Value {
    let mut at = &mut app;
    let mut keys = path.split('.').peekable();
    while let Some(k) = keys.next() {
        if keys.peek().is_none() {
            at[k] = value;
            break;
        }
        at = &mut at[k];
    }
    app
}

fn docker_app() -> Value {
    json!({"id": "/a", "cmd": "x", "container": {"type": "DOCKER", "docker": {"image": "b"}}})
}

#[test]
fn unknown_fields_are_skipped_named_and_listed_as_ignored() {
    let app = json!({
        "id": "/a", "cmd": "x", "foo": 1, "instances": 2,
        "container": {"type": "MESOS", "docker": {"image": "b", "forcePull": true}},
        "healthChecks": [{"protocol": "TCP", "bogus": {"x": 1}}],
    });
    let (cfg, unknown) = parse(&app).expect("parse");
    assert_eq!(
        unknown,
        ["container.docker.forcePull", "foo", "healthChecks[0].bogus"]
    );
    assert_eq!(
        cfg.ignored,
        [
            "instances",
            "container.docker.forcePull",
            "foo",
            "healthChecks[0].bogus"
        ]
    );
    assert_eq!(cfg.health_checks.len(), 1);
    // A field skipped as unknown that makes a required one missing is named as the likely typo.
    let typo = json!({"id": "/a", "container": {"docker": {"imag": "b"}}});
    assert_eq!(
        err(&typo),
        "container.docker: missing field \"image\" (the unknown field container.docker.imag was ignored: a \
         typo of \"image\"?)"
    );
}

#[test]
fn null_is_absent_for_every_optional_field() {
    let base = docker_app();
    let plain = ok(&base);
    for path in [
        "fetch",
        "uris",
        "env",
        "labels",
        "secrets",
        "portDefinitions",
        "ports",
        "networks",
        "healthChecks",
        "readinessChecks",
        "constraints",
        "args",
        "user",
        "executor",
        "version",
        "container.volumes",
        "container.portMappings",
        "container.linuxInfo",
        "container.docker.parameters",
        "container.docker.network",
        "container.docker.forcePullImage",
        "container.docker.privileged",
        "container.docker.pullConfig",
        "resourceLimits",
        "upgradeStrategy",
    ] {
        let cfg = ok(&with(base.clone(), path, Value::Null));
        assert_eq!(cfg, plain, "{path}: null");
    }
    // Deeper: null inside array items and nested objects.
    let app = json!({
        "id": "/a", "cmd": "x",
        "fetch": [{"uri": "http://h/f", "destPath": null, "extract": null}],
        "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"}, "path": null, "port": null}],
        "resourceLimits": {"cpus": null, "mem": 256},
        "container": {"type": "MESOS", "docker": {"image": "b", "credential": null},
                      "volumes": [{"containerPath": "/d", "hostPath": "/d", "mode": "RO", "persistent": null}]},
    });
    let cfg = ok(&app);
    assert_eq!(cfg.command.uris.len(), 1);
    assert!(cfg.command.uris[0].extract);
    assert_eq!(cfg.limits.mem_mb, Some(256.0));
    assert_eq!(cfg.volumes.len(), 1);
    // `cmd: null` with `args` is args alone, not "both set".
    let cfg = ok(&json!({"id": "/a", "cmd": null, "args": ["y"],
                        "container": {"docker": {"image": "b"}}}));
    assert_eq!(cfg.command.arguments, ["y"]);
}

#[test]
fn null_required_fields_are_missing_and_null_map_entries_refused() {
    assert_eq!(
        err(&with(docker_app(), "container.docker.image", Value::Null)),
        "container.docker: missing field \"image\""
    );
    assert_eq!(
        err(&json!({"id": "/a", "cmd": "x", "fetch": [{"uri": null}]})),
        "fetch[0]: missing field \"uri\""
    );
    assert!(err(&with(docker_app(), "id", Value::Null))
        .starts_with("(top level): missing field \"id\""));
    for (path, at) in [("env", "env.A"), ("labels", "labels.A")] {
        let e = err(&with(docker_app(), path, json!({"A": null})));
        assert!(e.starts_with(&format!("{at}: ")), "{e}");
    }
    let e = err(&with(docker_app(), "args", json!([null])));
    assert!(e.starts_with("args[0]: invalid type: null"), "{e}");
}

#[test]
fn enum_values_in_any_case() {
    let cfg = ok(&with(docker_app(), "container.type", json!("mesos")));
    assert_eq!(cfg.container_type, ContainerType::Mesos);
    let cfg = ok(&with(docker_app(), "container.type", json!("Docker")));
    assert_eq!(cfg.container_type, ContainerType::Docker);
    let cfg = ok(&with(
        docker_app(),
        "container.docker.network",
        json!("bridge"),
    ));
    assert_eq!(cfg.network.mode, NetworkMode::Cni("mesos-bridge".into()));
    let cfg = ok(&with(
        docker_app(),
        "container.docker.network",
        json!("Host"),
    ));
    assert_eq!(cfg.network.mode, NetworkMode::Host);
    let cfg = ok(&with(
        docker_app(),
        "networks",
        json!([{"mode": "CONTAINER/BRIDGE"}]),
    ));
    assert_eq!(cfg.network.mode, NetworkMode::Cni("mesos-bridge".into()));
    let cfg = ok(&with(
        docker_app(),
        "networks",
        json!([{"mode": "Container", "name": "n"}]),
    ));
    assert_eq!(cfg.network.mode, NetworkMode::Cni("n".into()));
    let volume = json!([{"containerPath": "/d", "hostPath": "/d", "mode": "ro"}]);
    let cfg = ok(&with(docker_app(), "container.volumes", volume));
    assert_eq!(cfg.volumes[0].mode, VolumeMode::Ro);
    let ports = json!([{"port": 0, "protocol": "UDP,TCP"}]);
    let cfg = ok(&with(docker_app(), "portDefinitions", ports));
    let protocols: Vec<&str> = cfg
        .network
        .port_mappings
        .iter()
        .map(|m| m.protocol.as_str())
        .collect();
    assert_eq!(protocols, ["udp", "tcp"]);
    let checks = json!([{"protocol": "mesos_http", "ipProtocol": "ipv6"}, {"protocol": "tcp"}]);
    let cfg = ok(&with(docker_app(), "healthChecks", checks));
    assert_eq!(cfg.health_checks.len(), 2);
    let limits = json!({"cpus": "UNLIMITED"});
    let cfg = ok(&with(docker_app(), "resourceLimits", limits));
    assert_eq!(cfg.limits.cpus, Some(f64::INFINITY));
    let ipc = json!({"ipcInfo": {"mode": "private", "shmSize": 64}});
    let cfg = ok(&with(docker_app(), "container.linuxInfo", ipc));
    assert_eq!(cfg.linux.ipc_mode.as_deref(), Some("PRIVATE"));
    let e = err(&with(docker_app(), "container.type", json!("podman")));
    assert!(
        e.starts_with(
            "container.type: unknown variant \"podman\", expected \"MESOS\" or \"DOCKER\""
        ),
        "{e}"
    );
}

#[test]
fn numbers_as_marathon_reads_them() {
    // No numeric field of an app takes a string (play-json's Int/Long/Double reads; see lenient.rs).
    for (path, value) in [
        ("cpus", json!("1")),
        ("mem", json!("128")),
        ("instances", json!("2")),
        ("taskKillGracePeriodSeconds", json!("5")),
        ("portDefinitions", json!([{"port": "80"}])),
        (
            "healthChecks",
            json!([{"protocol": "TCP", "intervalSeconds": "10"}]),
        ),
    ] {
        let e = err(&with(docker_app(), path, value));
        assert!(e.contains("invalid type: string"), "{path}: {e}");
    }
    // A whole number written as a float is that integer (`isValidInt`); a fraction is refused.
    let app = with(docker_app(), "portDefinitions", json!([{"port": 8080.0}]));
    let app = with(app, "requirePorts", json!(true));
    let app = with(app, "taskKillGracePeriodSeconds", json!(5.0));
    let cfg = ok(&with(app, "container.docker.network", json!("HOST")));
    assert_eq!(cfg.network.port_mappings[0].host_port, 8080);
    assert_eq!(cfg.kill_grace_period_secs, Some(5.0));
    let e = err(&with(
        docker_app(),
        "taskKillGracePeriodSeconds",
        json!(1.5),
    ));
    assert!(
        e.starts_with("taskKillGracePeriodSeconds: invalid type"),
        "{e}"
    );
}

#[test]
fn appc_images_of_marathon_1_4_to_1_8() {
    let app = json!({"id": "/a", "cmd": "x", "container": {"type": "MESOS", "appc": {
        "image": "example.com/worker", "id": format!("sha512-{}", "ab".repeat(16)),
        "labels": {"version": "1.0.0", "os": "linux"}, "forcePullImage": true}}});
    let cfg = ok(&app);
    let image = cfg.image.expect("image");
    assert_eq!(
        image.reference.as_str(),
        format!(
            "appc:example.com/worker:1.0.0,os=linux@sha512-{}",
            "ab".repeat(16)
        )
    );
    assert!(!image.cached);
    let e = err(&with(
        app.clone(),
        "container.appc.id",
        json!("sha512-0123"),
    ));
    assert!(e.starts_with("container.appc.id: "), "{e}");
    let e = err(&with(app, "container.type", json!("DOCKER")));
    assert!(e.starts_with("container.appc: only for type MESOS"), "{e}");
}
