//! The OCI runtime spec (bundle `config.json`) for one container, written as the JSON runc and youki read.
//! The launcher owns only the frame: the process, the root, the pid/ipc/uts/mount namespaces, the explicit
//! cgroups path under `/ucr`, the sandbox bind mount and annotations. Everything else (the /proc, /dev and /sys
//! mounts, volumes, cgroup resources, devices, rlimits, capabilities, seccomp, the network namespace and its
//! files) is what the enabled isolators contributed, so `--isolation` really decides what a container gets.

use std::path::Path;

use serde_json::{json, Value};
use ucr_isolators::Contribution;

use crate::spec::ContainerConfig;

/// The process to run, fully resolved (argv, env, cwd and ids are final here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// The program to exec when it is not args[0] (Mesos `shell: false` with a value and its own argv[0]).
    pub program: Option<String>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

pub struct BundleInput<'a> {
    pub config: &'a ContainerConfig,
    pub process: &'a Process,
    pub rootfs: &'a Path,
    pub sandbox_host: &'a Path,
    pub sandbox_in_container: &'a str,
    pub cgroups_path: &'a Path,
    pub contribution: &'a Contribution,
}

/// The annotation naming the program when it differs from args[0]: Mesos' `shell: false` with a `value` execs
/// `value` with `arguments` as the whole argv (busybox applets rely on argv[0]), which OCI `process.args` cannot
/// say on its own.
pub const PROGRAM_ANNOTATION: &str = "ucr.program";

pub fn runtime_spec(b: &BundleInput<'_>) -> Value {
    let cfg = b.config;
    let p = b.process;
    let c = b.contribution;
    let mut namespaces = vec![json!({"type": "uts"}), json!({"type": "mount"})];
    // Mesos `linux_info`: share_pid_namespace and ipc_mode SHARE_PARENT keep the parent's (the host's).
    if !cfg.linux.share_pid_namespace {
        namespaces.push(json!({"type": "pid"}));
    }
    if cfg.linux.ipc_mode.as_deref() != Some(ucr_isolators::filesystem::linux::SHARE_PARENT) {
        namespaces.push(json!({"type": "ipc"}));
    }
    namespaces.extend(c.namespaces.iter().map(to_json));
    // The sandbox first: volumes may name paths under it (Mesos SANDBOX_PATH volumes and relative paths).
    let mut mounts = Vec::new();
    let (before, after): (Vec<_>, Vec<_>) = c.mounts.iter().partition(|m| {
        let d = m.destination();
        !d.starts_with(b.sandbox_in_container)
    });
    mounts.extend(before.into_iter().map(to_json));
    mounts.push(json!({
        "destination": b.sandbox_in_container, "type": "bind",
        "source": b.sandbox_host, "options": ["rbind", "rw"],
    }));
    mounts.extend(after.into_iter().map(to_json));
    let own_netns = c
        .namespaces
        .iter()
        .any(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network);
    let hostname = cfg
        .hostname
        .clone()
        .or_else(|| c.hostname.clone())
        .unwrap_or_else(|| {
            if own_netns {
                short_id(&cfg.id)
            } else {
                host_name()
            }
        });
    let mut annotations = serde_json::Map::new();
    if let Some(prog) = &p.program {
        annotations.insert(PROGRAM_ANNOTATION.into(), prog.clone().into());
    }
    let mut env = p.env.clone();
    for (k, v) in &c.env {
        // An isolator's variable (e.g. MESOS_CONTAINER_IP) is a fact about this launch: it replaces any
        // value of the same name.
        env.retain(|e| e.split_once('=').map(|(n, _)| n) != Some(k.as_str()));
        env.push(format!("{k}={v}"));
    }
    let mut process = json!({
        "terminal": false,
        "user": {"uid": p.uid, "gid": p.gid, "additionalGids": p.additional_gids},
        "args": p.args,
        "env": env,
        "cwd": p.cwd,
        "noNewPrivileges": c.no_new_privileges.unwrap_or(false),
    });
    // Absent capabilities and rlimits mean "inherit", as in Mesos without those isolators.
    if let Some(caps) = &c.capabilities {
        process["capabilities"] = to_json(caps);
    }
    if !c.rlimits.is_empty() {
        process["rlimits"] = Value::Array(c.rlimits.iter().map(to_json).collect());
    }
    let mut resources = serde_json::Map::new();
    if !c.device_rules.is_empty() {
        resources.insert(
            "devices".into(),
            Value::Array(c.device_rules.iter().map(to_json).collect()),
        );
    }
    if let Some(cpu) = &c.cpu {
        resources.insert("cpu".into(), to_json(cpu));
    }
    if let Some(m) = &c.memory {
        resources.insert("memory".into(), to_json(m));
    }
    if let Some(pids) = &c.pids {
        resources.insert("pids".into(), to_json(pids));
    }
    let mut linux = json!({
        "cgroupsPath": b.cgroups_path,
        "resources": resources,
        "namespaces": namespaces,
        "maskedPaths": c.masked_paths,
        "readonlyPaths": c.readonly_paths,
    });
    if !c.devices.is_empty() {
        linux["devices"] = Value::Array(c.devices.iter().map(to_json).collect());
    }
    if let Some(s) = &c.seccomp {
        linux["seccomp"] = to_json(s);
    }
    if !c.sysctl.is_empty() {
        linux["sysctl"] = c
            .sysctl
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect();
    }
    json!({
        "ociVersion": "1.0.2",
        "annotations": annotations,
        "process": process,
        "root": {"path": b.rootfs, "readonly": false},
        "hostname": hostname,
        "mounts": mounts,
        "linux": linux,
    })
}

/// oci-spec's types serialize to the runtime-spec JSON; they cannot fail to (plain data, string keys).
fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// Docker-style short hostname for containers with their own UTS and network namespace.
fn short_id(id: &str) -> String {
    let s: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(63)
        .collect();
    if s.is_empty() {
        "ucr".into()
    } else {
        s
    }
}
