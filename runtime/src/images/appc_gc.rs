//! Removing AppC images (`ucr rmi`, `ucr prune --all`, the agent's `PRUNE_IMAGES`): an image stays while a live
//! container stands on it, or on an image that depends on it (directly or deeper), and `rmi` refuses an image
//! another stored image names as a dependency, since removing it would only make that image fetch it again
//! at its next launch (rkt removed it regardless; Mesos has no removal at all).

use std::collections::BTreeSet;

use ucr_registry::appc::store::{AppcImage, AppcStore};
use ucr_registry::appc::{AppcError, AppcName};

use super::error::Result;
use super::prune::{ask, Keep, Keeping};
use super::service::Images;

/// The ids of `ids` and of every image they stand on, as the store resolves their dependencies now.
pub fn closure(store: &AppcStore, ids: &[String]) -> Result<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    let mut todo: Vec<AppcImage> = ids
        .iter()
        .filter_map(|id| store.get(id).ok().flatten())
        .collect();
    while let Some(img) = todo.pop() {
        if !out.insert(img.id().to_string()) {
            continue;
        }
        for d in &img.manifest.dependencies {
            let dep = d.appc_name();
            if let Some(found) = store.find(&dep)? {
                todo.push(found);
            }
        }
    }
    Ok(out)
}

/// The ids of the AppC images `keep` keeps: live containers' (their digests are AppC ids), and those named
/// (excluded, or by a container not provisioned yet).
fn roots(store: &AppcStore, keep: &Keep) -> Result<Vec<String>> {
    let mut roots = keep.digests.clone();
    for n in &keep.appc_names() {
        if let Some(i) = store.find(n)? {
            roots.push(i.id().to_string());
        }
    }
    Ok(roots)
}

impl Images {
    /// The one stored AppC image `query` names: `appc:NAME[:VERSION]...` or an id (`sha512-` and at least 12
    /// hex digits).
    pub fn find_appc(&self, query: &str) -> Result<Option<AppcImage>> {
        let puller = self.appc()?;
        let store = puller.store();
        if let Some(rest) = query.strip_prefix("appc:") {
            let name = AppcName::parse(rest)?;
            return Ok(store.find(&name)?);
        }
        if query.starts_with("sha512-") && query.len() >= "sha512-".len() + 12 {
            let found: Vec<AppcImage> = store
                .list()?
                .into_iter()
                .filter(|i| i.id().starts_with(query))
                .collect();
            return Ok(match found.len() {
                1 => found.into_iter().next(),
                _ => None,
            });
        }
        Ok(None)
    }

    /// `ucr rmi` of an AppC image, unless a live container uses it (`keeping`'s digests, AppC image ids for
    /// AppC containers, asked under the lock as in `prune.rs`).
    pub fn remove_appc(&self, img: &AppcImage, keeping: Keeping<'_>) -> Result<()> {
        let puller = self.appc()?;
        let store = puller.store();
        let _lock = store.lock_exclusive()?;
        if closure(store, &roots(store, &ask(keeping)?)?)?.contains(img.id()) {
            return Err(AppcError::Needed {
                image: img.reference(),
                by: "a live container (remove it first)".into(),
            }
            .into());
        }
        let by = store.dependents_of(img)?;
        if !by.is_empty() {
            return Err(AppcError::Needed {
                image: img.reference(),
                by: by.join(", "),
            }
            .into());
        }
        store.remove(img.id())?;
        Ok(())
    }

    /// Removes every AppC image not kept (`keeping`, asked under the lock: the ids live containers use, the
    /// names excluded or not provisioned yet); what they stand on stays too. Returns the references removed.
    pub fn prune_appc(&self, keeping: Keeping<'_>) -> Result<Vec<String>> {
        let puller = self.appc()?;
        let store = puller.store();
        let _lock = store.lock_exclusive()?;
        let kept = closure(store, &roots(store, &ask(keeping)?)?)?;
        let mut removed = Vec::new();
        for img in store.list()? {
            if !kept.contains(img.id()) && store.remove(img.id())? {
                removed.push(format!("{} ({})", img.reference(), img.id()));
            }
        }
        Ok(removed)
    }
}
