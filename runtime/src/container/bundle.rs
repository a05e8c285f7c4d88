//! The OCI runtime spec (bundle `config.json`) of one container, built with oci-spec's typed builders and read
//! back by the supervisor as the same `Spec` type, so the limits, mounts and identity the isolators decided
//! reach the launcher without passing through hand-written JSON.
//!
//! The containerizer owns only the frame: the process, the root, the pid/ipc/uts/mount namespaces, the
//! explicit cgroups path under `/ucr`, the sandbox bind mount and annotations. Everything else (the /proc, /dev
//! and /sys mounts, volumes, cgroup resources, devices, rlimits, capabilities, seccomp, the network namespace
//! and its files) is what the enabled isolators contributed, so `--isolation` really decides what a container
//! gets.
//!
//! oci-spec's builders fill every field left unset with the type's `Default` (default capabilities, a NOFILE
//! rlimit, runc's masked paths, ...); here every such field is set explicitly, and the two that must be absent
//! when no isolator contributed them (capabilities and rlimits mean "inherit" then, as in Mesos without those
//! isolators) are cleared after the build.

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{
    BoxBuilder, LinuxBuilder, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType,
    LinuxResourcesBuilder, Mount, MountBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};
use oci_spec::OciSpecError;
use ucr_isolators::Contribution;

use crate::process::{Process, View};
use crate::spec::{ContainerConfig, Tty};

pub struct BundleInput<'a> {
    pub config: &'a ContainerConfig,
    pub process: &'a Process,
    /// None: the task runs on the host's root (no image).
    pub rootfs: Option<&'a Path>,
    pub sandbox_host: &'a Path,
    pub sandbox_in_container: &'a str,
    pub cgroups_path: &'a Path,
    pub contribution: &'a Contribution,
}

/// The annotation naming the program when it differs from `args[0]`: Mesos' `shell: false` with a `value` execs
/// `value` with `arguments` as the whole argv (busybox applets rely on `argv[0]`), which OCI `process.args` cannot
/// say on its own.
pub const PROGRAM_ANNOTATION: &str = "ucr.program";

fn namespace(typ: LinuxNamespaceType) -> Result<LinuxNamespace, OciSpecError> {
    LinuxNamespaceBuilder::default().typ(typ).build()
}

