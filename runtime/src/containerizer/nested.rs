//! Nested containers (Mesos `ContainerID.parent`; a pod's containers): what a launch does differently for a
//! container that lives under another one.
//!
//! - Its id is `<parent>/<name>`; its runtime dir and sandbox are in its parent's (`Paths::runtime`), so they go
//!   when the parent is removed, and a WAIT on it answers from its checkpoint until then, as in Mesos.
//! - Its cgroup is under its parent's: the parent's limits are the envelope; with `share_cgroups` it has no
//!   limits of its own (Mesos's default for a nested container), else its own.
//! - It joins its parent's network and UTS namespaces (the pod's localhost, addresses, ports and hostname) and,
//!   unless its `ipc_mode` is PRIVATE, its IPC namespace and, in a pod, the pod's /dev/shm; in a CNI pod it
//!   sees the pod's name files. It joins a pod's namespaces by the files they are bound to
//!   (`container::pod_ns`), so its parent need not run yet. Its mount namespace is its own; its pid namespace
//!   too, unless `share_pid_namespace` asks for the parent's (joined by the launcher's intermediate, as Mesos's
//!   `linux_info.share_pid_namespace` for a nested container).
//! - `SANDBOX_PATH` volumes of type PARENT (a pod's ephemeral volumes) are directories of the parent's sandbox.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType};
use ucr_isolators::Contribution;

use crate::container::error::{ContainerError, Result};
use crate::container::paths::{cgroup_name, Paths};
use crate::container::records::load;
use crate::container::state::{ContainerState, State};
use crate::spec::{ContainerConfig, Nesting, Volume, VolumeSource};

/// The parent a nested launch stands on: running, with a task whose namespaces can be joined.
pub fn parent_of(paths: &Paths, cfg: &ContainerConfig, n: &Nesting) -> Result<ContainerState> {
    check_id(cfg, n)?;
    let bad = |why: String| ContainerError::launch(&cfg.id, "preparing", why, 125);
    let parent = load(paths, &n.parent).map_err(|_| {
        bad(format!(
            "container_id.parent: container {} does not exist",
            n.parent
        ))
    })?;
    match (parent.state, parent.pid) {
        (State::Running, Some(_)) => Ok(parent),
        (s, _) => Err(bad(format!(
            "container_id.parent: container {} is {}, not running",
            n.parent,
            s.as_str()
        ))),
    }
}

/// A nested container's id is `<parent>/<name>`, its name a valid id.
pub fn check_id(cfg: &ContainerConfig, n: &Nesting) -> Result<()> {
    let name = cfg
        .id
        .strip_prefix(n.parent.as_str())
        .and_then(|r| r.strip_prefix('/'))
        .filter(|r| !r.contains('/'))
        .ok_or_else(|| {
            let why = format!("a nested container's id must be {}/<name>", n.parent);
            ContainerError::launch(&cfg.id, "preparing", why, 125)
        })?;
    crate::spec::validate_id(name)?;
    Ok(())
}

/// The nested container's cgroup: under its parent's.
pub fn cgroup(parent: &ContainerState, id: &str) -> PathBuf {
    let name = id.rsplit('/').next().unwrap_or(id);
    Path::new(&parent.cgroup).join(cgroup_name(name))
}

