//! The `Isolator` trait (Mesos's isolator lifecycle) and what flows through it: the container's places
//! (`Container`), what it asked for (`Request`), and what an isolator adds to its launch (`Contribution`).
//!
//! Every method has a no-op default, so a module implements only the steps it takes part in. An isolator keeps
//! no memory between calls: whatever it must know later (a CNI result, a netns path) it checkpoints under
//! `Container::state_dir`, because `cleanup`, `usage` and `update` run in later processes (the CLI, the agent
//! after a restart) than `prepare` did.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    LinuxCapabilities, LinuxCpu, LinuxDevice, LinuxDeviceCgroup, LinuxMemory, LinuxNamespace,
    LinuxPids, LinuxSeccomp, Mount, PosixRlimit,
};

use crate::error::Result;
use crate::stats::{Limitation, ResourceStatistics};
use crate::vocab::{
    Limits, LinuxSpec, NetworkSpec, PersistentDisk, PortMapping, Resources, Rlimit, Volume,
};

/// Where one container lives. Paths are absolute on the host; the cgroup path is relative to each hierarchy's
/// root (v1) or to the unified root (v2), exactly as the OCI bundle's `cgroupsPath`.
#[derive(Clone, Copy, Debug)]
pub struct Container<'a> {
    /// A nested container's is `<parent>/<name>`: its cgroup is a child of its parent's.
    pub id: &'a str,
    /// e.g. `/ucr/<id>`.
    pub cgroup: &'a Path,
    /// The container's runtime dir (`<runtime-dir>/containers/<id>`); isolators checkpoint under
    /// `state_dir/isolators/<module>/`.
    pub state_dir: &'a Path,
    /// The host side of the sandbox, and where it appears inside the container.
    pub sandbox: &'a Path,
    pub sandbox_in_container: &'a str,
    /// The provisioned root filesystem (None when the container has no image).
    pub rootfs: Option<&'a Path>,
    /// Everything the container writes that its `disk` resource counts (Mesos's sandbox and
    /// `ephemeral_volumes`): its work directory (its sandbox and its nested containers' sandboxes) and its root
    /// filesystem's writable part (an overlay's upper and work dirs, or a copied rootfs whole).
    pub ephemeral: &'a [PathBuf],
}

impl Container<'_> {
    /// Whether it is nested in another container (see `id`).
    pub fn is_nested(&self) -> bool {
        self.depth() > 0
    }

    /// How many containers it is nested in: the containers whose cgroups are its cgroup's nearest parents.
    pub fn depth(&self) -> usize {
        self.id.matches('/').count()
    }

    /// The directory where `module` keeps its checkpoint for this container.
    pub fn module_dir(&self, module: &str) -> PathBuf {
        self.state_dir
            .join("isolators")
            .join(module.replace('/', "-"))
    }
}

/// What the container asked for, borrowed from the runtime's checkpointed config.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub resources: &'a Resources,
    pub limits: &'a Limits,
    pub volumes: &'a [Volume],
    /// The persistent volumes among `volumes` that have a size (`disk/du` measures each against it).
    pub persistent: &'a [PersistentDisk],
    pub network: &'a NetworkSpec,
    /// Host ports allocated to the container (hostPort 0 already replaced).
    pub ports: &'a [PortMapping],
    pub hostname: Option<&'a str>,
    pub rlimits: &'a [Rlimit],
    pub linux: &'a LinuxSpec,
    /// The uid/gid the task runs as (ownership of things made for it, e.g. /dev/shm).
    pub uid: u32,
    pub gid: u32,
}

/// What isolators add to a launch, merged in isolator order: lists are appended, single values are set by the
/// last isolator that sets them. The runtime folds the merge into the OCI bundle.
#[derive(Clone, Debug, Default)]
pub struct Contribution {
    /// Mounts, in order (a mount must come after the mount of any parent path).
    pub mounts: Vec<Mount>,
    /// Namespaces beyond the launcher's own (pid, ipc, uts, mount), e.g. a network namespace by path.
    pub namespaces: Vec<LinuxNamespace>,
    pub cpu: Option<LinuxCpu>,
    pub memory: Option<LinuxMemory>,
    pub pids: Option<LinuxPids>,
    /// Device cgroup rules, in order (the kernel applies the last match).
    pub device_rules: Vec<LinuxDeviceCgroup>,
    /// Device nodes to create in the container's /dev.
    pub devices: Vec<LinuxDevice>,
    pub rlimits: Vec<PosixRlimit>,
    pub capabilities: Option<LinuxCapabilities>,
    pub seccomp: Option<LinuxSeccomp>,
    pub no_new_privileges: Option<bool>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// The root filesystem mounted read-only.
    pub readonly_root: bool,
    /// A mount namespace of its own for a task without an image (`filesystem/linux` asks for it; a container
    /// with an image always has one). Without it such a task shares the host's mounts and can have none.
    pub mount_namespace: bool,
    pub env: Vec<(String, String)>,
    pub hostname: Option<String>,
    pub sysctl: Vec<(String, String)>,
    /// Facts for `inspect` and the container status (e.g. `ip_addresses`), by isolator.
    pub status: Vec<(String, serde_json::Value)>,
}

