//! The request parsers against the real documents in `fixtures/specs/` (see its README for their sources), and
//! the error messages a user sees for common mistakes.

use std::collections::BTreeMap;

use ucr_registry::secret::Secret;
use ucr_runtime::process::{build_env, resolve_argv};
use ucr_runtime::spec::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/specs/",
            $name
        ))
    };
}

/// Secrets from a map of `source` → value.
struct MapSecrets(BTreeMap<&'static str, &'static str>);

impl SecretSource for MapSecrets {
    fn read(&self, _name: &str, source: &str) -> Result<Secret, String> {
        self.0
            .get(source)
            .map(|v| Secret::new(*v))
            .ok_or_else(|| format!("source {source}: unknown"))
    }
}

fn no_secrets() -> MapSecrets {
    MapSecrets(BTreeMap::new())
}

fn parse(text: &str) -> ContainerConfig {
    match parse_request_with(text, &no_secrets()) {
        Ok(c) => c,
        Err(e) => panic!("parse failed: {e}"),
    }
}

fn err(text: &str) -> String {
    match parse_request_with(text, &no_secrets()) {
        Ok(c) => panic!("parsed, expected an error: {c:?}"),
        Err(e) => e.to_string(),
    }
}

fn env_of(cfg: &ContainerConfig, name: &str) -> Option<String> {
    cfg.framework_env
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn mesos_standalone_container() {
    let cfg = parse(fixture!("mesos-launch-container-standalone.json"));
    assert_eq!(cfg.id, "my-standalone-container-id");
    assert_eq!(cfg.source, Source::LaunchContainer);
    assert_eq!(cfg.container_type, ContainerType::Mesos);
    assert!(cfg.command.shell);
    assert_eq!(cfg.command.value.as_deref(), Some("sleep 100"));
    assert_eq!(cfg.resources.cpus, Some(2.0));
    assert_eq!(cfg.resources.mem_mb, Some(1024.0));
    assert_eq!(cfg.resources.disk_mb, Some(1024.0));
    let image = cfg.image.expect("image");
    assert_eq!((image.reference.as_str(), image.cached), ("alpine", true));
    assert_eq!(cfg.network.mode, NetworkMode::Host);
}

#[test]
fn mesos_execute_taskinfo() {
    let text = fixture!("mesos-taskinfo-mesos-execute.json");
    // Mesos task ids may contain spaces; container ids may not.
    let e = err(text);
    assert!(
        e.starts_with(
            "task_id.value: invalid container id \"Id of the task\": must not contain spaces"
        ),
        "{e}"
    );
    let cfg = parse(&text.replace("Id of the task", "task-1"));
    assert_eq!(cfg.id, "task-1");
    assert_eq!(cfg.source, Source::TaskInfo);
    assert_eq!(cfg.resources.cpus, Some(0.1));
    assert_eq!(cfg.resources.mem_mb, Some(32.0));
    assert!(cfg.command.shell);
    assert_eq!(cfg.command.value.as_deref(), Some("sleep 1000"));
    assert_eq!(cfg.image, None);
}

#[test]
fn mesos_semantics_example() {
    let cfg = parse(fixture!("mesos-launch-container-semantics.json"));
    assert_eq!(cfg.id, "c1");
    let c = &cfg.command;
    assert!(!c.shell);
    assert_eq!(c.value.as_deref(), Some("/bin/server"));
    assert_eq!(c.arguments, s(&["/bin/server", "--port", "8080"]));
    assert_eq!(c.env, vec![("A".to_string(), "1".to_string())]);
    assert_eq!(c.user.as_deref(), Some("nobody"));
    assert_eq!(
        c.uris,
        vec![UriSpec {
            value: "https://x/app.tgz".into(),
            extract: true,
            executable: false,
            cache: true,
            output_file: Some("app.tgz".into()),
        }]
    );
    assert_eq!(cfg.resources.cpus, Some(0.5));
    assert_eq!(cfg.resources.mem_mb, Some(256.0));
    assert_eq!(cfg.resources.ports, vec![(31001, 31001)]);
    assert_eq!(
        cfg.limits,
        Limits {
            cpus: Some(1.0),
            mem_mb: Some(512.0)
        }
    );
    let image = cfg.image.as_ref().expect("image");
    assert_eq!(image.reference, "reg.example.com:5443/team/app:1.2");
    assert_eq!(
        image.docker_config.as_deref(),
        Some(r#"{"auths":{"reg.example.com:5443":{"auth":"dXNlcjpwYXNz"}}}"#)
    );
    assert_eq!(
        cfg.volumes,
        vec![
            Volume {
                container_path: "/data".into(),
                mode: VolumeMode::Rw,
                source: VolumeSource::HostPath {
                    path: "/srv/data".into()
                },
            },
            Volume {
                container_path: "/etc/x".into(),
                mode: VolumeMode::Ro,
                source: VolumeSource::HostPath {
                    path: "/etc/x".into()
                },
            },
            Volume {
                container_path: "tmp".into(),
                mode: VolumeMode::Rw,
                source: VolumeSource::SandboxSelf { path: "tmp".into() },
            },
        ]
    );
    assert_eq!(cfg.network.mode, NetworkMode::Cni("mesos-bridge".into()));
    assert_eq!(
        cfg.network.port_mappings,
        vec![PortMapping {
            host_port: 31001,
            container_port: 8080,
            protocol: "tcp".into(),
            name: None,
            networks: Vec::new(),
        }]
    );
    assert_eq!(cfg.hostname.as_deref(), Some("h"));
    assert_eq!(cfg.linux.ipc_mode.as_deref(), Some("PRIVATE"));
    assert_eq!(cfg.linux.shm_size, Some(64));
    assert_eq!(
        cfg.rlimits,
        vec![Rlimit {
            kind: "RLMT_NOFILE".into(),
            soft: Some(4096),
            hard: Some(8192)
        }]
    );
    // The docker config is a credential: not in Debug, not in the checkpoint.
    let debug = format!("{cfg:?}");
    assert!(
        !debug.contains("dXNlcjpwYXNz") && debug.contains("<redacted>"),
        "{debug}"
    );
    let json = serde_json::to_string(&cfg).expect("serialize");
    assert!(!json.contains("dXNlcjpwYXNz"));
}

#[test]
fn mesos_composed_taskinfo() {
    let cfg = parse(fixture!("mesos-taskinfo-composed.json"));
    assert_eq!(cfg.id, "task-000001");
    assert_eq!(cfg.limits.cpus, Some(f64::INFINITY));
    assert_eq!(cfg.limits.mem_mb, Some(4096.0));
    assert_eq!(cfg.command.value.as_deref(), Some("./my-artifact/run.sh"));
    assert_eq!(cfg.command.uris.len(), 1);
    assert!(cfg.command.uris[0].extract);
    assert_eq!(
        cfg.image.as_ref().map(|i| i.reference.as_str()),
        Some("alpine")
    );
    assert_eq!(
        cfg.rlimits,
        vec![
            Rlimit {
                kind: "RLMT_CORE".into(),
                soft: None,
                hard: None
            },
            Rlimit {
                kind: "RLMT_STACK".into(),
                soft: Some(8192),
                hard: Some(32768)
            },
        ]
    );
}

#[test]
fn marathon_ucr_private_registry() {
    let text = fixture!("marathon-ucr-private-registry.json");
    let secrets = MapSecrets(BTreeMap::from([(
        "/mesos-docker/pullConfig",
        r#"{"auths":{"https://index.docker.io/v1/":{"auth":"XXXXX"}}}"#,
    )]));
    let cfg = parse_request_with(text, &secrets).expect("parse");
    assert_eq!(cfg.id, "mesos-docker");
    assert_eq!(cfg.source, Source::Marathon);
    assert_eq!(cfg.container_type, ContainerType::Mesos);
    let image = cfg.image.as_ref().expect("image");
    assert_eq!(image.reference, "your/private/image");
    assert!(image.cached);
    assert!(image
        .docker_config
        .as_deref()
        .is_some_and(|c| c.contains("XXXXX")));
    // args: no shell, no value, the image ENTRYPOINT applies.
    assert!(!cfg.command.shell);
    assert_eq!(cfg.command.value, None);
    assert_eq!(cfg.command.arguments, s(&["hello"]));
    assert_eq!(cfg.resources.cpus, Some(0.2));
    assert_eq!(cfg.resources.mem_mb, Some(16.0));
    assert_eq!(
        env_of(&cfg, "MARATHON_APP_ID").as_deref(),
        Some("/mesos-docker")
    );
    assert_eq!(
        env_of(&cfg, "MARATHON_APP_RESOURCE_CPUS").as_deref(),
        Some("0.2")
    );
    assert_eq!(
        env_of(&cfg, "MARATHON_APP_RESOURCE_MEM").as_deref(),
        Some("16.0")
    );
    // Marathon sets it for DOCKER containers only.
    assert_eq!(env_of(&cfg, "MARATHON_APP_DOCKER_IMAGE"), None);
    // Host networking with Marathon's default port definition.
    assert_eq!(cfg.network.mode, NetworkMode::Host);
    assert_eq!(
        cfg.network.port_mappings,
        vec![PortMapping {
            host_port: 0,
            container_port: 0,
            protocol: "tcp".into(),
            name: Some("default".into()),
            networks: Vec::new(),
        }]
    );
    // With the default file secrets, the vault path is not a file: the error names secret and path.
    let dir = tempfile::tempdir().expect("tempdir");
    let e = parse_request_with(text, &FileSecrets::new(dir.path()))
        .expect_err("must fail")
        .to_string();
    assert!(
        e.starts_with("secret \"pullConfigSecret\": source /mesos-docker/pullConfig:"),
        "{e}"
    );
}

#[test]
fn marathon_docker_bridge() {
    let cfg = parse(fixture!("marathon-basic-3-docker-bridge.json"));
    assert_eq!(cfg.id, "basic-3");
    assert_eq!(cfg.container_type, ContainerType::Docker);
    assert!(cfg.command.shell);
    assert_eq!(
        cfg.command.value.as_deref(),
        Some("python3 -m http.server 8080")
    );
    assert_eq!(
        cfg.image.as_ref().map(|i| i.reference.as_str()),
        Some("python:3")
    );
    assert_eq!(cfg.network.mode, NetworkMode::Cni("mesos-bridge".into()));
    assert_eq!(
        cfg.network.port_mappings,
        vec![PortMapping {
            host_port: 0,
            container_port: 8080,
            protocol: "tcp".into(),
            name: None,
            networks: Vec::new(),
        }]
    );
    assert_eq!(env_of(&cfg, "MARATHON_APP_ID").as_deref(), Some("/basic-3"));
    assert_eq!(
        env_of(&cfg, "MARATHON_APP_DOCKER_IMAGE").as_deref(),
        Some("python:3")
    );
    assert_eq!(
        env_of(&cfg, "MARATHON_APP_RESOURCE_CPUS").as_deref(),
        Some("0.5")
    );
    assert_eq!(
        env_of(&cfg, "MARATHON_APP_RESOURCE_MEM").as_deref(),
        Some("32.0")
    );
}

#[test]
fn marathon_fetch_without_image() {
    let cfg = parse(fixture!("marathon-basic-4-fetch.json"));
    assert_eq!(cfg.id, "basic-4");
    assert_eq!(cfg.image, None);
    assert_eq!(cfg.command.value.as_deref(), Some("./cool-script.sh"));
    assert_eq!(
        cfg.command.uris,
        vec![UriSpec {
            value: "https://example.com/some-script.sh".into(),
            extract: true,
            executable: false,
            cache: false,
            output_file: Some("cool-script.sh".into()),
        }]
    );
    assert_eq!(cfg.resources.cpus, Some(0.1));
    assert_eq!(cfg.resources.mem_mb, Some(10.0));
}

#[test]
fn marathon_ucr_http_server() {
    let cfg = parse(fixture!("marathon-ucr-docker-http-server.json"));
    assert_eq!(cfg.id, "ucr-docker-http-server");
    assert_eq!(cfg.container_type, ContainerType::Mesos);
    assert_eq!(
        cfg.image.as_ref().map(|i| i.reference.as_str()),
        Some("python:3.5-alpine")
    );
    assert_eq!(
        cfg.command.value.as_deref(),
        Some("python3 -m http.server $PORT0")
    );
    // $PORT0 exists because Marathon gives every app one port by default.
    assert_eq!(cfg.network.port_mappings.len(), 1);
}

#[test]
fn marathon_mesos_mini() {
    let cfg = parse(fixture!("marathon-mesos-mini-alpine.json"));
    assert_eq!(cfg.id, "test");
    assert_eq!(cfg.container_type, ContainerType::Docker);
    assert_eq!(cfg.network.mode, NetworkMode::Host);
    assert_eq!(cfg.resources.disk_mb, None);
    assert_eq!(cfg.resources.cpus, Some(1.0));
    assert_eq!(
        env_of(&cfg, "MARATHON_APP_RESOURCE_DISK").as_deref(),
        Some("0.0")
    );
}

#[test]
fn field_paths_in_errors() {
    let bad_mode = r#"{"type":"LAUNCH_CONTAINER","launch_container":{"container_id":{"value":"c"},
        "container":{"type":"MESOS","volumes":[
            {"container_path":"/a","host_path":"/a","mode":"RO"},
            {"container_path":"/b","host_path":"/b","mode":"RX"}]}}}"#;
    let e = err(bad_mode);
    assert!(
        e.starts_with(
            "launch_container.container.volumes[1].mode: unknown variant \"RX\", expected \"RW\" or \"RO\""
        ),
        "{e}"
    );
    // Unknown fields are skipped (as Marathon and Mesos do); one that was a typo of a required field is named.
    let typo = r#"{"id":"/a","container":{"type":"DOCKER","docker":{"imag":"busybox"}}}"#;
    let e = err(typo);
    assert!(
        e.starts_with(
            "container.docker: missing field \"image\" (the unknown field container.docker.imag was ignored"
        ),
        "{e}"
    );
    let e = err(r#"{"id":"/a","cmd":"x","args":["y"]}"#);
    assert!(e.starts_with("args: cmd and args are both set"), "{e}");
    let e = err(r#"{"id":"/a","cmd":"x","cpus":"one"}"#);
    assert!(e.starts_with("cpus: invalid type"), "{e}");
    let e = err(
        r#"{"id":"/a","container":{"type":"DOCKER","docker":{"image":"b","parameters":[{"key":"volumes-from","value":"db"}]}}}"#,
    );
    assert!(
        e.starts_with("container.docker.parameters[0].key: docker parameter \"volumes-from\""),
        "{e}"
    );
    let e = err(
        r#"{"type":"LAUNCH_CONTAINER","launch_container":{"container_id":{"value":"c"},
        "command":{"value":"x"},"resources":[{"name":"gpus","type":"SCALAR","scalar":{"value":1}}]}}"#,
    );
    assert!(
        e.starts_with("launch_container.resources[0].name: gpus"),
        "{e}"
    );
    // Mesos writes a nested id `<parent>.<child>`: no level of a launched id may hold a '.'.
    for (cid, field) in [
        (r#"{"value":"a.b"}"#, "container_id.value"),
        (
            r#"{"value":"c","parent":{"value":"p.q"}}"#,
            "container_id.parent.value",
        ),
    ] {
        let e = err(&format!(
            r#"{{"type":"LAUNCH_CONTAINER","launch_container":{{"container_id":{cid},"command":{{"value":"x"}}}}}}"#
        ));
        assert!(e.starts_with(&format!("launch_container.{field}: ")), "{e}");
        assert!(e.contains("must not contain '.'"), "{e}");
    }
    let e = err(
        r#"{"id":"/a","cmd":"x","networks":[{"mode":"host"},{"mode":"container","name":"b"}]}"#,
    );
    assert!(e.starts_with("networks[0]: "), "{e}");
}

#[test]
fn secret_env_and_appc() {
    let text = r#"{"type":"LAUNCH_CONTAINER","launch_container":{"container_id":{"value":"c"},
        "command":{"value":"env","environment":{"variables":[
            {"name":"PLAIN","value":"p"},
            {"name":"TOKEN","type":"SECRET","secret":{"type":"VALUE","value":{"data":"aHVudGVyMg=="}}}]}},
        "container":{"type":"MESOS","mesos":{"image":{"type":"APPC","appc":{"name":"example.com/worker",
            "id":"sha512-0123456789abcdef0123456789abcdef","labels":{"labels":[{"key":"version","value":"1.0.0"},{"key":"os","value":"linux"}]}}}}}}}"#;
    let cfg = parse(text);
    assert_eq!(
        cfg.command.env,
        vec![("PLAIN".to_string(), "p".to_string())]
    );
    assert_eq!(cfg.secret_env.len(), 1);
    assert_eq!(cfg.secret_env[0].1.expose(), "hunter2");
    assert!(!format!("{cfg:?}").contains("hunter2"));
    assert_eq!(
        cfg.image.as_ref().map(|i| i.reference.as_str()),
        Some("appc:example.com/worker:1.0.0,os=linux@sha512-0123456789abcdef0123456789abcdef")
    );
    let env = build_env(&cfg, None, "/sb", &[]);
    assert!(env.contains(&"TOKEN=hunter2".to_string()));

    let marathon = r#"{"id":"/a","cmd":"x","env":{"A":"1","T":{"secret":"tok"}},
        "secrets":{"tok":{"source":"tok.txt"}}}"#;
    let secrets = MapSecrets(BTreeMap::from([("tok.txt", "s3")]));
    let cfg = parse_request_with(marathon, &secrets).expect("parse");
    assert_eq!(cfg.command.env, vec![("A".to_string(), "1".to_string())]);
    assert_eq!(cfg.secret_env[0].0, "T");
    let e = err(r#"{"id":"/a","cmd":"x","env":{"T":{"secret":"nope"}}}"#);
    assert!(e.starts_with("env.T.secret: names secret \"nope\""), "{e}");
    let e = err(r#"{"id":"/a","cmd":"x","env":{"T":{"secrt":"nope"}}}"#);
    assert!(e.starts_with("env.T: "), "{e}");
}

#[test]
fn resolved_process_of_a_marathon_app() {
    // End to end through the rules: a Marathon args app on an image with an ENTRYPOINT.
    let cfg = parse(
        r#"{"id":"/g/echo","args":["hi"],"container":{"type":"MESOS","docker":{"image":"inky"}},
        "env":{"A":"app"}}"#,
    );
    let image = ucr_registry::manifest::RunConfig {
        entrypoint: Some(s(&["echo"])),
        cmd: Some(s(&["inky"])),
        env: Some(s(&["A=image", "PATH=/bin"])),
        ..Default::default()
    };
    assert_eq!(
        resolve_argv(&cfg, Some(&image)).ok(),
        Some(s(&["echo", "hi"]))
    );
    let env = build_env(
        &cfg,
        Some(&image),
        "/mnt/mesos/sandbox",
        &[("PORT0".into(), "31000".into())],
    );
    assert!(env.contains(&"A=app".to_string()));
    assert!(env.contains(&"MARATHON_APP_ID=/g/echo".to_string()));
    assert!(env.contains(&"MESOS_TASK_ID=g_echo".to_string()));
    assert!(env.contains(&"PORT0=31000".to_string()));
    assert!(env.contains(&"PATH=/bin".to_string()));
}

