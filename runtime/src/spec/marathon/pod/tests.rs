//! Each mapping rule of `marathon::pod`, on small pods.

use serde_json::{json, Value};
use ucr_registry::secret::Secret;

use super::parse_marathon_pod_with;
use crate::spec::config::{ContainerConfig, PersistentVolume, VolumeMode, VolumeSource};
use crate::spec::pod::{pause_command, PodConfig};
use crate::spec::secrets::SecretSource;

/// Secrets by source, for tests: `src:<name>` holds `value-of-<name>`, `cfg` a docker config.json.
pub(super) struct Secrets;

impl SecretSource for Secrets {
    fn read(&self, _name: &str, source: &str) -> Result<Secret, String> {
        match source {
            "cfg" => Ok(Secret::new("{\"auths\":{}}".to_string())),
            s => s
                .strip_prefix("src:")
                .map(|n| Secret::new(format!("value-of-{n}")))
                .ok_or_else(|| format!("no source {s:?}")),
        }
    }
}

pub(super) fn parse(pod: &Value) -> Result<(PodConfig, Vec<String>), String> {
    parse_marathon_pod_with(&pod.to_string(), &Secrets).map_err(|e| e.to_string())
}

pub(super) fn ok(pod: &Value) -> PodConfig {
    match parse(pod) {
        Ok((p, _)) => p,
        Err(e) => panic!("{pod}: {e}"),
    }
}

pub(super) fn err(pod: &Value) -> String {
    match parse(pod) {
        Ok(_) => panic!("{pod}: parsed, expected an error"),
        Err(e) => e,
    }
}

pub(super) fn sleeper(name: &str) -> Value {
    json!({"name": name, "exec": {"command": {"shell": "sleep 1000"}}, "resources": {"cpus": 0.1, "mem": 32}})
}

fn env<'c>(c: &'c ContainerConfig, k: &str) -> Option<&'c str> {
    c.command
        .env
        .iter()
        .chain(&c.framework_env)
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
}

#[test]
fn ids_nesting_and_the_pause_parent() {
    let p = ok(&json!({"id": "/group/db", "containers": [sleeper("web"), sleeper("log-1")]}));
    assert_eq!(p.parent.id, "group_db");
    assert_eq!(p.parent.image, None);
    assert_eq!(p.parent.command, pause_command());
    let ids: Vec<&str> = p.children.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["group_db/web", "group_db/log-1"]);
    for c in &p.children {
        let n = c.nesting.as_ref().expect("nested");
        assert_eq!(n.parent, "group_db");
        assert!(!n.share_cgroups && !n.share_pid && n.share_ipc && n.kills_parent);
        assert_eq!(c.network, Default::default());
        assert!(c.command.shell);
        assert_eq!(c.command.value.as_deref(), Some("sleep 1000"));
    }
    // Marathon's name rule, and unique names.
    let bad = json!({"id": "/p", "containers": [sleeper("healthApp1")]});
    assert!(err(&bad).starts_with("containers[0].name: \"healthApp1\" is not a Marathon name"));
    let twice = json!({"id": "/p", "containers": [sleeper("a"), sleeper("a")]});
    assert_eq!(
        err(&twice),
        "containers[1].name: container \"a\" is defined twice"
    );
    assert!(err(&json!({"id": "/P", "containers": [sleeper("a")]})).starts_with("id: "));
    assert!(err(&json!({"id": "/p", "containers": []})).starts_with("containers: empty"));
    // The RAML requires `resources` (its fields have defaults).
    let none =
        json!({"id": "/p", "containers": [{"name": "a", "exec": {"command": {"shell": "x"}}}]});
    assert_eq!(err(&none), "containers[0]: missing field \"resources\"");
    let legacy =
        ok(&json!({"id": "/p", "legacySharedCgroups": true, "containers": [sleeper("a")]}));
    assert!(legacy.children[0]
        .nesting
        .as_ref()
        .is_some_and(|n| n.share_cgroups));
}

