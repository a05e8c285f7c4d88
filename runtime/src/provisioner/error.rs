//! The provisioner's errors, each naming the path, layer or entry at fault.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while provisioning or destroying.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("unknown provisioner backend `{name}` (known backends: {known})")]
    UnknownBackend { name: String, known: String },
    #[error("invalid container id {id:?}: {why}")]
    InvalidId { id: String, why: &'static str },
    #[error("container `{id}` already has a root filesystem at {path}; destroy it first")]
    AlreadyExists { id: String, path: PathBuf },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `kernel` holds the messages overlayfs logged for this mount, when the new mount API was used.
    #[error("mounting overlay on {target}: {step}: {source}{kernel}")]
    Mount {
        target: PathBuf,
        step: String,
        kernel: String,
        #[source]
        source: io::Error,
    },
    #[error("unmounting {path}: {source}")]
    Unmount {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// `entry` is the path inside the layer (and the rootfs) that failed.
    #[error("copying layer {layer} into {rootfs}: `{entry}`: {source}")]
    Copy {
        layer: PathBuf,
        rootfs: PathBuf,
        entry: String,
        #[source]
        source: io::Error,
    },
}

impl ProvisionError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        ProvisionError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
