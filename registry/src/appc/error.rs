//! The AppC path's errors. Each names the image (name, id or url) and what was wrong with it, in one line.

use std::path::PathBuf;

pub type Result<T, E = AppcError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AppcError {
    #[error("invalid AppC image name `{name}`: {why}")]
    Name { name: String, why: String },

    #[error("AppC image {image}: manifest: {why}")]
    Manifest { image: String, why: String },

    #[error("AppC image {image}: {why}")]
    Archive { image: String, why: String },

    #[error("AppC image {image}: the fetched image is {got}, not the {want} the request asks for")]
    WrongId {
        image: String,
        want: String,
        got: String,
    },

    #[error("AppC image {image}: discovery: {why}")]
    Discovery { image: String, why: String },

    #[error("AppC image {image}: signature: {why}")]
    Signature { image: String, why: String },

    #[error("AppC trust {path}: {why}")]
    Trust { path: PathBuf, why: String },

    #[error("AppC image {0} is not in the store")]
    Unknown(String),

    #[error("AppC image {image} is needed by {by}")]
    Needed { image: String, by: String },

    #[error("invalid {flag} `{value}`: {why}")]
    Option {
        flag: &'static str,
        value: String,
        why: String,
    },

    /// Transport, TLS, store and io failures, with their own url or path.
    #[error(transparent)]
    Registry(#[from] crate::error::Error),
}