#[test]
fn envelope_is_the_containers_and_the_executor_summed() {
    let pod = json!({"id": "/p", "containers": [
        {"name": "a", "exec": {"command": {"shell": "x"}}, "resources": {"cpus": 0.1, "mem": 32}},
        {"name": "b", "exec": {"command": {"shell": "x"}}, "resources": {"cpus": 0.25, "mem": 64, "disk": 5}},
    ]});
    let p = ok(&pod);
    let r = &p.parent.resources;
    // Marathon's executor defaults: 0.1 cpus, 32 MiB, 10 MiB disk.
    assert!((r.cpus.expect("cpus") - 0.45).abs() < 1e-9, "{r:?}");
    assert_eq!(r.mem_mb, Some(128.0));
    assert_eq!(r.disk_mb, Some(15.0));
    assert_eq!(p.parent.limits, Default::default());
    assert_eq!(p.children[1].resources.disk_mb, Some(5.0));
    assert_eq!(p.children[0].resources.disk_mb, None);
    let mut own = pod.clone();
    own["executorResources"] = json!({"cpus": 0.5, "mem": 64, "disk": 50});
    let r = ok(&own).parent.resources;
    assert!((r.cpus.expect("cpus") - 0.85).abs() < 1e-9);
    assert_eq!((r.mem_mb, r.disk_mb), (Some(160.0), Some(55.0)));
    own["executorResources"] = json!({"mem": 16});
    assert_eq!(err(&own), "executorResources.mem: 16 must be at least 32");
    // A container's limits above its request widen the envelope by as much; unlimited makes it unlimited.
    let mut lim = pod.clone();
    lim["containers"][0]["resourceLimits"] = json!({"cpus": "unlimited", "mem": 48});
    let p = ok(&lim);
    assert_eq!(p.parent.limits.cpus, Some(f64::INFINITY));
    assert_eq!(p.parent.limits.mem_mb, Some(144.0));
    assert_eq!(p.children[0].limits.mem_mb, Some(48.0));
    let mut gpus = pod;
    gpus["containers"][0]["resources"]["gpus"] = json!(1);
    assert_eq!(
        err(&gpus),
        "containers[0].resources.gpus: GPUs are not supported"
    );
}

#[test]
fn volumes_ephemeral_host_persistent_and_secret() {
    let mut pod = json!({"id": "/g/p", "containers": [sleeper("a"), sleeper("b")],
        "volumes": [{"name": "v1"}, {"name": "etc", "host": "/etc"}, {"name": "rel", "host": "data/x"},
                    {"name": "pst", "persistent": {"type": "root", "size": 10}},
                    {"name": "pw", "secret": "db"}],
        "secrets": {"db": {"source": "src:db"}}});
    pod["containers"][0]["volumeMounts"] = json!([
        {"name": "v1", "mountPath": "ct1-v1"}, {"name": "etc", "mountPath": "/mnt/etc", "readOnly": true},
        {"name": "pst", "mountPath": "pst1"}, {"name": "pw", "mountPath": "secrets/pw"}]);
    pod["containers"][1]["volumeMounts"] =
        json!([{"name": "v1", "mountPath": "etc"}, {"name": "rel", "mountPath": "/x"}]);
    let p = ok(&pod);
    assert_eq!(p.ephemeral_volumes, ["v1"]);
    let a = &p.children[0];
    let sources: Vec<(&str, VolumeMode, &VolumeSource)> = a
        .volumes
        .iter()
        .map(|v| (v.container_path.as_str(), v.mode, &v.source))
        .collect();
    assert_eq!(
        sources,
        [
            (
                "ct1-v1",
                VolumeMode::Rw,
                &VolumeSource::SandboxParent {
                    path: "volumes/v1".into()
                }
            ),
            (
                "/mnt/etc",
                VolumeMode::Ro,
                &VolumeSource::HostPath {
                    path: "/etc".into()
                }
            ),
        ]
    );
    assert_eq!(
        a.persistent_volumes,
        [PersistentVolume {
            name: "apps/g_p/pst".into(),
            container_path: "pst1".into(),
            mode: VolumeMode::Rw,
            size_mb: Some(10)
        }]
    );
    assert_eq!(a.secret_volumes.len(), 1);
    assert_eq!(a.secret_volumes[0].0, "secrets/pw");
    assert_eq!(a.secret_volumes[0].1.expose(), "value-of-db");
    // A relative host path is in the pod's (the executor's) sandbox.
    assert_eq!(
        p.children[1].volumes[1].source,
        VolumeSource::SandboxParent {
            path: "data/x".into()
        }
    );
    let mut unused = pod.clone();
    if let Some(v) = unused["volumes"].as_array_mut() {
        v.push(json!({"name": "spare"}));
    }
    assert_eq!(
        err(&unused),
        "volumes[5].name: volume \"spare\" is mounted by no container"
    );
    let mut unknown = pod.clone();
    unknown["containers"][1]["volumeMounts"][0]["name"] = json!("v9");
    assert_eq!(
        err(&unknown),
        "containers[1].volumeMounts[0].name: \"v9\" is not one of the pod's volumes"
    );
    let mut escape = pod;
    escape["volumes"][2]["host"] = json!("../x");
    assert!(err(&escape).starts_with("volumes[2].host: \"../x\""));
}

