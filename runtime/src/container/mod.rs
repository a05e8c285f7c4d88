//! The containerizer: one container's lifecycle from a `ContainerConfig` to its termination, with every
//! transition checkpointed under the runtime dir so any later process can see and act on it.
//!
//! - `launch`: the caller's half (claim id, provision, bundle, fetch, start the supervisor);
//! - `supervisor`: the per-container single-threaded process that runs the bundle with `crate::launcher` and
//!   reaps it;
//! - `destroy`/`remove`: teardown and `rm`; `ops`: kill, wait and listing from any process.

pub mod destroy;
pub mod error;
pub mod fetch;
pub mod isolation;
pub mod launch;
pub mod oci;
pub mod ops;
pub mod paths;
pub mod ports;
pub mod process;
pub mod remove;
pub mod residency;
pub mod state;
pub mod supervisor;
pub mod watch;

pub use error::{ContainerError, Result};
pub use launch::{Images, Launched, Launcher, ResolvedImage};
pub use paths::Paths;
pub use state::{ContainerState, State, Termination};
