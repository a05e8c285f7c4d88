//! The isolator set: the isolators `--isolation` chose, in launch order, run as one Mesos lifecycle — and the
//! container's cgroup, which every container has whatever isolators run.
//!
//! The order is fixed by the set, not by the flag: the root filesystem's own mounts come before volumes, and
//! network files last, because a mount must follow the mount of its parent path. Cleanup runs in reverse.
//!
//! The cgroup steps live here rather than in one isolator, as Mesos's launcher keeps them apart from the
//! isolators: [`Isolators::place`] makes the container's cgroup with the launch's limits before its init
//! exists, [`Isolators::kill`] kills every process in it, [`Isolators::destroy`] kills what is left, removes
//! the cgroup and runs every isolator's cleanup. Nothing outside this crate touches cgroup files.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;

use crate::cgroups::create::{self, Placement};
use crate::cgroups::{teardown, Tree};
use crate::config::Config;
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};
use crate::names::{build, KNOWN};
use crate::stats::{Limitation, ResourceStatistics};
use crate::vocab::{Limits, NetworkMode, Resources, VolumeSource};

/// The chosen isolators, in launch order, and the cgroup tree containers are placed in.
pub struct Isolators {
    list: Vec<Box<dyn Isolator>>,
    tree: Tree,
}

impl Isolators {
    pub fn new(names: &[String], config: &Config) -> Result<Self> {
        let unknown = |name: &str| IsolatorError::Unknown {
            name: name.to_string(),
            known: KNOWN.join(", "),
        };
        if let Some(n) = names.iter().find(|n| !KNOWN.contains(&n.as_str())) {
            return Err(unknown(n));
        }
        let mut list = Vec::new();
        for name in KNOWN.iter().filter(|k| names.iter().any(|n| n == *k)) {
            list.push(build(name, config).ok_or_else(|| unknown(name))?);
        }
        Ok(Isolators {
            list,
            tree: Tree::Host,
        })
    }

    /// The same set placing containers in another cgroup tree (a fake one in a tempdir, in tests).
    pub fn with_tree(self, tree: Tree) -> Self {
        Isolators { tree, ..self }
    }

    /// Make the container's cgroup in every hierarchy and write `resources` (the launch's `linux.resources`)
    /// into it, before its init exists, so the task never runs unlimited. The init joins it as it starts
    /// ([`Placement`]). Idempotent on an existing cgroup; a failure removes what it made.
    pub fn place(&self, c: &Container<'_>, resources: &LinuxResources) -> Result<Placement> {
        create::create(self.tree.get()?.as_ref(), c.cgroup, resources)
    }

    /// The directories of the container's existing cgroup, each with its hierarchy's mount point (as
    /// [`Placement::dirs`]), for a process that joins it (`ucr exec`); nothing is made or written.
    pub fn cgroup_dirs(&self, c: &Container<'_>) -> Result<Vec<(PathBuf, PathBuf)>> {
        create::existing(self.tree.get()?.as_ref(), c.cgroup)
    }

    /// SIGKILL every process in the container's cgroup, frozen first so none forks away (v2: `cgroup.kill`).
    pub fn kill(&self, c: &Container<'_>) -> Result<()> {
        let h = self.tree.get()?;
        teardown::thaw_parents(h.as_ref(), c.cgroup, c.depth())?;
        teardown::kill(h.as_ref(), c.cgroup)
    }

    /// Every process in the container's cgroup or below it (a pod's members), each once, by pid.
    pub fn processes(&self, c: &Container<'_>) -> Result<Vec<i32>> {
        teardown::members(self.tree.get()?.as_ref(), c.cgroup)
    }

    /// Send `signal` to every process in the container's cgroup (the kill policy's SIGTERM) but the pids in
    /// `except` (the runtime's reapers, which would pass it on to their tasks a second time).
    pub fn signal(&self, c: &Container<'_>, signal: i32, except: &[i32]) -> Result<()> {
        teardown::signal(self.tree.get()?.as_ref(), c.cgroup, signal, except)
    }

    /// The container's end: kill every process left, remove its cgroup, then every isolator's cleanup in
    /// reverse order. Every step runs even if one before failed; the first error is returned. Tolerates a
    /// container that was never placed or only partly prepared, and runs again after a crash midway.
    pub fn destroy(&self, c: &Container<'_>) -> Result<()> {
        let removed = self.tree.get().and_then(|h| {
            teardown::thaw_parents(h.as_ref(), c.cgroup, c.depth())?;
            teardown::destroy(h.as_ref(), c.cgroup)?;
            // A nested container's parent cgroup is its parent container's (a pod's envelope), which may be empty
            // only because the parent's init has not joined it yet: it goes with the parent, never with a child.
            if !c.is_nested() {
                teardown::remove_parent(h.as_ref(), c.cgroup);
            }
            Ok(())
        });
        if let Err(e) = &removed {
            tracing::warn!(error = %e, "cgroup teardown");
        }
        let cleaned = self.cleanup(c);
        removed.and(cleaned)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.list.iter().map(|i| i.name()).collect()
    }

    fn enabled(&self, name: &str) -> bool {
        self.list.iter().any(|i| i.name() == name)
    }

