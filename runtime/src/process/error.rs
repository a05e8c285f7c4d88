//! Errors of the process set-up: the command rules found nothing to run, or a user or group the image's files
//! do not name. A program not found or not executable is a `LookupError` (`lookup.rs`), which the containerizer
//! maps to exit codes 127 and 126.

use std::path::PathBuf;

use super::lookup::LookupError;

pub type Result<T, E = ProcessError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// Mesos: `shell` true (the default) and no `value`.
    #[error("shell specified but no command value")]
    ShellWithoutValue,

    /// Nothing to run: no command value, no ENTRYPOINT, no CMD.
    #[error("no executable found: the request has no command value and the image has no ENTRYPOINT or CMD")]
    NoExecutable,

    /// A user or group that the passwd/group files under the given root do not name.
    #[error("user {user:?}: {why} ({file})")]
    User {
        user: String,
        why: String,
        file: PathBuf,
    },

    /// The working directory could not be made inside the root filesystem.
    #[error("working directory {dir}: {source}")]
    Workdir {
        dir: String,
        #[source]
        source: std::io::Error,
    },

    /// The program is not in the root filesystem (127) or cannot be run (126).
    #[error(transparent)]
    Lookup(#[from] LookupError),

    /// The rules produced an empty argv.
    #[error("empty command")]
    EmptyCommand,
}

impl ProcessError {
    /// The exit code a CLI reports: 127 not found, 126 not executable, 125 for the rest (INTERFACE.md).
    pub fn exit_code(&self) -> i32 {
        match self {
            ProcessError::Lookup(e) if e.is_not_found() => 127,
            ProcessError::Lookup(_) => 126,
            ProcessError::EmptyCommand => 127,
            _ => 125,
        }
    }
}
