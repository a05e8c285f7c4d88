pub mod rlimits;