impl Contribution {
    pub fn merge(&mut self, other: Contribution) {
        self.mounts.extend(other.mounts);
        self.namespaces.extend(other.namespaces);
        self.cpu = other.cpu.or(self.cpu.take());
        self.memory = other.memory.or(self.memory.take());
        self.pids = other.pids.or(self.pids.take());
        self.device_rules.extend(other.device_rules);
        self.devices.extend(other.devices);
        self.rlimits.extend(other.rlimits);
        self.capabilities = other.capabilities.or(self.capabilities.take());
        self.seccomp = other.seccomp.or(self.seccomp.take());
        self.no_new_privileges = other.no_new_privileges.or(self.no_new_privileges);
        self.masked_paths.extend(other.masked_paths);
        self.readonly_paths.extend(other.readonly_paths);
        self.readonly_root |= other.readonly_root;
        self.mount_namespace |= other.mount_namespace;
        self.env.extend(other.env);
        self.hostname = other.hostname.or(self.hostname.take());
        self.sysctl.extend(other.sysctl);
        self.status.extend(other.status);
    }
}

/// One isolator: a Mesos isolator module (`cgroups/mem`, `network/cni`, ...).
pub trait Isolator: Send + Sync {
    /// The Mesos name, as given to `--isolation`.
    fn name(&self) -> &'static str;

    /// After a restart: check what was checkpointed for a container that is still known.
    fn recover(&self, _c: &Container<'_>) -> Result<()> {
        Ok(())
    }

    /// Before the container exists: decide and set up what it needs; return what the launch must include.
    fn prepare(&self, _c: &Container<'_>, _r: &Request<'_>) -> Result<Contribution> {
        Ok(Contribution::default())
    }

    /// The container's init exists (pid on the host) and has not yet run the task.
    fn isolate(&self, _c: &Container<'_>, _pid: i32) -> Result<()> {
        Ok(())
    }

    /// An fd that becomes readable when a limitation may have been reached (the supervisor polls it and then
    /// calls `watch`). None when this isolator has nothing to watch.
    fn watch_fd(&self, _c: &Container<'_>) -> Result<Option<OwnedFd>> {
        Ok(None)
    }

    /// Has the container hit a limit it must die for? Called when a `watch_fd` fires, and once the task has
    /// exited (`exited`), when only a limit the kernel acted on (an OOM kill) can have ended it.
    fn watch(&self, _c: &Container<'_>, _exited: bool) -> Option<Limitation> {
        None
    }

    /// Change the resources of a running container.
    fn update(&self, _c: &Container<'_>, _resources: &Resources, _limits: &Limits) -> Result<()> {
        Ok(())
    }

    /// Fill in this isolator's part of the container's statistics.
    fn usage(&self, _c: &Container<'_>, _stats: &mut ResourceStatistics) -> Result<()> {
        Ok(())
    }

    /// Undo everything `prepare`/`isolate` did. Must tolerate unknown containers and a partial prepare, and be
    /// idempotent: it runs again after a crash in the middle of a cleanup.
    fn cleanup(&self, _c: &Container<'_>) -> Result<()> {
        Ok(())
    }
}

/// Owned request data for unit tests of isolator modules.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use crate::vocab::NetworkSpec;

    #[derive(Default)]
    pub struct Req {
        pub resources: Resources,
        pub limits: Limits,
        pub volumes: Vec<Volume>,
        pub persistent: Vec<PersistentDisk>,
        pub network: NetworkSpec,
        pub rlimits: Vec<Rlimit>,
        pub linux: LinuxSpec,
        pub uid: u32,
    }

    impl Req {
        pub fn request(&self) -> Request<'_> {
            Request {
                resources: &self.resources,
                limits: &self.limits,
                volumes: &self.volumes,
                persistent: &self.persistent,
                network: &self.network,
                ports: &[],
                hostname: None,
                rlimits: &self.rlimits,
                linux: &self.linux,
                uid: self.uid,
                gid: self.uid,
            }
        }
    }

    pub fn request_with_rlimits(r: &[Rlimit]) -> Req {
        Req {
            rlimits: r.to_vec(),
            ..Default::default()
        }
    }

    pub fn container() -> Container<'static> {
        Container {
            id: "c",
            cgroup: Path::new("/ucr/c"),
            state_dir: Path::new("/nonexistent/state"),
            sandbox: Path::new("/nonexistent/sandbox"),
            sandbox_in_container: "/mnt/mesos/sandbox",
            rootfs: Some(Path::new("/nonexistent/rootfs")),
            ephemeral: &[],
        }
    }
}
