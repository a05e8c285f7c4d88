//! POSIX process limits: `posix/rlimits`.

pub mod rlimits;
