//! The AppC store under `--appc_store_dir` (Mesos's layout, plus what `save` and `inspect` need):
//! ```text
//! images/sha512-<hex>/manifest     the image manifest, as the ACI holds it
//! images/sha512-<hex>/rootfs/      the unpacked rootfs (an overlay lower dir, shared by every image using it)
//! images/sha512-<hex>/image.aci    the ACI as fetched (compressed as it came): `save` writes it back
//!                                  unchanged, so its id survives a save/load round trip
//! images/sha512-<hex>/image.json   where it came from, when, its size and who signed it
//! rendered/sha512-<hex>/rootfs/    an image with a pathWhitelist: its dependencies and itself, filtered
//! staging/<pid>-<n>/               work in progress, removed when its process is gone
//! lock                             flock: pulls share it, rmi/prune/check take it exclusively
//! ```
//! An image directory appears by one rename from staging after a syncfs, with `image.json` written last in
//! staging: a directory in `images/` is complete or it is not there. Dependencies are images of their own
//! (shared by every image naming them), never copied into their dependents.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::Result;
use super::manifest::ImageManifest;
use super::name::AppcName;
use crate::error::{Error, IoContext};
use crate::store::{clean_staging, remove_tree, seal, sync_dir, Staging, StoreLock};

/// `image.json`: what the store knows of an image beyond its manifest.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImageRecord {
    /// `sha512-<128 hex>` of the uncompressed tar.
    pub id: String,
    /// Where it was fetched or loaded from.
    pub source: String,
    /// Bytes of the ACI as fetched.
    pub size: u64,
    /// gzip, bzip2, xz or none.
    pub compression: String,
    /// Fingerprint of the key whose signature verified, if one did.
    #[serde(default)]
    pub signed_by: Option<String>,
    /// Unix seconds.
    pub fetched_at: u64,
}

/// A complete image of the store.
#[derive(Clone, Debug)]
pub struct AppcImage {
    pub record: ImageRecord,
    pub manifest: ImageManifest,
}

impl AppcImage {
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// `appc:NAME[:VERSION]` with its other labels, as `ucr images` names it.
    pub fn reference(&self) -> String {
        let mut labels = self.manifest.label_map();
        for k in ["os", "arch"] {
            labels.remove(k);
        }
        AppcName {
            name: self.manifest.name.clone(),
            labels,
            id: None,
        }
        .to_string()
    }
}

pub struct AppcStore {
    root: PathBuf,
}

