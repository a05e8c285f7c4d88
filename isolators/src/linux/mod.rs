//! Linux process confinement: `linux/capabilities` and `linux/seccomp`.

pub mod capabilities;
pub mod seccomp;
pub mod seccomp_default;
