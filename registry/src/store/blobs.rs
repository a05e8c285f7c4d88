//! Verified blobs: `blobs/sha256/<hex>`. Small blobs (manifests, configs) are written whole; layer blobs are
//! streamed into a staging file by the pull pipeline and committed here after their digest and size matched.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::durable::sync_dir;
use super::handle::Store;
use crate::digest::Digest;
use crate::error::{IoContext, Result};

impl Store {
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs").join(d.algo().name()).join(d.hex())
    }

    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Moves an already verified staged file into place (a concurrent writer of the same digest may have won:
    /// identical content, so either copy is fine).
    pub fn commit_blob_file(&self, staged: &Path, d: &Digest) -> Result<()> {
        std::fs::File::open(staged)
            .and_then(|f| f.sync_all())
            .at(staged)?;
        let dest = self.blob_path(d);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).at(parent)?;
        }
        std::fs::rename(staged, &dest).at(&dest)?;
        sync_dir(dest.parent().unwrap_or(&self.root))
    }

    /// Writes a small blob after checking `data` hashes to `d`.
    pub fn put_blob(&self, d: &Digest, data: &[u8]) -> Result<()> {
        d.verify("blob", data)?;
        if self.has_blob(d) {
            return Ok(());
        }
        let staging = self.staging()?;
        let tmp = staging.path().join("blob");
        let mut f = std::fs::File::create(&tmp).at(&tmp)?;
        f.write_all(data).at(&tmp)?;
        drop(f);
        self.commit_blob_file(&tmp, d)
    }

    pub fn read_blob(&self, d: &Digest) -> Result<Vec<u8>> {
        let p = self.blob_path(d);
        std::fs::read(&p).at(&p)
    }
}
