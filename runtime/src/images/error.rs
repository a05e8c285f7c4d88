//! Errors of providing an image: the registry's (which name the registry, url, digest or path at fault), an
//! image kind this build cannot fetch, the async runtime failing to start, and the store's pull locks.

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Registry(#[from] ucr_registry::Error),
    #[error(transparent)]
    Appc(#[from] ucr_registry::appc::AppcError),
    /// The live containers' images could not be listed, so nothing is removed.
    #[error("listing the images live containers use: {0}")]
    InUse(String),
    /// Mesos `--image_providers` leaves this kind of image out.
    #[error("{image}: the {kind} image provider is not enabled (--image_providers={enabled})")]
    ProviderOff {
        image: String,
        kind: &'static str,
        enabled: String,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = ImageError> = std::result::Result<T, E>;
