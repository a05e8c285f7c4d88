//! Errors of providing an image: the registry's (which name the registry, url, digest or path at fault), an
//! image kind this build cannot fetch, and the async runtime failing to start.

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Registry(#[from] ucr_registry::Error),
    /// Mesos `APPC` images: parsed and checkpointed, but there is no AppC store or discovery in this build.
    #[error("image {name}: AppC images cannot be fetched by this build of ucr (no AppC store or discovery)")]
    Appc { name: String },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

pub type Result<T, E = ImageError> = std::result::Result<T, E>;