#[test]
fn marathon_1_4_ip_address_joins_its_named_network() {
    let c = parse(
        r#"{"id":"/a","container":{"type":"DOCKER","docker":{"image":"b","network":"USER"}},
            "ipAddress":{"networkName":"dev","discovery":{"ports":[{"number":80,"name":"http","protocol":"tcp"}]}}}"#,
    );
    assert_eq!(c.network.mode, NetworkMode::Cni("dev".into()));
    let e = err(r#"{"id":"/a","ipAddress":{},"container":{"docker":{"image":"b"}}}"#);
    assert!(e.starts_with("ipAddress.networkName: missing"), "{e}");
    let e = err(
        r#"{"id":"/a","ipAddress":{"networkName":"n"},"container":{"docker":{"image":"b","network":"HOST"}}}"#,
    );
    assert!(
        e.starts_with("container.docker.network: HOST with ipAddress"),
        "{e}"
    );
    let e = err(
        r#"{"id":"/a","ipAddress":{"networkName":"n"},"networks":[{"mode":"host"}],"container":{"docker":{"image":"b"}}}"#,
    );
    assert!(
        e.starts_with("ipAddress: deprecated, and conflicts with networks"),
        "{e}"
    );
}

#[test]
fn unknown_fields_of_every_format_make_one_warning() {
    let read = |text: &str| match read_request_with(text, &no_secrets()) {
        Ok(p) => p,
        Err(e) => panic!("parse failed: {e}"),
    };
    let app = read(
        r#"{"id":"b","cmd":"sleep 1","fetch":null,"foo":1,"container":{"type":"docker",
            "docker":{"image":"busybox","type":"x","requirePorts":true,"network":"bridge"}}}"#,
    );
    assert_eq!(
        app.warning().as_deref(),
        Some(
            "app /b: unknown fields ignored: container.docker.requirePorts, container.docker.type, foo"
        )
    );
    assert_eq!(
        app.config.ignored,
        s(&[
            "container.docker.requirePorts",
            "container.docker.type",
            "foo"
        ])
    );
    let task = read(r#"{"task_id":{"value":"t"},"name":"n","command":{"value":"x","shel":true}}"#);
    assert_eq!(
        task.warning().as_deref(),
        Some("task t: unknown field ignored: command.shel")
    );
    assert!(
        task.config.command.shell,
        "the default, shel being no field"
    );
    let call = read(
        r#"{"type":"LAUNCH_CONTAINER","newer":1,"launch_container":{"container_id":{"value":"c"},
            "command":{"value":"x"},"priority":3}}"#,
    );
    assert_eq!(
        call.warning().as_deref(),
        Some("container c: unknown fields ignored: launch_container.priority, newer")
    );
    assert_eq!(
        read(fixture!("marathon-mesos-mini-alpine.json")).warning(),
        None
    );
}