impl AppcStore {
    /// Opens (creating) the store at `root` and clears staging left by dead processes.
    pub fn open(root: impl Into<PathBuf>) -> Result<AppcStore> {
        let root = root.into();
        for d in ["images", "rendered", "staging"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).at(&p)?;
        }
        clean_staging(&root.join("staging"))?;
        Ok(AppcStore { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn staging(&self) -> Result<Staging> {
        Ok(Staging::create(&self.root.join("staging"))?)
    }

    pub fn image_dir(&self, id: &str) -> PathBuf {
        self.root.join("images").join(id)
    }

    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.image_dir(id).join("rootfs")
    }

    /// The ACI file as it was fetched.
    pub fn aci_file(&self, id: &str) -> PathBuf {
        self.image_dir(id).join("image.aci")
    }

    /// Where the whitelisted rendering of `id` lives (see `whitelist`).
    pub fn rendered(&self, id: &str) -> PathBuf {
        self.root.join("rendered").join(id)
    }

    fn lock(&self, exclusive: bool) -> Result<StoreLock> {
        Ok(StoreLock::open(&self.root.join("lock"), exclusive)?)
    }

    pub fn lock_shared(&self) -> Result<StoreLock> {
        self.lock(false)
    }

    pub fn lock_exclusive(&self) -> Result<StoreLock> {
        self.lock(true)
    }

    /// The image `id` when it is complete in the store.
    pub fn get(&self, id: &str) -> Result<Option<AppcImage>> {
        let dir = self.image_dir(id);
        let rec_path = dir.join("image.json");
        let rec = match std::fs::read(&rec_path) {
            Ok(b) => serde_json::from_slice::<ImageRecord>(&b).map_err(|e| Error::Store {
                path: rec_path.clone(),
                why: format!("unreadable AppC image record: {e}"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(rec_path, e).into()),
        };
        if !dir.join("rootfs").is_dir() {
            return Ok(None);
        }
        let mp = dir.join("manifest");
        let manifest = ImageManifest::parse(&std::fs::read(&mp).at(&mp)?, id)?;
        Ok(Some(AppcImage {
            record: rec,
            manifest,
        }))
    }

    /// Every complete image, sorted by name then id.
    pub fn list(&self) -> Result<Vec<AppcImage>> {
        let dir = self.root.join("images");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).at(&dir)?.flatten() {
            if let Some(id) = e.file_name().to_str().filter(|n| n.starts_with("sha512-")) {
                if let Some(img) = self.get(id)? {
                    out.push(img);
                }
            }
        }
        out.sort_by(|a, b| (&a.manifest.name, a.id()).cmp(&(&b.manifest.name, b.id())));
        Ok(out)
    }

    /// The image `name` asks for: by its id when it pins one, else the newest fetched whose name and labels
    /// match.
    pub fn find(&self, name: &AppcName) -> Result<Option<AppcImage>> {
        let mut found: Vec<AppcImage> = self
            .list()?
            .into_iter()
            .filter(|i| name.id_matches(i.id()))
            .filter(|i| {
                name.id.is_some() || name.matches(&i.manifest.name, &i.manifest.label_map())
            })
            .collect();
        found.sort_by_key(|i| i.record.fetched_at);
        Ok(found.pop())
    }

    /// Commits `staging` (holding `manifest`, `rootfs/` and `image.aci`) as image `rec.id`. An image already
    /// there is kept (same id, same content) and ours discarded.
    pub fn commit(&self, staging: Staging, rec: &ImageRecord) -> Result<()> {
        seal(staging.path(), "image.json", rec)?;
        let dest = self.image_dir(&rec.id);
        if self.get(&rec.id)?.is_some() {
            return Ok(());
        }
        // A leftover of an interrupted removal (no record): replaced.
        if dest.exists() {
            remove_tree(&dest).at(&dest)?;
        }
        std::fs::rename(staging.path(), &dest).at(&dest)?;
        staging.disarm();
        Ok(sync_dir(&self.root.join("images"))?)
    }

    /// Removes image `id` (and its rendering): renamed into staging first, so it disappears in one step.
    pub fn remove(&self, id: &str) -> Result<bool> {
        let mut removed = false;
        for dir in [self.image_dir(id), self.rendered(id)] {
            if !dir.exists() {
                continue;
            }
            let trash = self.staging()?;
            let to = trash.path().join("gone");
            std::fs::rename(&dir, &to).at(&dir)?;
            if let Some(parent) = dir.parent() {
                sync_dir(parent)?;
            }
            drop(trash);
            removed = true;
        }
        Ok(removed)
    }

    /// The ids of images that other stored images name as dependencies (by id or by name and labels).
    pub fn dependents_of(&self, img: &AppcImage) -> Result<Vec<String>> {
        let mut by = Vec::new();
        for other in self.list()? {
            let needs = other.manifest.dependencies.iter().any(|d| {
                let dep = d.appc_name();
                dep.id_matches(img.id())
                    && (dep.id.is_some()
                        || dep.matches(&img.manifest.name, &img.manifest.label_map()))
            });
            if needs && other.id() != img.id() {
                by.push(other.reference());
            }
        }
        Ok(by)
    }

    /// Directories in `images/` or `rendered/` that are not complete images (a crash between a rename and its
    /// record cannot leave one, but a hand-edited store can); with `repair`, they are removed.
    pub fn check(&self, repair: bool) -> Result<Vec<PathBuf>> {
        let mut bad = Vec::new();
        for sub in ["images", "rendered"] {
            let dir = self.root.join(sub);
            for e in std::fs::read_dir(&dir).at(&dir)?.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let ok = super::name::check_id(&name).is_ok()
                    && name.len() == "sha512-".len() + 128
                    && match sub {
                        "images" => matches!(self.get(&name), Ok(Some(_))),
                        _ => e.path().join("rootfs").is_dir() && self.get(&name)?.is_some(),
                    };
                if !ok {
                    if repair {
                        remove_tree(&e.path()).at(e.path())?;
                    }
                    bad.push(e.path());
                }
            }
        }
        Ok(bad)
    }
}
