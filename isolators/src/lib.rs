//! ucr-isolators — container isolation, nothing about images.
//!
//! Roles (Mesos's isolator lifecycle: recover, prepare, isolate, watch, update, usage, cleanup):
//! - **the lifecycle** (`isolator`): the `Isolator` trait, what flows through it, and the ordered set that
//!   `--isolation` selects by Mesos name (`names`, `set`), which also places, kills and destroys the
//!   container's cgroup. Each isolator has its own small config; `config` is their sum.
//! - **cgroups**: `cgroups/cpu`, `cgroups/mem` (with the OOM watch), `cgroups/pids`, `cgroups/devices`, on cgroup v1
//!   and v2 behind one interface (youki's libcgroups for statistics and updates).
//! - **filesystem**: `filesystem/linux` (/proc, /sys, /dev, shm, masked paths, host network files) and the volume
//!   isolators `volume/host_path` and `volume/sandbox_path`.
//! - **process limits**: `posix/rlimits`, `linux/capabilities`, `linux/seccomp`.
//! - **disk**: `disk/du`, what a container writes measured against its `disk` resource (`posix::disk`).
//! - **network**: `network/cni` (none and named CNI networks, port mappings); host networking needs no isolator.
//!
//! The request vocabulary (`vocab`) lives here so isolators and the runtime share one definition. This crate
//! never depends on `ucr-registry`; `ucr-runtime` composes both.

pub mod cgroups;
pub mod config;
pub mod error;
pub mod filesystem;
pub mod isolator;
pub mod linux;
pub mod names;
pub mod network;
pub mod orphans;
pub mod posix;
pub mod set;
pub mod stats;
pub mod vocab;
pub mod volume;

pub use cgroups::cpu::CpuConfig;
pub use cgroups::create::Placement;
pub use cgroups::pids::PidsConfig;
pub use config::Config;
pub use error::{IsolatorError, Result};
pub use isolator::{Container, Contribution, Isolator, Request};
pub use linux::seccomp::SeccompConfig;
pub use names::{default_names, parse_isolation, KNOWN};
pub use network::cni::CniConfig;
pub use orphans::{cgroup_children, destroy_cgroup};
pub use posix::disk::DiskConfig;
pub use set::Isolators;
pub use stats::{Limitation, LimitedResource, ResourceStatistics};