#[test]
fn several_container_networks_and_their_port_mappings() {
    let two = r#"{"id":"/m","cmd":"x","networks":[{"mode":"container","name":"a"},{"mode":"container","name":"b"}],
        "container":{"type":"MESOS","portMappings":[{"containerPort":80,"networkNames":["a"]},{"containerPort":81,"networkNames":["b"]}]}}"#;
    let cfg = parse_request_with(two, &no_secrets()).expect("parse");
    assert_eq!(cfg.network.mode, NetworkMode::Cni("a".into()));
    assert_eq!(cfg.network.extra_networks, ["b"]);
    let on: Vec<_> = cfg
        .network
        .port_mappings
        .iter()
        .map(|p| p.networks.clone())
        .collect();
    assert_eq!(on, [vec!["a".to_string()], vec!["b".to_string()]]);
    // Marathon's rules: a name must be one of the app's networks; with several, a hostPort names exactly one.
    let e = err(&two.replace(r#""networkNames":["b"]"#, r#""networkNames":["c"]"#));
    assert!(
        e.starts_with("container.portMappings[1].networkNames: \"c\""),
        "{e}"
    );
    let e = err(&two.replace(
        r#""containerPort":81,"networkNames":["b"]"#,
        r#""containerPort":81,"hostPort":9000"#,
    ));
    assert!(
        e.starts_with("container.portMappings[1].networkNames: must name exactly one"),
        "{e}"
    );
}

/// A LAUNCH_CONTAINER of a command task with `resources` (JSON list items), where `KV` stands for the `disk` of a
/// persistent volume `kv` at `data`.
fn with_resources(resources: &str) -> ContainerConfig {
    let kv = r#"{"persistence": {"id": "kv"}, "volume": {"container_path": "data", "mode": "RW"}}"#;
    parse(&format!(
        r#"{{"type": "LAUNCH_CONTAINER", "launch_container": {{
            "container_id": {{"value": "pv"}}, "command": {{"value": "true"}},
            "resources": [{}]}}}}"#,
        resources.replace("KV", kv)
    ))
}

