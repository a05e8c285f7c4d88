//! `ucr save IMAGE... -o FILE`: one OCI image layout tar holding every named image, each blob once.
//!
//! The store keeps every image's manifest, config and layer blobs exactly as pulled (compressed) or loaded,
//! so the layout is written from those blobs as they are: manifest digests stay what the registry served,
//! nothing is recompressed, and shared layers are written once. `index.json` names each image with
//! `org.opencontainers.image.ref.name` (the full reference, as `skopeo copy … oci-archive:F:REF` writes it)
//! and `io.containerd.image.name` (what docker ≥ 25 and containerd read). `oci-layout` and `index.json` come
//! first so a streaming reader knows the contents before the blobs. Every blob is re-hashed as it is copied:
//! a store blob that rotted fails the save rather than going out. The tar is written next to FILE and
//! renamed over it at the end (`-` writes to stdout).

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::error::{ArchiveError, SaveError};
use super::oci_layout::{blob_member, CONTAINERD_NAME, REF_NAME};
use crate::digest::{Digest, HashingReader};
use crate::error::Result;
use crate::store::{ImageRecord, Store};

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Writes `images` (references or manifest digests, as `ucr images` shows them) to `out` as an OCI layout
/// tar; returns the records written.
pub fn save(store: &Store, images: &[String], out: &Path) -> Result<Vec<ImageRecord>> {
    save_inner(store, images, out).map_err(|source| {
        ArchiveError::Save {
            out: out.to_path_buf(),
            source,
        }
        .into()
    })
}

fn save_inner(store: &Store, images: &[String], out: &Path) -> Result<Vec<ImageRecord>, SaveError> {
    // Shared: a concurrent prune (exclusive) cannot remove a blob while it is being copied.
    let _lock = store.lock_shared()?;
    let mut records: Vec<ImageRecord> = Vec::new();
    for q in images {
        let mut found = store.find_images(q)?;
        let rec = match found.len() {
            0 => return Err(SaveError::Unknown(q.clone())),
            1 => found.remove(0),
            _ => return Err(SaveError::Ambiguous(q.clone())),
        };
        if !records.iter().any(|r| r.reference == rec.reference) {
            records.push(rec);
        }
    }
    let mut blobs: Vec<Digest> = Vec::new();
    let mut seen = HashSet::new();
    for r in &records {
        let all = std::iter::once(&r.config_digest)
            .chain(r.layers.iter().map(|l| &l.digest))
            .chain(std::iter::once(&r.manifest_digest));
        for d in all {
            if seen.insert(d.clone()) {
                blobs.push(d.clone());
            }
        }
    }
    let mut manifests = Vec::new();
    for r in &records {
        let size = blob_size(store, &r.manifest_digest)?;
        let mut desc = json!({
            "mediaType": r.manifest_media_type,
            "digest": r.manifest_digest,
            "size": size,
            "annotations": {REF_NAME: r.reference, CONTAINERD_NAME: r.reference},
        });
        if let Some((os, arch)) = r
            .platform
            .split_once('/')
            .filter(|(o, a)| !o.is_empty() && !a.is_empty())
        {
            desc["platform"] = json!({"os": os, "architecture": arch});
        }
        manifests.push(desc);
    }
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    let index = serde_json::to_vec(&index).map_err(|e| SaveError::Io {
        path: out.to_path_buf(),
        source: std::io::Error::other(e),
    })?;

    if out == Path::new("-") {
        let stdout = std::io::stdout().lock();
        let mut stdout = write_layout(
            store,
            std::io::BufWriter::with_capacity(1 << 20, stdout),
            &index,
            &blobs,
            out,
        )?;
        stdout.flush().map_err(|source| SaveError::Io {
            path: out.to_path_buf(),
            source,
        })?;
        return Ok(records);
    }
    let tmp = temp_path(out);
    let file = std::fs::File::create(&tmp).map_err(|source| SaveError::Io {
        path: tmp.clone(),
        source,
    })?;
    let written = write_layout(
        store,
        std::io::BufWriter::with_capacity(1 << 20, file),
        &index,
        &blobs,
        &tmp,
    )
    .and_then(|f| {
        f.sync_all().map_err(|source| SaveError::Io {
            path: tmp.clone(),
            source,
        })
    })
    .and_then(|()| {
        std::fs::rename(&tmp, out).map_err(|source| SaveError::Io {
            path: out.to_path_buf(),
            source,
        })
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(records)
}

fn temp_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image.tar".into());
    out.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn blob_size(store: &Store, d: &Digest) -> Result<u64, SaveError> {
    std::fs::metadata(store.blob_path(d))
        .map(|m| m.len())
        .map_err(|e| SaveError::Blob {
            digest: d.clone(),
            why: format!("missing from the store: {e}"),
        })
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

/// Streams the layout into `w`; returns the inner writer, flushed.
fn write_layout<W: Write>(
    store: &Store,
    w: std::io::BufWriter<W>,
    index: &[u8],
    blobs: &[Digest],
    path: &Path,
) -> Result<W, SaveError> {
    let io = |source| SaveError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut b = tar::Builder::new(w);
    for (name, data) in [("oci-layout", OCI_LAYOUT), ("index.json", index)] {
        let mut h = header(tar::EntryType::Regular, data.len() as u64);
        b.append_data(&mut h, name, data).map_err(io)?;
    }
    for dir in ["blobs/", "blobs/sha256/"] {
        let mut h = header(tar::EntryType::Directory, 0);
        b.append_data(&mut h, dir, std::io::empty()).map_err(io)?;
    }
    for d in blobs {
        let p = store.blob_path(d);
        let f = std::fs::File::open(&p).map_err(|e| SaveError::Blob {
            digest: d.clone(),
            why: format!("missing from the store: {e}"),
        })?;
        let size = f.metadata().map_err(io)?.len();
        let mut h = header(tar::EntryType::Regular, size);
        let mut r = HashingReader::new(f.take(size), d.algo());
        b.append_data(&mut h, blob_member(d), &mut r).map_err(io)?;
        let (got, n) = r.finish().map_err(io)?;
        if n != size || &got != d {
            return Err(SaveError::Blob {
                digest: d.clone(),
                why: format!("the store's copy is corrupt (it hashes to {got})"),
            });
        }
    }
    let w = b.into_inner().map_err(io)?;
    w.into_inner().map_err(|e| io(e.into_error()))
}
