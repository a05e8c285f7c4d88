//! The OCI runtime mode: runc's lifecycle over ucr's launcher, for containerd's runc shim (`BinaryName`,
//! `ctr run --runc-binary`) and podman (`--runtime`), which drive an OCI runtime binary by runc's command line.
//! The `ucr-runc` front end (`ucr/src/runc/`) is a thin layer over this module.
//!
//! Roles:
//! - `record`: a container's record in `--root` and its status, read from the kernel each time.
//! - `create`: the cgroup, the init and the early hooks; the init then waits on a FIFO and this process exits,
//!   so the init is re-parented to the caller's reaper (the shim), with no monitor of ours in between — the
//!   opposite of `ucr run`, whose supervisor stays the task's parent, as the model each caller expects.
//! - `lifecycle`: `start`, `kill`, `delete`, `pause`/`resume`, `ps`, `update`, `events --stats`.
//! - `exec`: one more process in the container. `hooks`: the six hook kinds. `console`: `--console-socket`.
//! - `info`: `features`, the `spec` template, signal names. `error`: messages with runc's phrases.
//!
//! Both modes share the launcher (`crate::launcher`): the plan, the init, the mounts, the identity, seccomp.

mod console;
pub mod create;
pub mod error;
pub mod exec;
pub mod hooks;
pub mod info;
pub mod lifecycle;
pub mod record;

pub use create::{create, CreateOptions};
pub use error::{OciError, Result};
pub use exec::{exec, ExecOptions};
pub use lifecycle::{delete, kill, pids, set_paused, start, stats, update};
pub use record::{Record, Root, Status};