#[test]
fn env_precedence_and_marathons_task_env() {
    let pod = json!({"id": "/g/p", "version": "2017-01-03T18:21:19.31Z", "labels": {"owner": "zeus", "note": "a"},
        "environment": {"XPS1": "pod", "XPS2": "pod", "PW": {"secret": "db"}},
        "secrets": {"db": {"source": "src:db"}, "other": {"source": "src:other"}},
        "containers": [{"name": "c1", "exec": {"command": {"shell": "x"}}, "resources": {"cpus": 0.5, "mem": 64},
            "labels": {"note": "container"}, "environment": {"XPS2": "container", "OWN": {"secret": "other"}}}]});
    let p = ok(&pod);
    let c = &p.children[0];
    assert_eq!(
        c.command.env,
        [
            ("XPS1".to_string(), "pod".to_string()),
            ("XPS2".to_string(), "container".to_string())
        ]
    );
    let secrets: Vec<(&str, &str)> = c.task_secret_env().collect();
    assert_eq!(secrets, [("PW", "value-of-db"), ("OWN", "value-of-other")]);
    assert_eq!(env(c, "MARATHON_APP_ID"), Some("/g/p"));
    assert_eq!(
        env(c, "MARATHON_APP_VERSION"),
        Some("2017-01-03T18:21:19.31Z")
    );
    assert_eq!(env(c, "MARATHON_CONTAINER_ID"), Some("c1"));
    assert_eq!(env(c, "MESOS_TASK_ID"), Some("g_p/c1"));
    assert_eq!(env(c, "MESOS_EXECUTOR_ID"), Some("g_p"));
    assert_eq!(env(c, "MARATHON_CONTAINER_RESOURCE_CPUS"), Some("0.5"));
    assert_eq!(env(c, "MARATHON_CONTAINER_RESOURCE_MEM"), Some("64.0"));
    assert_eq!(env(c, "MARATHON_CONTAINER_RESOURCE_DISK"), Some("0.0"));
    assert_eq!(env(c, "MARATHON_CONTAINER_RESOURCE_GPUS"), Some("0"));
    assert_eq!(env(c, "MARATHON_APP_LABELS"), Some("NOTE OWNER"));
    assert_eq!(env(c, "MARATHON_APP_LABEL_NOTE"), Some("container"));
    assert_eq!(c.labels.get("note").map(String::as_str), Some("container"));
    assert_eq!(
        p.parent.labels.get("owner").map(String::as_str),
        Some("zeus")
    );
    // A container secret over a pod value: the pod's value is not in the env to hide it.
    let mut over = pod.clone();
    over["containers"][0]["environment"]["XPS1"] = json!({"secret": "db"});
    let p = ok(&over);
    assert!(!p.children[0].command.env.iter().any(|(n, _)| n == "XPS1"));
    assert!(p.children[0]
        .task_secret_env()
        .any(|(n, v)| n == "XPS1" && v == "value-of-db"));
    let mut undeclared = pod;
    undeclared["environment"]["PW"] = json!({"secret": "nope"});
    assert_eq!(
        err(&undeclared),
        "environment.PW.secret: names secret \"nope\", which secrets does not declare"
    );
}

