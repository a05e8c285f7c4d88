//! The cgroups isolators (`cgroups/cpu`, `cgroups/mem`, `cgroups/pids`, `cgroups/devices`) on cgroup v1 and v2.
//!
//! Limits reach the kernel through the launch: each isolator's `prepare` contributes OCI `linux.resources`
//! values, the bundle carries them, and the isolator set's `place` writes them with [`create`] while it makes
//! the container's cgroups (`/ucr/<id>`), before the init exists; `teardown` kills and removes them. What the OCI values cannot say right on v2 (`cpu.weight` proportional to `cpus`, the
//! device filter) the isolators do in `isolate`, which runs after the init exists and before the task starts. Updates and
//! statistics go through youki's libcgroups (`apply`, `stats`); OOM watching and the few values libcgroups does
//! not report (soft limit, CPU limit) read the cgroup files directly.
//!
//! The v1/v2 difference lives behind [`Hierarchy`] (`hierarchy.rs`): where a controller's files are for a
//! cgroup, and which libcgroups manager serves it. Every path starts from a root, so unit tests run against a
//! fake tree in a tempdir ([`V1::at`], [`V2::at`]); the real one is detected once per process ([`host`]).

pub mod bpf;
pub mod cpu;
pub mod create;
pub mod device_rules;
pub mod devices;
mod dirs;
mod files;
mod limits_v1;
pub mod mem;
pub mod oom;
pub mod pids;
pub mod teardown;

mod hierarchy;
mod host;

use std::path::Path;
use std::sync::Arc;

use libcgroups::common::{CgroupManager, ControllerOpt};
use libcgroups::stats::Stats;
use oci_spec::runtime::LinuxResources;

use crate::error::Result;
pub(crate) use hierarchy::relative;
pub use hierarchy::{cgroup_err, keyed, parse_limit, Controller, Hierarchy, Version, V1, V2};
pub use host::{host, unescape as unescape_mountinfo, HOST_ROOT};

/// Apply `resources` to a running container's cgroup through libcgroups (what `update` does).
pub fn apply(
    h: &dyn Hierarchy,
    isolator: &'static str,
    cgroup: &Path,
    resources: &LinuxResources,
) -> Result<()> {
    let opt = ControllerOpt {
        resources,
        disable_oom_killer: false,
        oom_score_adj: None,
        freezer_state: None,
    };
    h.manager(cgroup)?
        .apply(&opt)
        .map_err(|e| cgroup_err(isolator, cgroup, e))
}

/// Freeze (`pause`) or thaw (`resume`) every process of a cgroup: v1's freezer, v2's `cgroup.freeze`.
pub fn freeze(h: &dyn Hierarchy, cgroup: &Path, frozen: bool) -> Result<()> {
    let state = match frozen {
        true => libcgroups::common::FreezerState::Frozen,
        false => libcgroups::common::FreezerState::Thawed,
    };
    h.manager(cgroup)?
        .freeze(state)
        .map_err(|e| cgroup_err("cgroups", cgroup, e))
}

/// libcgroups' statistics of a cgroup. Units are the kernel's and differ by version (see the users).
pub fn stats(h: &dyn Hierarchy, isolator: &'static str, cgroup: &Path) -> Result<Stats> {
    h.manager(cgroup)?
        .stats()
        .map_err(|e| cgroup_err(isolator, cgroup, e))
}

/// Which hierarchy an isolator works on: the host's (detected lazily), or a given one (tests).
#[derive(Clone, Debug, Default)]
pub enum Tree {
    #[default]
    Host,
    Given(Arc<dyn Hierarchy>),
}

impl Tree {
    pub fn get(&self) -> Result<Arc<dyn Hierarchy>> {
        match self {
            Tree::Host => host(),
            Tree::Given(h) => Ok(h.clone()),
        }
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! Fake cgroup trees in a tempdir for the controller modules' unit tests.
    use super::*;
    use crate::isolator::{Container, Request};
    use crate::vocab::{Limits, LinuxSpec, NetworkSpec, Resources};

    pub fn put(dir: &Path, files: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).expect("mkdir");
        for (name, value) in files {
            std::fs::write(dir.join(name), value).expect("write");
        }
    }

    pub fn get(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).expect("read")
    }

    /// A container `c` in cgroup `/ucr/c`, checkpointing under `state`.
    pub fn container(state: &Path) -> Container<'_> {
        Container {
            id: "c",
            cgroup: Path::new("/ucr/c"),
            state_dir: state,
            sandbox: state,
            sandbox_in_container: "/mnt/mesos/sandbox",
            rootfs: None,
            ephemeral: &[],
        }
    }

    /// Owned request data to borrow a `Request` from.
    #[derive(Default)]
    pub struct Req {
        pub resources: Resources,
        pub limits: Limits,
        pub network: NetworkSpec,
        pub linux: LinuxSpec,
    }

    impl Req {
        pub fn request(&self) -> Request<'_> {
            Request {
                resources: &self.resources,
                limits: &self.limits,
                volumes: &[],
                persistent: &[],
                network: &self.network,
                ports: &[],
                hostname: None,
                rlimits: &[],
                linux: &self.linux,
                uid: 0,
                gid: 0,
            }
        }
    }
}
