//! The applier's error type. Every variant names the entry as it is spelled in the tar (so a hostile
//! `../../etc/passwd` shows up as such) and, for filesystem failures, the host path it mapped to.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The layer root itself could not be opened.
    #[error("layer root {root}: {source}")]
    Root { root: PathBuf, source: io::Error },

    /// A filesystem operation for one entry failed.
    #[error("layer entry `{path}`: {op} {host}: {source}")]
    Io {
        /// The entry's name as written in the tar.
        path: String,
        /// The host path it maps to (root joined with the normalized name).
        host: PathBuf,
        op: &'static str,
        source: io::Error,
    },

    /// An entry that is malformed, ambiguous or not allowed (a file replacing the root, an unsupported
    /// type, a hardlink to nothing, parsers disagreeing about a header).
    #[error("layer entry `{path}`: {why}")]
    BadEntry { path: String, why: String },

    /// A bound of [`Limits`](super::Limits) was exceeded.
    #[error("layer exceeds the {what} limit ({limit}){}", at_entry(.path))]
    LimitExceeded {
        what: &'static str,
        limit: u64,
        path: Option<String>,
    },

    /// The tar stream itself is broken (bad checksum, truncated, decompression error).
    #[error("layer tar stream at byte {offset}{}: {source}", after_entry(.after))]
    Stream {
        offset: u64,
        after: Option<String>,
        source: io::Error,
    },
}

fn at_entry(path: &Option<String>) -> String {
    path.as_ref()
        .map(|p| format!(" at entry `{p}`"))
        .unwrap_or_default()
}

fn after_entry(after: &Option<String>) -> String {
    after
        .as_ref()
        .map(|p| format!(" (after entry `{p}`)"))
        .unwrap_or_default()
}

/// The way an entry name is shown in errors: lossy UTF-8, cut short when absurdly long so one hostile
/// 1 MiB name cannot flood a log line.
pub(crate) fn show(raw: &[u8]) -> String {
    const MAX: usize = 512;
    let s = String::from_utf8_lossy(&raw[..raw.len().min(MAX)]).into_owned();
    if raw.len() > MAX {
        format!("{s}…({} bytes)", raw.len())
    } else {
        s
    }
}

pub(crate) fn host(root: &Path, path: &[u8]) -> PathBuf {
    root.join(OsStr::from_bytes(path))
}

pub(crate) fn io_err(
    root: &Path,
    raw: &[u8],
    path: &[u8],
    op: &'static str,
    source: io::Error,
) -> UnpackError {
    UnpackError::Io {
        path: show(raw),
        host: host(root, path),
        op,
        source,
    }
}

pub(crate) fn bad(raw: &[u8], why: impl std::fmt::Display) -> UnpackError {
    UnpackError::BadEntry {
        path: show(raw),
        why: why.to_string(),
    }
}

pub(crate) fn ambiguous(raw: &[u8], what: &str, parsed: &[u8], headers: &[u8]) -> UnpackError {
    bad(
        raw,
        format!(
            "ambiguous header: the tar parser read the {what} `{}` but the headers say `{}`",
            show(parsed),
            show(headers)
        ),
    )
}

pub(crate) fn limit(what: &'static str, limit: u64, raw: Option<&[u8]>) -> UnpackError {
    UnpackError::LimitExceeded {
        what,
        limit,
        path: raw.map(show),
    }
}

pub(crate) fn stream(offset: u64, raw: Option<&[u8]>, source: io::Error) -> UnpackError {
    UnpackError::Stream {
        offset,
        after: raw.map(show),
        source,
    }
}
