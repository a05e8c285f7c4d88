//! POSIX isolation, which needs no kernel feature beyond the filesystem: process limits (`posix/rlimits`) and
//! disk use against the `disk` resource (`disk/du`, measured by `du.rs`).

pub mod disk;
mod du;
pub mod rlimits;