pub fn runtime_spec(b: &BundleInput<'_>) -> Result<Spec, OciSpecError> {
    let cfg = b.config;
    let p = b.process;
    let c = b.contribution;
    let mut namespaces = vec![namespace(LinuxNamespaceType::Uts)?];
    // A task without an image has its own mounts only when filesystem/linux asked for them (Mesos: without it
    // such a task shares the agent's mount namespace), and then no pid namespace either: a new one without a
    // fresh /proc would show it the host's processes as its own.
    let own_mounts = b.rootfs.is_some() || c.mount_namespace;
    if own_mounts {
        namespaces.push(namespace(LinuxNamespaceType::Mount)?);
    }
    // Mesos `linux_info`: share_pid_namespace and ipc_mode SHARE_PARENT keep the parent's (the host's).
    if !cfg.linux.share_pid_namespace && own_mounts {
        namespaces.push(namespace(LinuxNamespaceType::Pid)?);
    }
    if cfg.linux.ipc_mode.as_deref() != Some(ucr_isolators::filesystem::linux::SHARE_PARENT) {
        namespaces.push(namespace(LinuxNamespaceType::Ipc)?);
    }
    // An isolator's or a parent's namespace joined by path takes the place of a new one of its kind.
    for n in &c.namespaces {
        namespaces.retain(|m| m.typ() != n.typ());
        namespaces.push(n.clone());
    }
    // The sandbox first: volumes may name paths under it (Mesos SANDBOX_PATH volumes and relative paths).
    let (before, after): (Vec<&Mount>, Vec<&Mount>) = c
        .mounts
        .iter()
        .partition(|m| !m.destination().starts_with(b.sandbox_in_container));
    let sandbox = MountBuilder::default()
        .destination(b.sandbox_in_container)
        .typ("bind")
        .source(b.sandbox_host)
        .options(vec!["rbind".to_string(), "rw".to_string()])
        .build()?;
    // On the host's root the sandbox is already where the task sees it, unless a mount covers it (a private /tmp
    // over a sandbox under /tmp): then it is bound again at its own path.
    let covered = before
        .iter()
        .any(|m| b.sandbox_host.starts_with(m.destination()));
    let rebind = b.rootfs.is_some() || covered;
    let mounts: Vec<Mount> = before
        .into_iter()
        .cloned()
        .chain(rebind.then_some(sandbox))
        .chain(after.into_iter().cloned())
        .collect();
    let hostname = hostname(cfg, c);
    let mut annotations = HashMap::new();
    if let Some(prog) = &p.program {
        annotations.insert(PROGRAM_ANNOTATION.to_string(), prog.clone());
    }
    // Secret env values never reach the bundle: the supervisor adds them from the container's secrets
    // (`containerizer::secrets`).
    let secret = |e: &String| {
        let name = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        cfg.task_secret_env().any(|(n, _)| n == name)
    };
    let mut env: Vec<String> = p.env.iter().filter(|e| !secret(e)).cloned().collect();
    for (k, v) in &c.env {
        // An isolator's variable (e.g. MESOS_CONTAINER_IP) is a fact about this launch: it replaces any value of
        // the same name.
        env.retain(|e| e.split_once('=').map(|(n, _)| n) != Some(k.as_str()));
        env.push(format!("{k}={v}"));
    }
    // A terminal gets TERM as `docker run -t` gives it, unless the request set one.
    if cfg.tty.is_some() && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    let user = UserBuilder::default()
        .uid(p.uid)
        .gid(p.gid)
        .additional_gids(p.additional_gids.clone())
        .build()?;
    let mut process = ProcessBuilder::default()
        .terminal(cfg.tty.is_some())
        .user(user)
        .args(p.args.clone())
        .env(env)
        .cwd(&p.cwd)
        .no_new_privileges(c.no_new_privileges.unwrap_or(false))
        .build()?;
    if let Some(Tty {
        rows: Some(h),
        columns: Some(w),
    }) = cfg.tty
    {
        process.set_console_size(Some(
            BoxBuilder::default()
                .height(u64::from(h))
                .width(u64::from(w))
                .build()?,
        ));
    }
    // Absent capabilities and rlimits mean "inherit", as in Mesos without those isolators.
    process.set_capabilities(c.capabilities.clone());
    process.set_rlimits((!c.rlimits.is_empty()).then(|| c.rlimits.clone()));
    let mut resources = LinuxResourcesBuilder::default();
    if !c.device_rules.is_empty() {
        resources = resources.devices(c.device_rules.clone());
    }
    if let Some(cpu) = &c.cpu {
        resources = resources.cpu(cpu.clone());
    }
    if let Some(m) = &c.memory {
        resources = resources.memory(*m);
    }
    if let Some(pids) = &c.pids {
        resources = resources.pids(*pids);
    }
    let mut linux = LinuxBuilder::default()
        .cgroups_path(b.cgroups_path)
        .resources(resources.build()?)
        .namespaces(namespaces)
        .masked_paths(c.masked_paths.clone())
        .readonly_paths(c.readonly_paths.clone());
    // Nodes to make in the container's own /dev; on the host's root the host's /dev has them, and the device
    // cgroup rules (above) still decide which may be used.
    if b.rootfs.is_none() {
        linux = linux.devices(Vec::new());
    } else if !c.devices.is_empty() {
        linux = linux.devices(c.devices.clone());
    }
    if let Some(s) = &c.seccomp {
        linux = linux.seccomp(s.clone());
    }
    if !c.sysctl.is_empty() {
        linux = linux.sysctl(c.sysctl.iter().cloned().collect::<HashMap<_, _>>());
    }
    let mut spec = SpecBuilder::default()
        .version("1.0.2")
        .annotations(annotations)
        .process(process)
        .hostname(hostname)
        .mounts(mounts)
        .linux(linux.build()?)
        .build()?;
    // No `root`: the runtime-spec's way of saying the process keeps the runtime's root (the host's).
    spec.set_root(
        b.rootfs
            .map(|r| {
                RootBuilder::default()
                    .path(r)
                    .readonly(c.readonly_root)
                    .build()
            })
            .transpose()?,
    );
    Ok(spec)
}

/// What the task of `spec` will see at a path before it starts: its root (the host's without one) with the
/// spec's mounts over it, a bind showing its source (`process::view`).
pub fn view(spec: &Spec) -> View {
    let root = spec
        .root()
        .as_ref()
        .map_or(Path::new("/"), |r| r.path().as_path());
    let mut view = View::new(root);
    for m in spec.mounts().iter().flatten() {
        let bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        let dest = m.destination().to_string_lossy();
        view.mount(&dest, m.source().as_deref().filter(|_| bind));
    }
    view
}

/// Names `program` in `spec` as the one to exec ([`PROGRAM_ANNOTATION`]), or none but `args[0]`.
pub fn set_program(spec: &mut Spec, program: Option<&str>) {
    let mut annotations = spec.annotations().clone().unwrap_or_default();
    match program {
        Some(p) => annotations.insert(PROGRAM_ANNOTATION.to_string(), p.to_string()),
        None => annotations.remove(PROGRAM_ANNOTATION),
    };
    spec.set_annotations(Some(annotations));
}