/// Joins the parent's namespaces: a pod's by their files (`container::pod_ns`), else its task's (by its pid);
/// and, when the parent has a network of its own, binds its name files over the ones the isolators chose.
pub fn join_parent(
    paths: &Paths,
    parent: &ContainerState,
    n: &Nesting,
    c: &mut Contribution,
) -> Result<()> {
    let pod_ns = paths.pod_ns(&parent.id);
    let pinned = crate::container::pod_ns::pinned(&pod_ns);
    let mut kinds = vec![
        (LinuxNamespaceType::Network, "net"),
        (LinuxNamespaceType::Uts, "uts"),
    ];
    if n.share_ipc {
        kinds.push((LinuxNamespaceType::Ipc, "ipc"));
    }
    if n.share_pid {
        kinds.push((LinuxNamespaceType::Pid, "pid"));
    }
    for (typ, file) in kinds {
        c.namespaces.retain(|ns| ns.typ() != typ);
        let path = match (crate::container::pod_ns::joined(&pod_ns, file), parent.pid) {
            (Some(p), _) => p,
            // A pod's network without a file is the host's.
            (None, _) if pinned && typ == LinuxNamespaceType::Network => continue,
            (None, Some(pid)) => PathBuf::from(format!("/proc/{pid}/ns/{file}")),
            (None, None) => {
                let why = format!(
                    "{}: the parent's {file} namespace: its task has not started",
                    n.parent
                );
                return Err(ContainerError::launch(&parent.id, "preparing", why, 125));
            }
        };
        c.namespaces.push(namespace_at(&parent.id, typ, &path)?);
    }
    c.hostname = None;
    let shm = paths.pod_shm(&parent.id);
    if n.share_ipc && shm.is_dir() {
        // POSIX shared memory goes with the IPC namespace (Mesos's SHARE_PARENT): the pod's /dev/shm in place of
        // a tmpfs of the member's own.
        if let Some(m) = c
            .mounts
            .iter_mut()
            .find(|m| m.destination() == Path::new("/dev/shm"))
        {
            m.set_typ(Some("bind".into()));
            m.set_source(Some(shm));
            m.set_options(Some(
                ["rbind", "rw", "nosuid", "nodev", "noexec"]
                    .map(String::from)
                    .to_vec(),
            ));
        }
    }
    let cni = paths.runtime(&parent.id).join("isolators/network-cni");
    for name in ["hostname", "hosts", "resolv.conf"] {
        let file = cni.join(name);
        if !file.is_file() {
            continue;
        }
        let dest = format!("/etc/{name}");
        if let Some(m) = c
            .mounts
            .iter_mut()
            .find(|m| m.destination() == Path::new(&dest))
        {
            m.set_source(Some(file));
        }
    }
    Ok(())
}

/// A namespace of kind `typ` joined at `path`, for `id`'s bundle.
pub fn namespace_at(id: &str, typ: LinuxNamespaceType, path: &Path) -> Result<LinuxNamespace> {
    LinuxNamespaceBuilder::default()
        .typ(typ)
        .path(path)
        .build()
        .map_err(|e| ContainerError::launch(id, "preparing", e.to_string(), 125))
}

/// `SANDBOX_PATH` volumes of type PARENT, made host paths in the parent's sandbox (created, and given to the
/// task's user, when missing).
pub fn parent_volumes(
    paths: &Paths,
    cfg: &ContainerConfig,
    parent: &ContainerState,
    volumes: &mut [Volume],
    uid: u32,
    gid: u32,
) -> Result<()> {
    let base = paths.sandbox(&parent.id);
    for v in volumes.iter_mut() {
        let VolumeSource::SandboxParent { path } = &v.source else {
            continue;
        };
        let at = ucr_isolators::volume::sandbox_path::sandbox_dir(
            &base,
            path,
            &v.container_path,
            uid,
            gid,
        )
        .map_err(|e| ContainerError::launch(&cfg.id, "preparing", e.to_string(), 125))?;
        v.source = VolumeSource::HostPath {
            path: at.to_string_lossy().into_owned(),
        };
    }
    Ok(())
}

/// Marathon's endpoint variables of a pod (`endpointEnvVars` in Marathon's TaskGroupBuilder), from the parent's
/// port mappings as allocated: `ENDPOINT_<NAME>` (the host port on host networking, else the container port),
/// `EP_HOST_<NAME>` and `EP_CONTAINER_<NAME>`. Only for a pod of Marathon's.
pub fn endpoint_env(paths: &Paths, parent: &ContainerState) -> Vec<(String, String)> {
    let Ok(Some(pcfg)) = crate::container::records::config(paths, &parent.id) else {
        return Vec::new();
    };
    if pcfg.source != crate::spec::Source::Marathon {
        return Vec::new();
    }
    let host = pcfg.network.mode == crate::spec::NetworkMode::Host;
    crate::spec::pod::endpoint_env(host, &parent.ports)
}

/// The pod's /dev/shm (`Paths::pod_shm`): a tmpfs on the host, so every member can bind it (a mount of the
/// parent's own mount namespace cannot be bound from another one). Sized as a container's /dev/shm.
pub fn make_pod_shm(paths: &Paths, pod: &str) -> Result<()> {
    use rustix::mount::{mount, MountFlags};
    let dir = paths.pod_shm(pod);
    std::fs::create_dir(&dir).map_err(|e| ContainerError::io(&dir, e))?;
    let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
    mount("shm", &dir, "tmpfs", flags, Some(c"mode=1777,size=65536k"))
        .map_err(|e| ContainerError::io(&dir, e.into()))
}
