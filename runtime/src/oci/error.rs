//! The OCI runtime mode's errors. Their messages carry the phrases containerd's runc shim and podman key on
//! (`checkKillError` and friends in containerd's `process/utils.go`): "does not exist" for an unknown id,
//! "container not running" for a signal to a container that has ended, as runc says them.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum OciError {
    #[error("container {0} does not exist")]
    NotExist(String),

    #[error("container with id exists: {0}")]
    Exists(String),

    #[error("invalid container id {0:?}: use letters, digits and _ + - . (at most 1024)")]
    BadId(String),

    #[error("container not running")]
    NotRunning,

    #[error("cannot {op} container {id} that is {status}")]
    WrongStatus {
        op: &'static str,
        id: String,
        status: &'static str,
    },

    #[error("{path}: {why}")]
    Io { path: PathBuf, why: std::io::Error },

    #[error("{path}: {why}")]
    Config { path: PathBuf, why: String },

    #[error("{0}")]
    Launch(String),

    #[error("cgroup: {0}")]
    Cgroup(String),

    #[error("unknown signal {0:?}")]
    Signal(String),

    #[error("{0}")]
    Refused(String),

    #[error("hook {kind}[{index}] ({path}): {why}")]
    Hook {
        kind: &'static str,
        index: usize,
        path: String,
        why: String,
    },
}

pub type Result<T> = std::result::Result<T, OciError>;

impl OciError {
    pub(crate) fn io(path: impl Into<PathBuf>, why: std::io::Error) -> OciError {
        OciError::Io {
            path: path.into(),
            why,
        }
    }
}