/// The container's hostname: the request's, else an isolator's, else its short id when it has a network
/// namespace of its own, else the host's.
pub fn hostname(cfg: &ContainerConfig, c: &Contribution) -> String {
    let own_netns = c
        .namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network);
    cfg.hostname
        .clone()
        .or_else(|| c.hostname.clone())
        .unwrap_or_else(|| {
            if own_netns {
                short_id(&cfg.id)
            } else {
                host_name()
            }
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxCapabilities, PosixRlimitBuilder, PosixRlimitType};

    fn process() -> Process {
        Process {
            executable: "sh".into(),
            program: Some("/bin/busybox".into()),
            args: vec!["sh".into(), "-c".into(), "true".into()],
            env: vec!["PATH=/bin".into(), "MESOS_CONTAINER_IP=old".into()],
            cwd: "/work".into(),
            uid: 1000,
            gid: 1000,
            additional_gids: vec![10],
        }
    }

    fn spec_of(c: &Contribution) -> Spec {
        let cfg = ContainerConfig {
            id: "web-1".into(),
            ..ContainerConfig::default()
        };
        let p = process();
        runtime_spec(&BundleInput {
            config: &cfg,
            process: &p,
            rootfs: Some(Path::new("/r/rootfs")),
            sandbox_host: Path::new("/w/sandbox"),
            sandbox_in_container: "/mnt/mesos/sandbox",
            cgroups_path: Path::new("/ucr/web-1"),
            contribution: c,
        })
        .expect("spec")
    }

    #[test]
    fn nothing_but_the_frame_and_what_isolators_contributed() {
        let spec = spec_of(&Contribution::default());
        let proc_ = spec.process().as_ref().expect("process");
        // No isolator contributed capabilities or rlimits: absent ("inherit"), not oci-spec's defaults.
        assert!(proc_.capabilities().is_none());
        assert!(proc_.rlimits().is_none());
        assert_eq!(proc_.user().uid(), 1000);
        assert_eq!(proc_.cwd(), Path::new("/work"));
        let linux = spec.linux().as_ref().expect("linux");
        assert_eq!(linux.masked_paths().as_deref(), Some(&[][..]));
        assert!(linux.seccomp().is_none() && linux.devices().is_none());
        assert_eq!(
            linux.cgroups_path().as_deref(),
            Some(Path::new("/ucr/web-1"))
        );
        let types: Vec<_> = linux
            .namespaces()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|n| n.typ())
            .collect();
        assert_eq!(
            types,
            [
                LinuxNamespaceType::Uts,
                LinuxNamespaceType::Mount,
                LinuxNamespaceType::Pid,
                LinuxNamespaceType::Ipc
            ]
        );
        let mounts = spec.mounts().as_deref().unwrap_or_default();
        assert_eq!(mounts.len(), 1, "only the sandbox");
        assert_eq!(
            spec.annotations()
                .as_ref()
                .and_then(|a| a.get(PROGRAM_ANNOTATION))
                .map(String::as_str),
            Some("/bin/busybox")
        );
        let root = spec.root().as_ref().expect("root");
        assert_eq!(root.readonly(), Some(false));
    }

    #[test]
    fn contributions_reach_the_spec_and_survive_a_round_trip() {
        let c = Contribution {
            capabilities: Some(LinuxCapabilities::default()),
            rlimits: vec![PosixRlimitBuilder::default()
                .typ(PosixRlimitType::RlimitNofile)
                .soft(10u64)
                .hard(20u64)
                .build()
                .expect("rlimit")],
            env: vec![("MESOS_CONTAINER_IP".into(), "10.0.0.2".into())],
            mounts: vec![MountBuilder::default()
                .destination("/mnt/mesos/sandbox/data")
                .typ("bind")
                .source("/srv")
                .build()
                .expect("mount")],
            ..Contribution::default()
        };
        let spec = spec_of(&c);
        let dests: Vec<_> = spec
            .mounts()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect();
        assert_eq!(dests, ["/mnt/mesos/sandbox", "/mnt/mesos/sandbox/data"]);
        let env = spec
            .process()
            .as_ref()
            .and_then(|p| p.env().clone())
            .unwrap_or_default();
        assert!(env.contains(&"MESOS_CONTAINER_IP=10.0.0.2".to_string()));
        assert!(!env.contains(&"MESOS_CONTAINER_IP=old".to_string()));
        let json = serde_json::to_string(&spec).expect("json");
        let back: Spec = serde_json::from_str(&json).expect("read back");
        assert_eq!(back, spec);
    }
}
