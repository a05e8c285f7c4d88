//! Image garbage collection (`PRUNE_IMAGES`, the agent's `--image_gc_config`, `ucr prune --all`): every image
//! record not kept is removed, then every blob and layer no record references. An image is kept when it is
//! excluded by name, or when a live container stands on it — by its manifest digest once provisioned, by its
//! reference while it is still being provisioned (so a pull that just committed is not pruned under its launch).
//! AppC images go the same way (`appc_gc`), with what kept images stand on kept too.
//!
//! What live containers use is asked with the store's exclusive lock held: a launch holds the lock shared
//! from finding its image until it has recorded it (`Images::provide_held`), so every launch is either counted
//! or finds the image gone and pulls it again. Asked before the lock, a launch could record its image after
//! the asking and before the removal.

use ucr_registry::{ImageName, NameKind};

use super::error::{ImageError, Result};
use super::service::Images;

/// What a collection removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// The references whose records were removed.
    pub images: Vec<String>,
    /// Bytes of blobs and layers freed.
    pub freed: u64,
}

/// What must stay.
#[derive(Clone, Debug, Default)]
pub struct Keep {
    /// Excluded by the operator or the call.
    pub names: Vec<ImageName>,
    /// Manifest digests of the images live containers use.
    pub digests: Vec<String>,
    /// References (as the containers name them) of live containers not provisioned yet.
    pub references: Vec<String>,
}

/// Asks what must stay (what live containers use, and the names excluded); called under each store's lock.
pub type Keeping<'a> = &'a dyn Fn() -> std::result::Result<Keep, String>;

/// [`Keeping`]'s answer, as an image error.
pub(super) fn ask(keeping: Keeping<'_>) -> Result<Keep> {
    keeping().map_err(ImageError::InUse)
}

impl Images {
    pub fn prune_unused(&self, keeping: Keeping<'_>) -> Result<Pruned> {
        let store = self.store()?;
        let _lock = store.lock_exclusive()?;
        let keep = ask(keeping)?;
        let normal = |written: &str| match ImageName::parse(written).ok().map(|n| n.kind().clone())
        {
            Some(NameKind::Registry(r)) => Some(r.to_string()),
            _ => None,
        };
        let mut kept: Vec<String> = keep
            .names
            .iter()
            .filter_map(|n| normal(n.as_str()))
            .collect();
        kept.extend(keep.references.iter().filter_map(|r| normal(r)));
        let mut out = Pruned::default();
        for r in store.list_images()? {
            let in_use = keep.digests.contains(&r.manifest_digest.to_string());
            if in_use || kept.contains(&r.reference) {
                continue;
            }
            if store.remove_image(&r.reference)? {
                out.images.push(r.reference);
            }
        }
        // The layer sweep takes the lock itself (a second exclusive lock would wait for this one).
        drop(_lock);
        out.freed = store.prune()?;
        out.images.extend(self.prune_appc(keeping)?);
        Ok(out)
    }
}

impl Keep {
    /// The AppC names kept: excluded ones, and those of live containers not provisioned yet.
    pub fn appc_names(&self) -> Vec<ucr_registry::appc::AppcName> {
        let referenced: Vec<ImageName> = self
            .references
            .iter()
            .filter_map(|r| ImageName::parse(r).ok())
            .collect();
        self.names
            .iter()
            .chain(&referenced)
            .filter_map(|n| match n.kind() {
                NameKind::Appc(a) => Some(a.clone()),
                _ => None,
            })
            .collect()
    }
}
