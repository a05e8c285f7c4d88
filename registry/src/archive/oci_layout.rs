//! OCI image layouts (`oci-layout`, `index.json`, `blobs/<algo>/<hex>`), from skopeo/umoci/buildah and from
//! Docker ≥ 25 `docker save`. Every descriptor states digest and size, so manifests and configs are verified
//! here as they are read and layers later as they stream. Names come from the descriptor annotations:
//! `io.containerd.image.name` (a full reference, written by docker and containerd) and
//! `org.opencontainers.image.ref.name` (a full reference from skopeo, or just a tag). An entry that is itself
//! an index is resolved to the requested platform among the manifests present in the layout.

use serde::Deserialize;

use super::candidate::{add_name, Body, Candidate, Image, LayerSource, StoredManifest};
use super::error::LoadError;
use super::members::Members;
use crate::digest::Digest;
use crate::manifest::{
    self, Descriptor, ImageConfig, IndexEntry, Parsed, MAX_CONFIG_BYTES, MAX_INDEX_NESTING,
    MAX_MANIFEST_BYTES,
};
use crate::platform::Platform;

pub(crate) const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub(crate) const CONTAINERD_NAME: &str = "io.containerd.image.name";

#[derive(Deserialize)]
struct Layout {
    #[serde(rename = "imageLayoutVersion")]
    version: String,
}

pub(crate) fn blob_member(d: &Digest) -> String {
    format!("blobs/{}/{}", d.algo().name(), d.hex())
}

/// Reads a small blob and checks its size and digest.
fn read_blob(
    members: &Members,
    digest: &Digest,
    size: u64,
    limit: u64,
) -> Result<(String, Vec<u8>), LoadError> {
    let member = blob_member(digest);
    let bytes = members.read_small(&member, limit)?;
    if bytes.len() as u64 != size {
        return Err(LoadError::Size {
            member,
            expected: size,
            got: bytes.len() as u64,
        });
    }
    let got = Digest::of(digest.algo(), &bytes);
    if &got != digest {
        return Err(LoadError::Digest {
            member,
            expected: digest.clone(),
            got,
        });
    }
    Ok((member, bytes))
}

fn parse(member: &str, bytes: &[u8], media_type: &str) -> Result<(String, Parsed), LoadError> {
    let header = (!media_type.is_empty()).then_some(media_type);
    manifest::parse(bytes, header, member).map_err(|e| match e {
        crate::Error::Manifest { why, .. } => LoadError::member(member, why),
        other => LoadError::member(member, other.to_string()),
    })
}

/// The images of the layout, for `platform`.
pub(super) fn candidates(
    members: &Members,
    platform: &Platform,
) -> Result<Vec<Candidate>, LoadError> {
    // The layout marker is required by the spec, but some writers omit it: check it only when present.
    if members.exists("oci-layout") {
        let bytes = members.read_small("oci-layout", 64 << 10)?;
        let l: Layout = serde_json::from_slice(&bytes)
            .map_err(|e| LoadError::member("oci-layout", format!("unreadable JSON: {e}")))?;
        if !l.version.starts_with("1.") {
            return Err(LoadError::member(
                "oci-layout",
                format!(
                    "image layout version {} is not supported (1.x is)",
                    l.version
                ),
            ));
        }
    }
    let bytes = members.read_small("index.json", MAX_MANIFEST_BYTES)?;
    // image-layout.md: index.json is an image index, held to the same rules as one from a registry.
    let entries = match parse("index.json", &bytes, manifest::OCI_INDEX)? {
        (_, Parsed::Index(entries)) => entries,
        _ => {
            return Err(LoadError::member(
                "index.json",
                "is a manifest, not an index",
            ))
        }
    };
    // Some writers (buildah, `docker save --platform`) list each platform of one name as its own entry: then
    // the entries for other platforms are skipped. A lone entry for another platform is still loaded, as
    // `docker load` does (running it is another matter). Entries of unknown media types are skipped
    // (index.md: never an error).
    let key = |d: &IndexEntry| {
        d.annotations
            .get(REF_NAME)
            .or_else(|| d.annotations.get(CONTAINERD_NAME))
            .cloned()
    };
    let fits = |d: &IndexEntry| {
        d.platform
            .as_ref()
            .is_none_or(|p| platform.matches(&p.os, &p.architecture, p.variant.as_deref()))
    };
    let keep: Vec<bool> = entries
        .iter()
        .map(|d| {
            crate::conformance::is_known_entry(&d.media_type)
                && (fits(d) || !entries.iter().any(|o| key(o) == key(d) && fits(o)))
        })
        .collect();
    let mut out = Vec::new();
    for (d, keep) in entries.iter().zip(keep) {
        if !keep {
            continue;
        }
        let Some(image) = resolve(members, d, platform)? else {
            continue;
        };
        let mut c = Candidate {
            names: Vec::new(),
            labels: Vec::new(),
            body: Body::Ready(Box::new(image)),
        };
        for key in [CONTAINERD_NAME, REF_NAME] {
            if let Some(n) = d.annotations.get(key) {
                add_name(&mut c, n);
            }
        }
        out.push(c);
    }
    Ok(out)
}

