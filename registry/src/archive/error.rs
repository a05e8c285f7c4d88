//! Errors of `load` and `save`. A load error names the archive once (`load FILE: …`) and then the member at
//! fault as it is spelled inside the archive (`member blobs/sha256/ab…: digest mismatch …`), so the CLI can
//! print it as one line without adding context.

use std::path::PathBuf;

use crate::digest::Digest;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("load {}: {source}", archive.display())]
    Load { archive: PathBuf, source: LoadError },

    #[error("save {}: {source}", out.display())]
    Save { out: PathBuf, source: SaveError },

    /// `--docker_registry DIR` holds no file for the image (and no fallback to a registry was allowed).
    #[error("image {image}: not in --docker_registry {} (looked for {}){hint}", dir.display(), tried.join(", "))]
    NotInDir {
        image: String,
        dir: PathBuf,
        tried: Vec<String>,
        hint: &'static str,
    },

    /// An image source like `oci-archive:` without a path, or a selector that is not a reference.
    #[error("invalid image source `{source_name}`: {why}")]
    BadSource { source_name: String, why: String },
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not an image archive: {0}")]
    NotAnArchive(String),

    /// The archive itself cannot be opened (the path is already in the `load PATH:` prefix).
    #[error("{0}")]
    Open(std::io::Error),

    #[error("member {member}: not in the archive")]
    Missing { member: String },

    #[error("member {member}: {why}")]
    Member { member: String, why: String },

    #[error("member {member}: digest mismatch: expected {expected}, content hashes to {got}")]
    Digest {
        member: String,
        expected: Digest,
        got: Digest,
    },

    #[error("member {member}: size mismatch: expected {expected} bytes, it has {got}")]
    Size {
        member: String,
        expected: u64,
        got: u64,
    },

    #[error("member {member}: digest mismatch: its tar hashes to {got}, the image config expects diff_id {expected}")]
    DiffId {
        member: String,
        expected: Digest,
        got: Digest,
    },

    #[error("member {member}: {source}")]
    Unpack {
        member: String,
        source: crate::unpack::UnpackError,
    },

    /// The archive's tar structure is broken (bad header checksum, cut short, ...).
    #[error("tar stream broken{}: {why}", after.as_deref().map(|a| format!(" after member {a}")).unwrap_or_default())]
    Tar { after: Option<String>, why: String },

    #[error("no image {want} in the archive (it holds: {available})")]
    NoImage { want: String, available: String },

    #[error("{count} images in the archive ({available}): name one")]
    Ambiguous { count: usize, available: String },

    #[error("no image for platform {platform} in the archive")]
    NoPlatform { platform: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The store refused a commit (its own error names the path).
    #[error(transparent)]
    Store(Box<crate::Error>),
}

impl From<crate::Error> for LoadError {
    fn from(e: crate::Error) -> Self {
        LoadError::Store(Box::new(e))
    }
}

impl LoadError {
    pub(crate) fn member(member: &str, why: impl Into<String>) -> LoadError {
        LoadError::Member {
            member: member.to_string(),
            why: why.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("image {0}: not in the store")]
    Unknown(String),

    #[error("image {0}: ambiguous, several images match")]
    Ambiguous(String),

    #[error("blob {digest}: {why} (`ucr store check --repair` drops it; pull the image again)")]
    Blob { digest: Digest, why: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error(transparent)]
    Store(Box<crate::Error>),
}

impl From<crate::Error> for SaveError {
    fn from(e: crate::Error) -> Self {
        SaveError::Store(Box::new(e))
    }
}

/// `load` and `save` return the crate's `Error`; the conversion lives here, above `crate::error`, so that file
/// never names the archive's error (see `Error::Archive`).
impl From<ArchiveError> for crate::Error {
    fn from(e: ArchiveError) -> Self {
        crate::Error::Archive(Box::new(e))
    }
}
