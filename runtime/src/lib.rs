//! ucr-runtime — the containerizer library every front end (the `ucr` CLI crate, the agent, the OCI runtime
//! mode) drives.
//!
//! Roles:
//! - **images**: wiring of the image store and the distribution client from the global and registry options.
//!
//! - **container**: the containerizer — a container's lifecycle, checkpoints, supervisor, teardown.
//! - **launcher**: the Linux launcher — from an OCI spec to a running task (namespaces, cgroup placement,
//!   mounts, identity, seccomp).
//! - **provisioner**: rootfs backends (overlay, copy). **spec**: Mesos and Marathon inputs.
//!
//! The containerizer composes `ucr-registry` and `ucr-isolators` here; neither of those knows the other.

pub mod container;
pub mod images;
pub mod launcher;
pub mod provisioner;
pub mod spec;
