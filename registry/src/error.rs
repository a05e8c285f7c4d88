//! The crate's one error type. Every variant names what was at fault (registry, url, digest, path) so the CLI can
//! print a single `ucr: <what failed>: <why>` line without guessing.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The longest `Retry-After` a pull waits for, in seconds.
pub const MAX_RETRY_AFTER: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid image reference `{reference}`: {why}")]
    Reference { reference: String, why: String },

    #[error("invalid platform `{0}`: expected OS/ARCH[/VARIANT]")]
    Platform(String),

    #[error("registry {registry}: authentication failed: {why}")]
    Auth { registry: String, why: String },

    #[error("registry {registry}: access denied to {url} (HTTP {status}) with the credentials from {source_name}")]
    Denied {
        registry: String,
        url: String,
        status: u16,
        source_name: String,
    },

    #[error("registry {registry}: TLS: {why}")]
    Tls { registry: String, why: String },

    #[error("registry {registry}: plain HTTP is refused: name it with --insecure-registry {registry} to allow it")]
    InsecureRefused { registry: String },

    #[error("{url}: not found (HTTP 404){what}")]
    NotFound { url: String, what: String },

    #[error("layer {digest} is a foreign layer: the registry does not have it, and fetching it from {url} \
             is allowed only with --foreign-layers")]
    ForeignLayer { digest: String, url: String },

    #[error("{url}: HTTP {status}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },

    #[error("{url}: {why}")]
    Transport { url: String, why: String },

    /// HTTP 429. Retried after its `Retry-After` (seconds) when that is at most [`MAX_RETRY_AFTER`].
    #[error("{url}: HTTP 429 Too Many Requests{}", retry_after.map(|s| format!(" (retry after {s} s)")).unwrap_or_default())]
    TooManyRequests {
        url: String,
        retry_after: Option<u64>,
    },

    /// Not transient: a redirect loop does not end by asking again.
    #[error("{url}: too many redirects (a redirect loop?)")]
    Redirects { url: String },

    /// Not transient: a name that does not resolve fails at once, not after the retries.
    #[error("cannot resolve {host}")]
    Resolve { host: String },

    #[error("{what} did not finish within {secs} s (--pull-timeout)")]
    Timeout { what: String, secs: f64 },

    #[error("{url}: no data for {secs} s (stalled)")]
    Stalled { url: String, secs: u64 },

    #[error("{what} {digest}: {why}")]
    Verify {
        what: &'static str,
        digest: String,
        why: String,
    },

    #[error("{what} from {url} exceeds the limit of {limit} bytes")]
    TooLarge {
        what: &'static str,
        url: String,
        limit: u64,
    },

    #[error("manifest {reference}: {why}")]
    Manifest { reference: String, why: String },

    #[error("credentials: {source_name}: {why}")]
    Credentials { source_name: String, why: String },

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("store {path}: {why}")]
    Store { path: PathBuf, why: String },

    #[error("layer {digest}: {source}")]
    Unpack {
        digest: String,
        source: crate::unpack::UnpackError,
    },

    #[error("image {0} is not in the store")]
    ImageUnknown(String),

    #[error("image {image} is in use by container {container}")]
    InUse { image: String, container: String },

    /// `load`, `save` and the file image sources: an `archive::ArchiveError`, boxed (it carries a member error
    /// inside) and type-erased, because that error itself wraps this one (a store that refused a commit). This
    /// file is the bottom of the crate and names no module above it, so the conversion is in
    /// `archive/error.rs`. Display, `source()` and `Debug` are the archive error's; `downcast_ref` gives it back.
    #[error(transparent)]
    Archive(Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Worth another attempt: connection trouble, stalls and server-side (5xx) failures.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::Stalled { .. } => true,
            Error::Http { status, .. } => *status >= 500 || *status == 429,
            // A server that asks for minutes is not waited for: the pull fails and says so.
            Error::TooManyRequests { retry_after, .. } => {
                retry_after.is_none_or(|s| s <= MAX_RETRY_AFTER)
            }
            _ => false,
        }
    }
}

/// Extension to attach a path to io errors: `file.read(..).at(&path)?`.
pub trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}
