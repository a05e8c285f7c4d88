//! Isolator errors: each names the isolator and the path, device or network at fault.

use std::path::PathBuf;

pub type Result<T, E = IsolatorError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum IsolatorError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The request cannot be met as asked (bad volume path, unknown capability, ...).
    #[error("{isolator}: {why}")]
    Invalid { isolator: &'static str, why: String },
    /// `--isolation` named something this build does not have.
    #[error("unknown isolator {name:?}; known: {known}")]
    Unknown { name: String, known: String },
    /// The request needs an isolator that `--isolation` left out.
    #[error("{what} needs the {isolator} isolator, which --isolation does not enable")]
    NotEnabled {
        what: String,
        isolator: &'static str,
    },
    #[error("{isolator}: cgroup {cgroup}: {why}")]
    Cgroup {
        isolator: &'static str,
        cgroup: PathBuf,
        why: String,
    },
    #[error("{isolator}: {why}")]
    Failed { isolator: &'static str, why: String },
    /// A CNI network could not be set up or torn down: the network, the plugin (or config file) and why.
    #[error("network/cni: network {network}: {plugin}: {why}")]
    Cni {
        network: String,
        plugin: String,
        why: String,
    },
}

impl IsolatorError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IsolatorError::Io {
            path: path.into(),
            source,
        }
    }

    pub fn invalid(isolator: &'static str, why: impl Into<String>) -> Self {
        IsolatorError::Invalid {
            isolator,
            why: why.into(),
        }
    }
}
