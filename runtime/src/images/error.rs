//! Errors of providing an image: the registry's (which name the registry, url, digest or path at fault), an
//! image kind this build cannot fetch, and the async runtime failing to start.

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Registry(#[from] ucr_registry::Error),
    #[error(transparent)]
    Appc(#[from] ucr_registry::appc::AppcError),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

pub type Result<T, E = ImageError> = std::result::Result<T, E>;
