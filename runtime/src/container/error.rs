//! Errors of the containerizer, each naming the container, path or step at fault.

use std::path::PathBuf;

pub type Result<T, E = ContainerError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: unreadable checkpoint: {why}")]
    Corrupt { path: PathBuf, why: String },
    #[error("container {0}: no such container")]
    NotFound(String),
    #[error("container {0}: the id is already in use")]
    InUse(String),
    #[error("container {id}: {why}")]
    State { id: String, why: String },
    #[error("container {id}: {step}: {why}")]
    Launch {
        id: String,
        step: &'static str,
        why: String,
        /// Exit code for `ucr run`: 125 (ucr failed), 126 (cannot invoke), 127 (not found).
        code: i32,
    },
    /// The supervisor took over and failed to start the task; it has recorded the termination itself. `why` is
    /// its message, which already names the container.
    #[error("{why}")]
    Started { id: String, why: String, code: i32 },
    #[error("container {id}: launch: {why}")]
    Launcher { id: String, why: String },
    #[error("container {id}: {why}")]
    Isolator { id: String, why: String },
    /// A persistent volume (`volumes`): a bad name, a missing one, one still in use.
    #[error("volume {name}: {why}")]
    Volume { name: String, why: String },
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    #[error(transparent)]
    Provision(#[from] crate::provisioner::ProvisionError),
    #[error(transparent)]
    Image(#[from] ucr_registry::Error),
    #[error(transparent)]
    Images(#[from] crate::images::ImageError),
    #[error(transparent)]
    Process(#[from] crate::process::ProcessError),
}

impl ContainerError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> ContainerError {
        ContainerError::Io {
            path: path.into(),
            source,
        }
    }

    /// A step of a launch failed (`step`: provisioning, preparing, fetching, ...), with the exit code a CLI
    /// reports for it.
    pub fn launch(
        id: &str,
        step: &'static str,
        why: impl Into<String>,
        code: i32,
    ) -> ContainerError {
        ContainerError::Launch {
            id: id.to_string(),
            step,
            why: why.into(),
            code,
        }
    }

    /// An isolator's failure, for the container it happened to.
    pub fn isolator(id: &str, e: ucr_isolators::IsolatorError) -> ContainerError {
        ContainerError::Isolator {
            id: id.to_string(),
            why: e.to_string(),
        }
    }

    /// The exit code a CLI should use for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ContainerError::Launch { code, .. } | ContainerError::Started { code, .. } => *code,
            _ => 125,
        }
    }
}