/// A persistent volume's disk resource is the volume's size, not the sandbox's: Mesos's `disk/du` measures the
/// volume apart, so the container's `disk` is the plain disk resources' sum alone.
#[test]
fn mesos_persistent_volume_disk_is_not_the_sandboxs() {
    let cfg = with_resources(
        r#"{"name": "disk", "type": "SCALAR", "scalar": {"value": 8}},
           {"name": "disk", "type": "SCALAR", "scalar": {"value": 3}, "role": "web"},
           {"name": "disk", "type": "SCALAR", "scalar": {"value": 2}, "role": "web", "disk": KV}"#,
    );
    assert_eq!(
        cfg.resources.disk_mb,
        Some(11.0),
        "both plain disks, not the volume"
    );
    let v = &cfg.persistent_volumes;
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(
        (v[0].name.as_str(), v[0].size_mb),
        ("roles/web/kv", Some(2))
    );
}

/// A hierarchical role's volume is named as Mesos keeps it (`getPersistentVolumePath`): the role's `/` a space,
/// so that a sub-role never reads as a directory of its parent role's volumes.
#[test]
fn mesos_hierarchical_roles_volume_is_named_as_mesos_keeps_it() {
    let sub = with_resources(
        r#"{"name": "disk", "type": "SCALAR", "scalar": {"value": 2}, "disk": KV,
            "reservations": [{"type": "STATIC", "role": "eng"}, {"type": "DYNAMIC", "role": "eng/web"}]}"#,
    );
    assert_eq!(sub.persistent_volumes[0].name, "roles/eng web/kv");
}
