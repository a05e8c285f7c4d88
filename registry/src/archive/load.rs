//! `load`: open the archive, discover its images in whichever format it is, choose the ones asked for, name
//! them, then ingest their layers and register them, all under the store's shared lock.

use std::path::Path;

use super::candidate::{add_name, Body, Candidate, Image};
use super::docker;
use super::error::{ArchiveError, LoadError};
use super::ingest;
use super::members::Members;
use super::oci_layout;
use super::options::{LoadOptions, Selector};
use crate::error::Result;
use crate::platform::Platform;
use crate::reference::ImageRef;
use crate::store::{ImageRecord, Store};

/// Loads the images of the archive or layout at `path` into `store`; returns one record per name registered.
pub fn load(store: &Store, path: &Path, opts: &LoadOptions) -> Result<Vec<ImageRecord>> {
    load_inner(store, path, opts).map_err(|source| {
        ArchiveError::Load {
            archive: path.to_path_buf(),
            source,
        }
        .into()
    })
}

fn load_inner(
    store: &Store,
    path: &Path,
    opts: &LoadOptions,
) -> Result<Vec<ImageRecord>, LoadError> {
    // Shared, like a pull: prune and check (exclusive) cannot remove what this load relies on meanwhile.
    let _lock = store.lock_shared()?;
    let members = Members::open(path, store)?;
    let all = discover(&members, &opts.platform)?;
    let chosen = choose(all, opts)?;
    let named: Vec<(Image, Vec<ImageRef>)> = {
        let unnamed = chosen.iter().filter(|c| c.names.is_empty()).count();
        let mut k = 0;
        chosen
            .into_iter()
            .map(|c| {
                let names = match &opts.name {
                    Some(n) => vec![n.clone()],
                    None if c.names.is_empty() => {
                        k += 1;
                        vec![fallback_name(path, &c, k, unnamed)?]
                    }
                    None => dedup(c.names.clone()),
                };
                let image = match c.body {
                    Body::Ready(i) => *i,
                    Body::Legacy(l) => docker::complete_legacy(&members, &l, &opts.limits)?,
                };
                Ok((image, names))
            })
            .collect::<Result<_, LoadError>>()?
    };
    let layers = ingest::ingest(store, &members, named.iter().map(|(c, _)| c), &opts.limits)?;
    let mut out = Vec::new();
    for ((c, names), layers) in named.iter().zip(layers) {
        out.extend(ingest::register(store, c, layers, names)?);
    }
    Ok(out)
}

/// The archive's images, whatever its format.
fn discover(members: &Members, platform: &Platform) -> Result<Vec<Candidate>, LoadError> {
    let found = if members.exists("index.json") {
        let mut c = oci_layout::candidates(members, platform)?;
        // Docker ≥ 25 writes an OCI layout plus a manifest.json: its RepoTags are the names docker gave.
        if members.exists("manifest.json") {
            let tags = docker::repo_tags_by_config(members)?;
            for cand in &mut c {
                let Body::Ready(image) = &cand.body else {
                    continue;
                };
                for t in tags
                    .get(&image.config_digest)
                    .cloned()
                    .into_iter()
                    .flatten()
                {
                    add_name(cand, &t);
                }
            }
        }
        if c.is_empty() {
            return Err(LoadError::NoPlatform {
                platform: platform.to_string(),
            });
        }
        c
    } else if members.exists("manifest.json") {
        docker::manifest_candidates(members)?
    } else if members.exists("repositories") {
        docker::legacy_candidates(members)?
    } else {
        return Err(LoadError::NotAnArchive(
            "it has no index.json (OCI layout), manifest.json or repositories (docker save)".into(),
        ));
    };
    if found.is_empty() {
        return Err(LoadError::NotAnArchive("it lists no image".into()));
    }
    Ok(found)
}

fn choose(all: Vec<Candidate>, opts: &LoadOptions) -> Result<Vec<Candidate>, LoadError> {
    let available = || {
        all.iter()
            .map(Candidate::describe)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match &opts.select {
        None => {
            if opts.single && all.len() > 1 {
                return Err(LoadError::Ambiguous {
                    count: all.len(),
                    available: available(),
                });
            }
            all
        }
        Some(Selector::Index(i)) => {
            if *i >= all.len() {
                return Err(LoadError::NoImage {
                    want: format!("@{i}"),
                    available: available(),
                });
            }
            all.into_iter().skip(*i).take(1).collect()
        }
        Some(Selector::Name(want) | Selector::NameOrOnly(want)) => {
            let or_only = matches!(opts.select, Some(Selector::NameOrOnly(_)));
            let norm = ImageRef::parse(want).ok();
            let hit = all.iter().position(|c| {
                c.labels.iter().any(|l| l == want)
                    || norm.as_ref().is_some_and(|n| c.names.contains(n))
            });
            match hit {
                Some(i) => all.into_iter().skip(i).take(1).collect(),
                None if or_only && all.len() == 1 => all,
                None => {
                    return Err(LoadError::NoImage {
                        want: want.clone(),
                        available: available(),
                    })
                }
            }
        }
    };
    Ok(chosen)
}

fn dedup(mut v: Vec<ImageRef>) -> Vec<ImageRef> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|r| seen.insert(r.to_string()));
    v
}

/// A name for an image the archive names none: `localhost/<file stem>:<tag>`, the tag from a bare OCI
/// `ref.name` if there is one, else `latest` (numbered when several images are unnamed). The store keys images
/// by name, and a recorded name is what keeps `prune` from taking the layers of a running container.
fn fallback_name(
    path: &Path,
    c: &Candidate,
    k: usize,
    unnamed: usize,
) -> Result<ImageRef, LoadError> {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut stem = file.as_str();
    for ext in [".tar.gz", ".tgz", ".tar.zst", ".tar", ".oci"] {
        if let Some(s) = stem.strip_suffix(ext) {
            stem = s;
            break;
        }
    }
    let stem: String = stem
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect();
    let stem = stem.trim_matches('-');
    let tag = match c.labels.iter().find(|l| !l.contains(['/', ':', '@'])) {
        Some(t) if unnamed == 1 => t.clone(),
        _ if unnamed == 1 => "latest".to_string(),
        _ => format!("image-{k}"),
    };
    let stem = if stem.is_empty() { "image" } else { stem };
    // The archive's tag may not be a valid docker tag (OCI ref.name allows more); then the plain form.
    ImageRef::parse(&format!("localhost/{stem}:{tag}"))
        .or_else(|_| ImageRef::parse(&format!("localhost/{stem}:image-{k}")))
        .or_else(|_| ImageRef::parse(&format!("localhost/image:image-{k}")))
        .map_err(LoadError::from)
}
