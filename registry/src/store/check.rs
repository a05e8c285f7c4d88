//! `ucr prune` and `ucr store check`: what no image references is garbage; what does not hash to its name is
//! corrupt (and, with repair, dropped so the next pull fetches it again).

use std::collections::HashSet;
use std::path::Path;

use super::handle::Store;
use crate::digest::{Digest, HashingReader};
use crate::error::{IoContext, Result};

#[derive(Debug, Default)]
pub struct CheckReport {
    pub blobs_checked: u64,
    pub layers_checked: u64,
    pub images_checked: u64,
    /// One line per problem, naming the digest or path.
    pub problems: Vec<String>,
    pub repaired: u64,
}

impl Store {
    /// Removes blobs and layers that no image record references. Returns bytes freed.
    /// Takes the store lock exclusively so no pull is committing meanwhile.
    pub fn prune(&self) -> Result<u64> {
        let _lock = self.lock_exclusive()?;
        let images = self.list_images()?;
        let mut blobs: HashSet<Digest> = HashSet::new();
        let mut layers: HashSet<Digest> = HashSet::new();
        for r in &images {
            blobs.insert(r.manifest_digest.clone());
            blobs.insert(r.config_digest.clone());
            blobs.extend(r.index_digest.clone());
            for l in &r.layers {
                blobs.insert(l.digest.clone());
                layers.insert(l.diff_id.clone());
            }
        }
        let mut freed = 0;
        for d in self.list_layers()? {
            if !layers.contains(&d) {
                let dir = self.layer_dir(&d);
                freed += disk_usage(&dir);
                self.discard(&dir)?;
            }
        }
        for d in self.list_blobs()? {
            if !blobs.contains(&d) {
                let p = self.blob_path(&d);
                freed += disk_usage(&p);
                std::fs::remove_file(&p).at(&p)?;
            }
        }
        Ok(freed)
    }

    /// Removes a layer directory so that it disappears in one step: renamed into staging (the same
    /// filesystem), then deleted there. A kill -9 in the middle of a recursive delete would otherwise leave a
    /// layer directory without its record, which `check` reports; a staging directory of a dead process is
    /// cleared at the next open.
    fn discard(&self, dir: &std::path::Path) -> Result<()> {
        let trash = self.staging()?;
        std::fs::rename(dir, trash.path().join("gone")).at(dir)?;
        if let Some(parent) = dir.parent() {
            super::durable::sync_dir(parent)?;
        }
        drop(trash);
        Ok(())
    }

    fn list_blobs(&self) -> Result<Vec<Digest>> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).at(&dir)?.flatten() {
            if let Some(d) = e
                .file_name()
                .to_str()
                .and_then(|n| format!("sha256:{n}").parse::<Digest>().ok())
            {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Re-hashes every blob, checks every layer record against its directory and every image record against
    /// the blobs and layers it names.
    pub fn check(&self, repair: bool) -> Result<CheckReport> {
        let _lock = self.lock_exclusive()?;
        let mut rep = CheckReport::default();
        let mut bad_blobs = HashSet::new();
        for d in self.list_blobs()? {
            rep.blobs_checked += 1;
            let p = self.blob_path(&d);
            let f = std::fs::File::open(&p).at(&p)?;
            let (got, _) = HashingReader::new(f, d.algo()).finish().at(&p)?;
            if got != d {
                rep.problems
                    .push(format!("blob {d}: content hashes to {got}"));
                bad_blobs.insert(d.clone());
                if repair {
                    std::fs::remove_file(&p).at(&p)?;
                    rep.repaired += 1;
                }
            }
        }
        let mut bad_layers = HashSet::new();
        for d in self.list_layers()? {
            rep.layers_checked += 1;
            let problem = match self.layer_record(&d) {
                Ok(r) if r.diff_id != d => Some(format!("layer {d}: record names {}", r.diff_id)),
                Ok(_) if !self.layer_fs(&d).is_dir() => Some(format!("layer {d}: fs/ is missing")),
                Ok(_) => None,
                Err(e) => Some(format!("layer {d}: {e}")),
            };
            if let Some(p) = problem {
                rep.problems.push(p);
                bad_layers.insert(d.clone());
                if repair {
                    self.discard(&self.layer_dir(&d))?;
                    rep.repaired += 1;
                }
            }
        }
        for r in self.list_images()? {
            rep.images_checked += 1;
            let mut missing = Vec::new();
            for b in [&r.manifest_digest, &r.config_digest] {
                if !self.has_blob(b) || bad_blobs.contains(b) {
                    missing.push(format!("blob {b}"));
                }
            }
            for l in &r.layers {
                if !self.has_layer(&l.diff_id) || bad_layers.contains(&l.diff_id) {
                    missing.push(format!("layer {}", l.diff_id));
                }
                if !self.has_blob(&l.digest) || bad_blobs.contains(&l.digest) {
                    missing.push(format!("blob {}", l.digest));
                }
            }
            if !missing.is_empty() {
                rep.problems.push(format!(
                    "image {}: missing or corrupt {}",
                    r.reference,
                    missing.join(", ")
                ));
                if repair {
                    self.remove_image(&r.reference)?;
                    rep.repaired += 1;
                }
            }
        }
        Ok(rep)
    }
}

/// Bytes used by a file tree (allocated blocks, as `du` counts them), not following symlinks: what prune
/// reports as freed.
fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(md) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = md.blocks() * 512;
    if md.is_dir() {
        if let Ok(rd) = std::fs::read_dir(path) {
            for e in rd.flatten() {
                total += disk_usage(&e.path());
            }
        }
    }
    total
}
