pub mod capabilities;
pub mod seccomp;
