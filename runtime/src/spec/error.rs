//! The one error type of the `spec` module. Every variant names what was at fault — the field path of the
//! request, the container id, the secret — so the CLI prints a single
//! `ucr: <what failed>: <why>` line and the agent a 400 body without guessing.

pub type Result<T, E = SpecError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A container id breaking one of the rules of [`crate::spec::validate_id`].
    #[error("invalid container id {id:?}: {rule}")]
    InvalidId { id: String, rule: &'static str },

    /// The request is not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(String),

    /// JSON, but none of the formats `ucr launch` takes; the text says what was looked for and what was found.
    #[error("not a LAUNCH_CONTAINER call, TaskInfo, Marathon app or pod, or task group: {0}")]
    Unrecognized(String),

    /// A field of the request is unknown, malformed or not supported. `path` is the JSON path as written in the
    /// request (`launch_container.container.volumes[1].mode`).
    #[error("{path}: {why}")]
    Field { path: String, why: String },

    /// A secret could not be read. Never carries the secret's value.
    #[error("secret {name:?}: {why}")]
    Secret { name: String, why: String },
}

impl SpecError {
    pub(crate) fn field(path: impl Into<String>, why: impl Into<String>) -> SpecError {
        SpecError::Field {
            path: path.into(),
            why: why.into(),
        }
    }
}
