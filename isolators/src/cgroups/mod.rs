//! The cgroups isolators. (Being written: the v1/v2 seam and cpu, mem, pids, devices.)

pub mod cpu;
pub mod devices;
pub mod mem;
pub mod pids;
