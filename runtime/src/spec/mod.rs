//! Container specs: the one `ContainerConfig` every request becomes, the parsers of the request formats, and the
//! Mesos rules that turn a config plus an image config into the process to run.

pub mod config;

pub use config::*;
