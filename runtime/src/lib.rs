//! ucr-runtime — the containerizer library every front end (the `ucr` CLI crate, and the agent and the OCI
//! runtime mode after it) drives. It composes `ucr-registry` (images) and `ucr-isolators` (isolation); neither
//! of those knows the other.
//!
//! Roles:
//! - **containerizer**: the `Containerizer` facade — launch, wait, kill, destroy, remove, containers, usage,
//!   update, recover — over the on-disk state every front end shares.
//! - **images**: the `Images` service — where an image comes from (store, archive, `--docker_registry`,
//!   pull) for every front end, with one definition of a complete image.
//! - **spec**: request parsing (CLI flags, Mesos `LAUNCH_CONTAINER`/`TaskInfo`, Marathon apps) into one
//!   `ContainerConfig`. **process**: from a config, an image and a rootfs to the exact process to run.
//! - **container**: one container's records (paths, checkpointed state, termination), its OCI bundle, ports,
//!   isolators and teardown. **supervisor**: the per-container process that runs the bundle and reaps it.
//! - **launcher**: the Linux launcher — the thing that starts the init, from a typed OCI spec to a running
//!   task (namespaces, cgroup placement, mounts, identity, seccomp). Ours rather than libcontainer's: see its
//!   crate-level docs for why.
//! - **provisioner**: rootfs backends (overlay, copy). **fetcher**: `CommandInfo.uris` into the sandbox.
//!   **rt**: the process's one async runtime. **volumes**: local persistent volumes that outlive their tasks.
//!   **pause**: a pod's parent process (`spec::pod`); nested containers are `containerizer::nested`.
//!
//! Re-exported for front ends, which depend on this crate alone: `registry` (`ucr-registry`) and `isolators`
//! (`ucr-isolators`).

pub mod container;
pub mod containerizer;
pub mod fetcher;
pub mod images;
pub mod launcher;
pub mod oci;
pub mod pause;
pub mod process;
pub mod provisioner;
pub mod rt;
pub mod spec;
pub mod supervisor;
pub mod volumes;

pub use container::{ContainerError, ContainerState, Paths, State, Termination};
pub use containerizer::Containerizer;
pub use ucr_isolators as isolators;
pub use ucr_registry as registry;
