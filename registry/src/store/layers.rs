//! Unpacked layers: `layers/sha256/<hex>/{fs,layer.json}`, keyed by diff_id. A layer directory exists only if
//! its record does: both are built in staging and renamed in one step, after a syncfs.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::durable::{seal, sync_dir};
use super::handle::Store;
use super::staging::Staging;
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct LayerRecord {
    pub diff_id: Digest,
    /// The compressed blob it was unpacked from.
    pub blob: Digest,
    pub blob_size: u64,
    /// Uncompressed tar bytes.
    pub tar_size: u64,
    pub entries: u64,
}

impl Store {
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root
            .join("layers")
            .join(diff_id.algo().name())
            .join(diff_id.hex())
    }

    /// The layer's root filesystem (what overlay uses as a lowerdir).
    pub fn layer_fs(&self, diff_id: &Digest) -> PathBuf {
        self.layer_dir(diff_id).join("fs")
    }

    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_dir(diff_id).join("layer.json").is_file()
    }

    pub fn layer_record(&self, diff_id: &Digest) -> Result<LayerRecord> {
        let p = self.layer_dir(diff_id).join("layer.json");
        let text = std::fs::read(&p).at(&p)?;
        serde_json::from_slice(&text).map_err(|e| Error::Store {
            path: p,
            why: format!("unreadable layer record: {e}"),
        })
    }

    /// Commits `staging` (which holds `fs/`) as layer `record.diff_id`. If the layer appeared meanwhile (another
    /// pull), ours is discarded.
    pub fn commit_layer(&self, staging: Staging, record: &LayerRecord) -> Result<()> {
        seal(staging.path(), "layer.json", record)?;
        let dest = self.layer_dir(&record.diff_id);
        if self.has_layer(&record.diff_id) {
            return Ok(());
        }
        match std::fs::rename(staging.path(), &dest) {
            Ok(()) => {
                staging.disarm();
                sync_dir(dest.parent().unwrap_or(&self.root))
            }
            // A concurrent commit of the same layer won the race; its content is the same.
            Err(_) if self.has_layer(&record.diff_id) => Ok(()),
            Err(e) => Err(Error::io(dest, e)),
        }
    }

    /// Every committed layer's diff_id.
    pub fn list_layers(&self) -> Result<Vec<Digest>> {
        let dir = self.root.join("layers/sha256");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).at(&dir)?.flatten() {
            if let Some(name) = e.file_name().to_str() {
                if let Ok(d) = format!("sha256:{name}").parse::<Digest>() {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }
}
