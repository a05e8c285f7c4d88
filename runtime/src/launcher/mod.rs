//! The Linux launcher: the thing that starts a container's init from its typed OCI spec (the bundle's
//! `config.json`) and execs the task when the supervisor says so.
//!
//! Roles:
//! - [`plan()`] (supervisor side): checks and decodes the spec into a [`Plan`] before anything exists; what the
//!   launcher does not do it refuses by name (LSM labels, Intel RDT, personality flags, SCMP_ACT_NOTIFY).
//!   `namespaces` decides which namespaces are made, which joined by the init, and which by an intermediate
//!   process (`stage`) that clones the init when a user namespace, a pid or mount namespace given by path, or
//!   a time namespace with clock offsets asks for it.
//! - [`create()`] (`create.rs`): `clone3`s the init into its new namespaces — on cgroup v2 straight into its
//!   cgroup; on v1 the init joins its cgroups itself before anything else — and waits for it to say "ready".
//!   [`clone_init`] is its first half, for a caller that acts once the init exists (a pod's parent lets its
//!   members start). [`Created::start`] lets it exec the task and reports whether the exec happened.
//! - [`join_container`] and [`exec_entered`] (`enter.rs`): another process into a running container (its cgroups,
//!   namespaces and the task's identity from the plan), for COMMAND health checks.
//! - `init`: the init's side, from clone to exec, every step through the [`Launcher`] trait (`os.rs`), the OS
//!   seam: `linux.rs` makes the system calls, a recording fake (`recording.rs`) lets the init's decisions be
//!   unit-tested. `mounts` (with `options`), `dev` and `protect` build its filesystem, `caps` its
//!   capabilities, `seccomp` compiles filters once per profile; paths inside the rootfs are resolved by
//!   `ucr_registry::confined`. With [`Plan::reaper`] the init starts the task last, in a child, and stays as its
//!   reaper (`reaper.rs`), as Mesos's launch helper; without (the OCI mode, a pod's pause) it becomes the task.
//!
//! Why our own and not libcontainer's: its create path re-validates every path through procfs (about 1,800
//! syscalls in the init for our standard spec, 5 ms) and runs an intermediate process whose libcgroups manager
//! rescans mountinfo per controller (3 ms), together most of a start that should take under 10 ms. The four
//! calls once borrowed from it (capabilities, the uid/gid and rlimit switch, `pivot_root`, mount-option
//! parsing) are a few dozen lines over `caps` and rustix here, so libcontainer is no longer linked.

mod caps;
mod clone;
mod create;
mod dev;
mod enter;
mod error;
pub mod hook;
mod idmap;
mod in_place;
mod init;
mod keyring;
mod linux;
mod mounts;
mod namespaces;
mod options;
mod os;
mod plan;
mod protect;
pub mod pty;
mod reaper;
#[cfg(test)]
mod recording;
mod seccomp;
mod stage;

pub use clone::pipe;
pub use create::{clone_init, create, create_waiting, Created};
pub use enter::{exec as exec_entered, join as join_container, Entry, NAMESPACES as ENTER_ORDER};
pub use error::{Failure, LaunchError};
pub use in_place::is_own_pause;
pub use init::Stdio;
pub use linux::Linux;
pub use options::names as mount_option_names;
pub use os::Launcher;
pub use plan::{plan, Cgroups, HookCmd, Plan};
