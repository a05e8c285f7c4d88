//! One container's records and the pieces every process that touches it shares: where its things live
//! (`paths`), its checkpointed state and termination (`state`, `termination`, written through `checkpoint`,
//! read by `records`), its health checks' results (`health`), its OCI bundle (`bundle`), a pod's shared
//! namespaces (`pod_ns`), its host ports (`ports`), the isolators it was made with (`isolation`), its teardown
//! (`teardown`), the removal of its files (`remove`), its sandbox's owner (`sandbox`) and the waiters a container
//! that removes itself lets read its end first (`waiters`). The containerizer
//! (`crate::containerizer`) and the supervisor (`crate::supervisor`) are built from these.

pub mod bundle;
pub mod checkpoint;
pub mod claim;
pub mod error;
pub mod handoff;
pub mod health;
pub mod isolation;
pub mod paths;
pub mod pod_ns;
pub mod ports;
pub mod records;
pub mod remove;
pub mod sandbox;
pub mod state;
pub mod teardown;
pub mod termination;
pub mod waiters;

pub use error::{ContainerError, Result};
pub use paths::Paths;
pub use state::{ContainerState, Owner, State};
pub use termination::Termination;
