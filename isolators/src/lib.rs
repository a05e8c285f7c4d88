//! ucr-isolators — container isolation, nothing about images.
//!
//! Roles (Mesos's isolator lifecycle: recover, prepare, isolate, watch, update, usage, cleanup):
//! - **cgroups**: cpu, memory, pids, devices on cgroup v1 and v2 behind one interface (youki's libcgroups).
//! - **filesystem**: volumes (HOST_PATH, SANDBOX_PATH), /proc, /sys, /dev, shm.
//! - **network**: host, none and CNI networks with port mappings.
//!
//! This crate never depends on `ucr-registry`; `ucr-runtime` composes both. The modules arrive with the
//! isolator issues; until then the crate only fixes its place in the workspace.
