//! The launcher's errors, each one line: a step that failed (naming the path or setting) and why, a spec the
//! launcher refuses, or the init's own report.

use std::io;

/// A failed step: what was being done (naming the path or setting) and why.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct Failure {
    what: String,
    #[source]
    source: io::Error,
}

impl Failure {
    pub fn new(what: String, source: io::Error) -> Failure {
        Failure { what, source }
    }

    /// `r` with the step `what` named in its error.
    pub fn at<T>(what: impl FnOnce() -> String, r: io::Result<T>) -> Result<T, Failure> {
        r.map_err(|e| Failure::new(what(), e))
    }
}

/// Errors of a launch, each one line.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The spec asks for something this launcher does not do, or says it wrongly.
    #[error("config.json: {0}")]
    Spec(String),
    #[error(transparent)]
    Os(#[from] Failure),
    /// The init reported a failure (its step and error), or died without a word.
    #[error("container init: {0}")]
    Init(String),
}

pub fn unsupported(what: &str) -> LaunchError {
    LaunchError::Spec(format!("{what} is not supported by ucr's launcher"))
}
