//! Offline images: `ucr load` / `ucr save` and the file-based image sources.
//!
//! Formats read (from a tar, a gzip/zstd compressed tar, or a directory):
//! - OCI image layouts (`oci-layout`, `index.json`, `blobs/<algo>/<hex>`), which is also what Docker ≥ 25
//!   `docker save` writes (plus a `manifest.json` whose `RepoTags` we take as names);
//! - `docker save` archives with `manifest.json` (Docker 1.10–24, skopeo `docker-archive:`);
//! - the legacy `docker save` layout (`repositories`, `<id>/json` with `parent`, `<id>/layer.tar`), the only
//!   one Mesos reads.
//!
//! Every archive becomes a list of [`Candidate`]s whose small parts (manifests, configs) are read and verified
//! first; `ingest` then streams the layers through the same single pass as a pull (hash the member, inflate,
//! hash the tar, confined apply into staging), skipping layers the store already has, and commits blobs,
//! layers and finally the image records only when every layer of the load verified. A damaged archive
//! therefore fails naming the member at fault and leaves nothing registered and nothing in staging.
//!
//! Files: `members` (reading members of any container), `docker` (both docker-archive forms), `oci_layout`,
//! `ingest` (verify, stage, commit, register), `save` (the OCI layout tar writer), `source` (the
//! `--docker_registry` directory naming and the `docker-archive:` / `oci-archive:` / `oci:` references),
//! `error`.

mod docker;
mod error;
mod ingest;
mod members;
mod oci_layout;
mod save;
mod source;

use std::path::Path;

pub use error::{ArchiveError, LoadError, SaveError};
pub use save::save;
pub use source::{
    find_in_registry_dir, registry_dir_names, remote_registry, with_default_registry, ArchiveRef,
    Transport,
};

use crate::digest::Digest;
use crate::error::Result;
use crate::manifest::ImageConfig;
use crate::platform::Platform;
use crate::reference::ImageRef;
use crate::store::{ImageRecord, Store};
use crate::unpack::Limits;
use members::Members;

/// Which image of an archive to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// The image the archive names so: an OCI `ref.name` as written, a `RepoTags` entry, or any name that
    /// normalizes to the same reference (`busybox` = `docker.io/library/busybox:latest`).
    Name(String),
    /// As `Name`, but an archive holding only one image gives that image whatever it is called in there
    /// (`ucr load --name`, and a `--docker_registry` file, which Mesos takes by its file name alone).
    NameOrOnly(String),
    /// The n-th image (0-based), as skopeo's `docker-archive:PATH:@N`.
    Index(usize),
}

#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The platform to pick from multi-platform indexes.
    pub platform: Platform,
    pub limits: Limits,
    /// Load only this image.
    pub select: Option<Selector>,
    /// Record the loaded image under this name instead of the names the archive gives it.
    pub name: Option<ImageRef>,
    /// Exactly one image must be chosen (an image source for `run`/`pull`, not `ucr load`).
    pub single: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            platform: Platform::host(),
            limits: Limits::default(),
            select: None,
            name: None,
            single: false,
        }
    }
}

/// One image found in an archive, with the names the archive gives it.
pub(crate) struct Candidate {
    /// Normalized names the archive gives it.
    pub names: Vec<ImageRef>,
    /// Names as written in the archive (`RepoTags`, `repo:tag`, OCI `ref.name`), matched literally.
    pub labels: Vec<String>,
    pub body: Body,
}

pub(crate) enum Body {
    Ready(Box<Image>),
    /// A legacy docker image: its diff_ids (and so its config) are known only after hashing its layers,
    /// which is done for the images chosen, not for every image of the archive.
    Legacy(docker::Legacy),
}

/// An image whose manifest and config are read and verified; its layers are not read yet.
pub(crate) struct Image {
    /// The manifest as stored in the archive; `None` for docker archives, whose manifest is made up on load.
    pub manifest: Option<StoredManifest>,
    /// The index the manifest was chosen from.
    pub index: Option<(Digest, Vec<u8>)>,
    pub config: Vec<u8>,
    pub config_digest: Digest,
    pub config_media_type: String,
    pub parsed: ImageConfig,
    pub layers: Vec<LayerSource>,
}

pub(crate) struct StoredManifest {
    pub digest: Digest,
    pub media_type: String,
    pub raw: Vec<u8>,
}

/// Where one layer's bytes are and what they must hash to.
#[derive(Clone, Debug)]
pub(crate) struct LayerSource {
    pub member: String,
    /// The blob digest, when the archive states it (OCI descriptors, `blobs/sha256/<hex>` names).
    pub digest: Option<Digest>,
    pub size: Option<u64>,
    pub media_type: Option<String>,
    /// From the image config: what the uncompressed tar must hash to.
    pub diff_id: Digest,
}

impl Candidate {
    fn describe(&self) -> String {
        self.names
            .first()
            .map(|n| n.familiar())
            .or_else(|| self.labels.first().cloned())
            .unwrap_or_else(|| match &self.body {
                Body::Ready(i) => format!("unnamed image {}", i.config_digest),
                Body::Legacy(l) => format!("unnamed image {}", l.top_id()),
            })
    }
}

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

/// Records `label` (as written) and, if it is a full reference, its normalized form.
pub(crate) fn add_name(c: &mut Candidate, label: &str) {
    if !c.labels.iter().any(|l| l == label) {
        c.labels.push(label.to_string());
    }
    // A bare OCI ref.name (`latest`, `v1`) is a tag, not an image name: `busybox:latest` and
    // `reg/app` are names.
    if !label.contains(['/', ':', '@']) {
        return;
    }
    match ImageRef::parse(label) {
        Ok(r) if !c.names.contains(&r) => c.names.push(r),
        Ok(_) => {}
        Err(e) => tracing::warn!(name = label, error = %e, "ignoring an image name in the archive"),
    }
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
