//! The OCI runtime spec (bundle `config.json`) for one container, written as the JSON runc and youki read.
//! Defaults follow `runc spec` (namespaces, /proc /dev /sys mounts, masked and read-only paths), so a bundle
//! of ours and a bundle of runc's differ only where Mesos semantics say they must: the sandbox bind mount,
//! the host network files, an explicit cgroups path under `/ucr`, and the Docker default capabilities.

use std::path::Path;

use serde_json::{json, Value};

use crate::spec::{ContainerConfig, NetworkMode};

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

/// Docker's default capability set: what `docker run` and podman give a container, so images that chown or
/// bind low ports at start work as they do elsewhere.
pub const DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

pub struct BundleInput<'a> {
    pub config: &'a ContainerConfig,
    pub process: &'a Process,
    pub rootfs: &'a Path,
    pub sandbox_host: &'a Path,
    pub sandbox_in_container: &'a str,
    pub cgroups_path: &'a Path,
}

pub fn runtime_spec(b: &BundleInput<'_>) -> Value {
    let cfg = b.config;
    let p = b.process;
    let caps = Value::from(DEFAULT_CAPS.to_vec());
    let mut namespaces = vec![
        json!({"type": "pid"}),
        json!({"type": "ipc"}),
        json!({"type": "uts"}),
        json!({"type": "mount"}),
    ];
    if cfg.network.mode != NetworkMode::Host {
        namespaces.push(json!({"type": "network"}));
    }
    let mut mounts = default_mounts();
    mounts.push(json!({
        "destination": b.sandbox_in_container, "type": "bind",
        "source": b.sandbox_host, "options": ["rbind", "rw"],
    }));
    if cfg.network.mode == NetworkMode::Host {
        // Host network: the task resolves names like the host does (MESOS-SEMANTICS: host network keeps the
        // host's files, read-only).
        for f in ["/etc/resolv.conf", "/etc/hosts", "/etc/hostname"] {
            if Path::new(f).exists() {
                mounts.push(json!({
                    "destination": f, "type": "bind", "source": f, "options": ["bind", "ro", "nosuid", "nodev"],
                }));
            }
        }
    }
    let hostname = cfg
        .hostname
        .clone()
        .unwrap_or_else(|| match cfg.network.mode {
            NetworkMode::Host => host_name(),
            _ => short_id(&cfg.id),
        });
    let mut annotations = serde_json::Map::new();
    if let Some(prog) = &p.program {
        annotations.insert(
            super::executor::PROGRAM_ANNOTATION.into(),
            prog.clone().into(),
        );
    }
    json!({
        "ociVersion": "1.0.2",
        "annotations": annotations,
        "process": {
            "terminal": false,
            "user": {"uid": p.uid, "gid": p.gid, "additionalGids": p.additional_gids},
            "args": p.args,
            "env": p.env,
            "cwd": p.cwd,
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps,
            },
            // Never above the caller's hard limit: these machines cap NOFILE at 20000, and so may users'.
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile_hard(), "soft": nofile_soft()}],
            "noNewPrivileges": true,
        },
        "root": {"path": b.rootfs, "readonly": false},
        "hostname": hostname,
        "mounts": mounts,
        "linux": {
            "cgroupsPath": b.cgroups_path,
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": namespaces,
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    })
}

fn default_mounts() -> Vec<Value> {
    vec![
        json!({"destination": "/proc", "type": "proc", "source": "proc"}),
        json!({"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]}),
        json!({"destination": "/dev/pts", "type": "devpts", "source": "devpts",
               "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]}),
        json!({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
               "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]}),
        json!({"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
               "options": ["nosuid", "noexec", "nodev"]}),
        json!({"destination": "/sys", "type": "sysfs", "source": "sysfs",
               "options": ["nosuid", "noexec", "nodev", "ro"]}),
        json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
               "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
    ]
}

fn nofile_limits() -> (u64, u64) {
    match rustix::process::getrlimit(rustix::process::Resource::Nofile) {
        rustix::process::Rlimit {
            current: Some(s),
            maximum: Some(h),
        } => (s, h),
        rustix::process::Rlimit {
            current: Some(s),
            maximum: None,
        } => (s, 1 << 20),
        _ => (1024, 1 << 20),
    }
}

/// Hard: the caller's hard limit, capped at 1M (what Docker uses).
fn nofile_hard() -> u64 {
    nofile_limits().1.min(1 << 20)
}

/// Soft: 1024 like runc's default, unless the caller's hard limit is lower.
fn nofile_soft() -> u64 {
    1024.min(nofile_hard()).max(nofile_limits().0.min(1024))
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
