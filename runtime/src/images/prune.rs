//! Image garbage collection (`PRUNE_IMAGES`, the agent's `--image_gc_config`, `ucr prune --all`): every image
//! record not kept is removed, then every blob and layer no record references. An image is kept when it is
//! excluded by name, or when a live container stands on it — by its manifest digest once provisioned, by its
//! reference while it is still being provisioned (so a pull that just committed is not pruned under its launch).
//! AppC images go the same way (`appc_gc`), with what kept images stand on kept too.

use ucr_registry::{ImageName, NameKind};

use super::error::Result;
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

impl Images {
    pub fn prune_unused(&self, keep: &Keep) -> Result<Pruned> {
        let store = self.store()?;
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
        {
            let _lock = store.lock_exclusive()?;
            for r in store.list_images()? {
                let in_use = keep.digests.contains(&r.manifest_digest.to_string());
                if in_use || kept.contains(&r.reference) {
                    continue;
                }
                if store.remove_image(&r.reference)? {
                    out.images.push(r.reference);
                }
            }
        }
        out.freed = store.prune()?;
        let referenced: Vec<ImageName> = keep
            .references
            .iter()
            .filter_map(|r| ImageName::parse(r).ok())
            .collect();
        let appc_names: Vec<_> = keep
            .names
            .iter()
            .chain(&referenced)
            .filter_map(|n| match n.kind() {
                NameKind::Appc(a) => Some(a.clone()),
                _ => None,
            })
            .collect();
        out.images
            .extend(self.prune_appc(&keep.digests, &appc_names)?);
        Ok(out)
    }
}