/// The image a top-level entry names for `platform`, following indexes (nested ones too); `None` when an
/// index has no manifest for it among the blobs present (Docker and `skopeo copy --all` keep the whole index
/// but maybe only some platforms' blobs).
fn resolve(
    members: &Members,
    top: &IndexEntry,
    platform: &Platform,
) -> Result<Option<Image>, LoadError> {
    let (mut digest, mut size, mut media_type) =
        (top.digest.clone(), top.size, top.media_type.clone());
    let mut outer = None;
    for _ in 0..=MAX_INDEX_NESTING {
        let (member, bytes) = read_blob(members, &digest, size, MAX_MANIFEST_BYTES)?;
        let entries = match parse(&member, &bytes, &media_type)? {
            (mt, Parsed::Image { config, layers }) => {
                let stored = StoredManifest {
                    digest,
                    media_type: mt,
                    raw: bytes,
                };
                return image(members, stored, outer, &config, &layers).map(Some);
            }
            (_, Parsed::Index(entries)) => entries,
        };
        let present: Vec<_> = entries
            .into_iter()
            .filter(|e| members.exists(&blob_member(&e.digest)))
            .collect();
        let Some(chosen) = manifest::select(&present, platform) else {
            return Ok(None);
        };
        let next = (
            chosen.digest.clone(),
            chosen.size,
            chosen.media_type.clone(),
        );
        outer.get_or_insert((digest, bytes));
        (digest, size, media_type) = next;
    }
    Err(LoadError::member(
        &blob_member(&top.digest),
        format!("indexes nested more than {MAX_INDEX_NESTING} deep"),
    ))
}

fn image(
    members: &Members,
    manifest: StoredManifest,
    index: Option<(Digest, Vec<u8>)>,
    config: &Descriptor,
    layers: &[Descriptor],
) -> Result<Image, LoadError> {
    let (cmember, cbytes) = read_blob(members, &config.digest, config.size, MAX_CONFIG_BYTES)?;
    let parsed: ImageConfig = serde_json::from_slice(&cbytes)
        .map_err(|e| LoadError::member(&cmember, format!("unreadable image config: {e}")))?;
    parsed
        .conform(layers.len())
        .map_err(|why| LoadError::member(&cmember, why))?;
    let layers = layers
        .iter()
        .zip(&parsed.rootfs.diff_ids)
        .map(|(l, d)| {
            let member = blob_member(&l.digest);
            if !l.urls.is_empty() && !members.exists(&member) {
                return Err(LoadError::member(
                    &member,
                    format!(
                        "not in the archive: a foreign layer (to be fetched from {}); ucr loads only what the archive holds",
                        l.urls.join(", ")
                    ),
                ));
            }
            Ok(LayerSource {
                member,
                digest: Some(l.digest.clone()),
                size: Some(l.size),
                media_type: Some(l.media_type.clone()),
                diff_id: d.clone(),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Image {
        manifest: Some(manifest),
        index,
        config: cbytes,
        config_digest: config.digest.clone(),
        config_media_type: config.media_type.clone(),
        parsed,
        layers,
    })
}