    /// Refuse a request that needs an isolator the operator left out, instead of silently ignoring part of it.
    fn check_request(&self, c: &Container<'_>, r: &Request<'_>) -> Result<()> {
        let need = |what: String, isolator: &'static str| -> Result<()> {
            if self.enabled(isolator) {
                Ok(())
            } else {
                Err(IsolatorError::NotEnabled { what, isolator })
            }
        };
        if c.rootfs.is_some() {
            need("a container image".into(), "filesystem/linux")?;
        } else {
            // On the host's root, mounts exist only in the private mount namespace filesystem/linux gives.
            for v in r.volumes {
                let what = format!("volume {} of a task without an image", v.container_path);
                need(what, "filesystem/linux")?;
            }
            if r.network.mode != NetworkMode::Host {
                need(
                    "a network namespace's name files for a task without an image".into(),
                    "filesystem/linux",
                )?;
            }
        }
        for v in r.volumes {
            match &v.source {
                VolumeSource::HostPath { path } => need(
                    format!("volume {} from host path {path}", v.container_path),
                    "volume/host_path",
                )?,
                VolumeSource::SandboxSelf { .. } | VolumeSource::SandboxParent { .. } => need(
                    format!("sandbox volume {}", v.container_path),
                    "volume/sandbox_path",
                )?,
            }
        }
        match &r.network.mode {
            NetworkMode::Host => {}
            NetworkMode::None => need("network mode none".into(), "network/cni")?,
            NetworkMode::Cni(n) => need(format!("network {n}"), "network/cni")?,
        }
        Ok(())
    }

    /// Prepare every isolator in order. If one fails, the ones already prepared are cleaned up (in reverse)
    /// before the error is returned, so a failed prepare leaves nothing behind.
    pub fn prepare(&self, c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        self.check_request(c, r)?;
        let mut all = Contribution::default();
        for (n, iso) in self.list.iter().enumerate() {
            match iso.prepare(c, r) {
                Ok(part) => all.merge(part),
                Err(e) => {
                    for done in self.list[..=n].iter().rev() {
                        if let Err(ce) = done.cleanup(c) {
                            tracing::warn!(isolator = done.name(), error = %ce, "cleanup after failed prepare");
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(all)
    }

    pub fn isolate(&self, c: &Container<'_>, pid: i32) -> Result<()> {
        self.list.iter().try_for_each(|i| i.isolate(c, pid))
    }

    pub fn recover(&self, c: &Container<'_>) -> Result<()> {
        self.list.iter().try_for_each(|i| i.recover(c))
    }

    /// The fds the supervisor polls for limitations.
    pub fn watch_fds(&self, c: &Container<'_>) -> Result<Vec<OwnedFd>> {
        let mut fds = Vec::new();
        for i in &self.list {
            fds.extend(i.watch_fd(c)?);
        }
        Ok(fds)
    }

    /// The first limitation any isolator reports.
    pub fn watch(&self, c: &Container<'_>, exited: bool) -> Option<Limitation> {
        self.list.iter().find_map(|i| i.watch(c, exited))
    }

    pub fn update(&self, c: &Container<'_>, resources: &Resources, limits: &Limits) -> Result<()> {
        self.list
            .iter()
            .try_for_each(|i| i.update(c, resources, limits))
    }

    pub fn usage(&self, c: &Container<'_>) -> Result<ResourceStatistics> {
        let mut stats = ResourceStatistics {
            timestamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default(),
            ..Default::default()
        };
        for i in &self.list {
            i.usage(c, &mut stats)?;
        }
        Ok(stats)
    }

    /// Clean up every isolator in reverse order; all run even if one fails, and the first error is returned.
    pub fn cleanup(&self, c: &Container<'_>) -> Result<()> {
        let mut first = None;
        for i in self.list.iter().rev() {
            if let Err(e) = i.cleanup(c) {
                tracing::warn!(isolator = i.name(), error = %e, "cleanup");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::*;
    use crate::cgroups::{Hierarchy, V1};

    fn container<'a>(id: &'a str, cgroup: &'a Path, dir: &'a Path) -> Container<'a> {
        Container {
            id,
            cgroup,
            state_dir: dir,
            sandbox: dir,
            sandbox_in_container: "/mnt/mesos/sandbox",
            rootfs: None,
            ephemeral: &[],
        }
    }

    /// A pod's member torn down while the pod's cgroup is still empty (its parent's init not in it yet, as
    /// during the pod's launch) leaves that cgroup to the parent; a top-level container's teardown removes the
    /// instance's cgroup it leaves empty.
    #[test]
    fn a_nested_containers_teardown_leaves_its_parents_cgroup() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let h = Arc::new(V1::at(tmp.path()));
        let set = Isolators::new(&[], &Config::default())
            .expect("no isolators")
            .with_tree(Tree::Given(h.clone()));
        let (pod, member) = (Path::new("/ucr/i1/pod"), Path::new("/ucr/i1/pod/a"));
        for d in h.all_dirs(member).expect("dirs") {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        set.destroy(&container("pod/a", member, tmp.path()))
            .expect("the member's teardown");
        for d in h.all_dirs(pod).expect("dirs") {
            assert!(d.is_dir(), "{} went with the member", d.display());
        }
        set.destroy(&container("pod", pod, tmp.path()))
            .expect("the pod's teardown");
        for d in h.all_dirs(Path::new("/ucr/i1")).expect("dirs") {
            assert!(!d.exists(), "{} is left empty", d.display());
        }
    }
}
