//! Image records: `images/<sha256 of the normalized reference>.json`, each naming the manifest, config and
//! layers (blob digest + diff_id) of one reference. Written atomically (temp, fsync, rename).

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::durable::sync_dir;
use super::handle::Store;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerRef {
    pub digest: Digest,
    pub diff_id: Digest,
    pub size: u64,
    #[serde(rename = "mediaType")]
    pub media_type: String,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// Normalized reference (`docker.io/library/busybox:latest`).
    pub reference: String,
    pub manifest_digest: Digest,
    pub manifest_media_type: String,
    /// The index (manifest list) the manifest was chosen from.
    #[serde(default)]
    pub index_digest: Option<Digest>,
    pub config_digest: Digest,
    pub layers: Vec<LayerRef>,
    pub platform: String,
    /// Unix seconds of the pull.
    pub pulled_at: u64,
    /// The image config's `created`.
    #[serde(default)]
    pub created: Option<String>,
}

impl ImageRecord {
    /// Compressed size of the image (what `ucr images` shows as SIZE, like docker's "compressed" size).
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

impl Store {
    fn image_path(&self, reference: &str) -> PathBuf {
        self.root.join("images").join(format!(
            "{}.json",
            Digest::sha256_of(reference.as_bytes()).hex()
        ))
    }

    pub fn put_image(&self, rec: &ImageRecord) -> Result<()> {
        let dest = self.image_path(&rec.reference);
        let tmp = dest.with_extension(format!("tmp.{}", std::process::id()));
        let json = serde_json::to_vec_pretty(rec).map_err(|e| Error::Store {
            path: dest.clone(),
            why: e.to_string(),
        })?;
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).at(&tmp)?;
            f.write_all(&json).and_then(|_| f.sync_all()).at(&tmp)?;
        }
        std::fs::rename(&tmp, &dest).at(&dest)?;
        sync_dir(&self.root.join("images"))
    }

    pub fn get_image(&self, reference: &str) -> Result<Option<ImageRecord>> {
        let p = self.image_path(reference);
        match std::fs::read(&p) {
            // An empty record is a crash artefact of an older writer: treat it as absent.
            Ok(b) if b.is_empty() => Ok(None),
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::Store {
                    path: p,
                    why: format!("unreadable image record: {e}"),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(p, e)),
        }
    }

    /// Whether the store holds all of an image: its config blob and every layer, both unpacked and as its blob.
    /// The one definition of "complete" (pull, load, the runtime's image resolution and `save` all rely on
    /// it): a record alone, or layers without their blobs, is an image to fetch again.
    pub fn is_complete(&self, rec: &ImageRecord) -> bool {
        self.has_blob(&rec.config_digest)
            && rec
                .layers
                .iter()
                .all(|l| self.has_layer(&l.diff_id) && self.has_blob(&l.digest))
    }

    /// The record of `reference` when the store holds all of that image ([`Store::is_complete`]).
    pub fn complete_image(&self, reference: &str) -> Result<Option<ImageRecord>> {
        Ok(self.get_image(reference)?.filter(|r| self.is_complete(r)))
    }

    /// The complete image of `reference` if its record was written at `since` or later: by a pull (or load)
    /// that ended then, as fresh as one started at `since` would be. A file's time is the kernel's coarse clock,
    /// never later than the moment of the write, so a record written before `since` never passes.
    pub fn complete_image_since(
        &self,
        reference: &str,
        since: SystemTime,
    ) -> Result<Option<ImageRecord>> {
        let p = self.image_path(reference);
        let written = match std::fs::metadata(&p).and_then(|m| m.modified()) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).at(&p),
        };
        if written < since {
            return Ok(None);
        }
        self.complete_image(reference)
    }

    pub fn list_images(&self) -> Result<Vec<ImageRecord>> {
        let dir = self.root.join("images");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).at(&dir)?.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
            let b = std::fs::read(&p).at(&p)?;
            if b.is_empty() {
                continue;
            }
            match serde_json::from_slice::<ImageRecord>(&b) {
                Ok(r) => out.push(r),
                Err(e) => {
                    return Err(Error::Store {
                        path: p,
                        why: format!("unreadable image record: {e}"),
                    })
                }
            }
        }
        out.sort_by(|a, b| a.reference.cmp(&b.reference));
        Ok(out)
    }

    /// Removes the record of `reference`; returns whether there was one. Blobs and layers stay until `prune`.
    pub fn remove_image(&self, reference: &str) -> Result<bool> {
        let p = self.image_path(reference);
        match std::fs::remove_file(&p) {
            Ok(()) => {
                sync_dir(&self.root.join("images"))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(p, e)),
        }
    }

    /// The image records whose reference or digest `query` names: a reference (normalized before lookup), or
    /// a manifest digest (or unique prefix of its hex).
    pub fn find_images(&self, query: &str) -> Result<Vec<ImageRecord>> {
        if let Ok(r) = crate::reference::ImageRef::parse(query) {
            if let Some(rec) = self.get_image(&r.to_string())? {
                return Ok(vec![rec]);
            }
        }
        let hex = query.strip_prefix("sha256:").unwrap_or(query);
        if hex.len() >= 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let all = self.list_images()?;
            return Ok(all
                .into_iter()
                .filter(|r| r.manifest_digest.hex().starts_with(hex))
                .collect());
        }
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn record(store: &Store, reference: &str) -> ImageRecord {
        let config = b"{}";
        let config_digest = Digest::sha256_of(config);
        store.put_blob(&config_digest, config).expect("config blob");
        ImageRecord {
            reference: reference.into(),
            manifest_digest: Digest::sha256_of(b"manifest"),
            manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            index_digest: None,
            config_digest,
            layers: Vec::new(),
            platform: "linux/amd64".into(),
            pulled_at: 0,
            created: None,
        }
    }

    #[test]
    fn an_image_written_before_the_moment_asked_about_is_not_as_fresh_and_one_written_after_is() {
        let t = tempfile::tempdir().expect("tempdir");
        let store = Store::open(t.path()).expect("store");
        let r = "reg.example/app:1";
        assert!(store
            .complete_image_since(r, SystemTime::UNIX_EPOCH)
            .expect("absent")
            .is_none());
        let before = SystemTime::now() - Duration::from_secs(1);
        store.put_image(&record(&store, r)).expect("put");
        let after = SystemTime::now() + Duration::from_secs(1);
        assert!(store
            .complete_image_since(r, before)
            .expect("read")
            .is_some());
        assert!(store
            .complete_image_since(r, after)
            .expect("read")
            .is_none());
        // Incomplete: its config blob is gone.
        let rec = record(&store, r);
        std::fs::remove_file(store.blob_path(&rec.config_digest)).expect("rm blob");
        assert!(store
            .complete_image_since(r, before)
            .expect("read")
            .is_none());
    }
}