#[test]
fn images_commands_and_the_rest_of_a_container() {
    let pod = json!({"id": "/p", "user": "nobody", "secrets": {"pull": {"source": "cfg"}}, "containers": [
        {"name": "d", "resources": {}, "user": "root", "tty": true,
         "image": {"kind": "docker", "id": "nginx:1.25", "forcePull": true, "pullConfig": {"secret": "pull"}},
         "artifacts": [{"uri": "https://x/a.zip", "destPath": "b.zip", "cache": true}],
         "lifecycle": {"killGracePeriodSeconds": 60},
         "linuxInfo": {"seccomp": {"unconfined": true}, "ipcInfo": {"mode": "PRIVATE", "shmSize": 64}}},
        {"name": "a", "resources": {}, "image": {"kind": "APPC", "id": "example.com/w", "labels": {"version": "1.0"}},
         "exec": {"command": {"argv": ["serve", "-v"]}}, "lifecycle": {"killGracePeriodSeconds": 5}},
        {"name": "o", "resources": {}, "image": {"kind": "DOCKER", "id": "busybox"},
         "exec": {"command": {"argv": ["/bin/sh", "-c", "x"]}, "overrideEntrypoint": true}},
        {"name": "h", "resources": {}, "exec": {"command": {"argv": ["/bin/sleep", "9"]}}},
    ]});
    let p = ok(&pod);
    let [d, a, o, h] = &p.children[..] else {
        panic!("four children")
    };
    let im = d.image.as_ref().expect("image");
    assert_eq!(im.reference.to_string(), ImageShown::of("nginx:1.25"));
    assert!(!im.cached);
    assert_eq!(im.docker_config.as_deref(), Some("{\"auths\":{}}"));
    assert_eq!((d.command.shell, d.command.value.as_ref()), (false, None));
    assert_eq!(d.command.user.as_deref(), Some("root"));
    assert_eq!(a.command.user.as_deref(), Some("nobody"));
    assert_eq!(d.command.uris[0].output_file.as_deref(), Some("b.zip"));
    assert!(d.command.uris[0].extract && d.command.uris[0].cache);
    assert!(d.tty.is_some());
    assert_eq!(d.linux.seccomp.as_deref(), Some("unconfined"));
    assert_eq!(
        (d.linux.ipc_mode.as_deref(), d.linux.shm_size),
        (Some("PRIVATE"), Some(64))
    );
    assert!(d.nesting.as_ref().is_some_and(|n| !n.share_ipc));
    assert_eq!(
        a.image.as_ref().map(|i| i.reference.to_string()),
        Some(ImageShown::of("appc:example.com/w:1.0"))
    );
    // argv after the ENTRYPOINT; with overrideEntrypoint, or without an image, argv is run as is.
    assert_eq!(
        (a.command.value.as_ref(), a.command.arguments.len()),
        (None, 2)
    );
    assert_eq!(o.command.value.as_deref(), Some("/bin/sh"));
    assert_eq!(o.command.arguments, ["/bin/sh", "-c", "x"]);
    assert_eq!(h.image, None);
    assert_eq!(h.command.value.as_deref(), Some("/bin/sleep"));
    assert_eq!(p.parent.kill_grace_period_secs, Some(60.0));
    assert_eq!(a.kill_grace_period_secs, Some(5.0));
    let none = json!({"id": "/p", "containers": [{"name": "x", "resources": {}}]});
    assert!(err(&none).starts_with("containers[0].exec: missing"));
    let both = json!({"id": "/p", "containers": [{"name": "x", "resources": {},
        "exec": {"command": {"shell": "a", "argv": ["b"]}}}]});
    assert_eq!(
        err(&both),
        "containers[0].exec.command: give exactly one of shell and argv"
    );
    let pod_seccomp = json!({"id": "/p", "linuxInfo": {"seccomp": {"unconfined": true}}, "containers": [sleeper("a")]});
    assert!(err(&pod_seccomp).starts_with("linuxInfo.seccomp: not supported at the pod level"));
}

/// How an image reference prints, whatever its normalization (`nginx:1.25` may print in full).
struct ImageShown;

impl ImageShown {
    fn of(written: &str) -> String {
        crate::spec::mesos::convert_container::image_name(written, "x")
            .map(|n| n.to_string())
            .unwrap_or_default()
    }
}

#[test]
fn unknown_and_scheduling_fields_are_skipped_and_listed() {
    let pod = json!({"id": "/p", "scaling": {"kind": "fixed", "instances": 2, "maxInstances": null},
        "scheduling": {"backoff": {"backoff": 1}}, "role": "*", "futureField": 1,
        "containers": [{"name": "a", "resources": {"cpus": 1}, "exec": {"command": {"shell": "x"}},
            "check": {"exec": {"command": {"shell": "true"}}},
            "image": {"kind": "DOCKER", "id": "b", "force": true}}]});
    let (p, unknown) = parse(&pod).expect("parse");
    assert_eq!(unknown, ["containers[0].image.force", "futureField"]);
    assert_eq!(
        p.parent.ignored,
        [
            "scaling",
            "scheduling",
            "role",
            "containers[0].check",
            "containers[0].image.force",
            "futureField"
        ]
    );
    assert_eq!(
        p.children[0].ignored,
        ["containers[0].check", "containers[0].image.force"]
    );
    // null is absent; enum values in any case.
    let lenient = json!({"id": "/p", "networks": [{"name": null, "mode": "Host", "labels": {}}],
        "containers": [{"name": "a", "resources": {"cpus": 1.0, "disk": null}, "exec": {"command": {"shell": "x"}},
            "endpoints": [{"name": "e", "containerPort": null, "hostPort": 0.0}]}]});
    assert_eq!(ok(&lenient).parent.network.port_mappings[0].host_port, 0);
}
