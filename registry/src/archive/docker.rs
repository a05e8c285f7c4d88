//! `docker save` archives, both forms:
//! - `manifest.json` (Docker 1.10–24, skopeo `docker-archive:`): `[{"Config": "<hex>.json", "RepoTags": [..],
//!   "Layers": ["<id>/layer.tar" | "<diff_id hex>.tar" | "blobs/sha256/<hex>"]}]`. The config names the
//!   layers' diff_ids, so every layer is verified against it; a config or layer named by its digest is
//!   verified against that name too.
//! - legacy (Docker < 1.10, and what Mesos reads): `repositories` (`{"repo": {"tag": "<top id>"}}`) and one
//!   directory per layer, `<id>/json` (a v1 image JSON with `parent`) and `<id>/layer.tar`. Nothing there is
//!   content-addressed: the diff_ids are computed by hashing each `layer.tar` once (cheap next to unpacking,
//!   and it lets layers the store already has be skipped), and the image config is made from the top layer's
//!   v1 JSON as docker itself converts it (drop the v1 fields, add `rootfs` and `history`).
//!
//! A Docker ≥ 25 archive (an OCI layout plus `manifest.json`) is read as an OCI layout; only its `RepoTags`
//! come from here ([`repo_tags_by_config`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicBool;

use serde::Deserialize;
use serde_json::Value;

use super::candidate::{add_name, Body, Candidate, Image, LayerSource, Legacy};
use super::error::LoadError;
use super::members::{normalize, Members};
use crate::digest::{Algo, Digest};
use crate::manifest::{ImageConfig, MAX_CONFIG_BYTES};
use crate::unpack::Limits;

pub(crate) const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// `manifest.json` and `repositories` list every image of the archive: allow more than one manifest's worth.
const LIST_LIMIT: u64 = 16 << 20;
/// A v1 layer JSON is a few kB; refuse absurd ones.
const V1_JSON_LIMIT: u64 = 4 << 20;
/// Parent chains longer than this are a loop or hostile (docker never exceeded 127 layers).
const MAX_CHAIN: usize = 1000;

#[derive(Deserialize)]
struct ManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

fn read_json<T: serde::de::DeserializeOwned>(
    members: &Members,
    name: &str,
    limit: u64,
) -> Result<T, LoadError> {
    let bytes = members.read_small(name, limit)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| LoadError::member(name, format!("unreadable JSON: {e}")))
}

/// The digest a member's name states: `blobs/<algo>/<hex>`, or `<hex>.json` for configs (docker names them
/// by their digest).
pub(crate) fn digest_in_name(member: &str, config: bool) -> Option<Digest> {
    let parts: Vec<&str> = member.split('/').collect();
    if let ["blobs", algo, hex] = parts.as_slice() {
        return format!("{algo}:{hex}").parse().ok();
    }
    let hex = member.strip_suffix(".json").filter(|_| config)?;
    format!("sha256:{hex}").parse().ok()
}

/// Reads a config member and checks it against the digest its name states, if any.
fn read_config(
    members: &Members,
    member: &str,
) -> Result<(Vec<u8>, Digest, ImageConfig), LoadError> {
    let bytes = members.read_small(member, MAX_CONFIG_BYTES)?;
    let got = Digest::of(Algo::Sha256, &bytes);
    let digest = match digest_in_name(member, true) {
        Some(want) => {
            let got = Digest::of(want.algo(), &bytes);
            if got != want {
                return Err(LoadError::Digest {
                    member: member.to_string(),
                    expected: want,
                    got,
                });
            }
            want
        }
        None => got,
    };
    let parsed: ImageConfig = serde_json::from_slice(&bytes)
        .map_err(|e| LoadError::member(member, format!("unreadable image config: {e}")))?;
    Ok((bytes, digest, parsed))
}

/// Images of a `manifest.json` archive.
pub(super) fn manifest_candidates(members: &Members) -> Result<Vec<Candidate>, LoadError> {
    let entries: Vec<ManifestEntry> = read_json(members, "manifest.json", LIST_LIMIT)?;
    let mut out = Vec::new();
    for e in entries {
        let member = normalize(&e.config);
        let (config, config_digest, parsed) = read_config(members, &member)?;
        parsed
            .conform(e.layers.len())
            .map_err(|why| LoadError::member(&member, why))?;
        let diff_ids = &parsed.rootfs.diff_ids;
        let layers = e
            .layers
            .iter()
            .zip(diff_ids)
            .map(|(l, d)| {
                let member = normalize(l);
                LayerSource {
                    digest: digest_in_name(&member, false),
                    member,
                    size: None,
                    media_type: None,
                    diff_id: d.clone(),
                }
            })
            .collect();
        let mut c = Candidate {
            names: Vec::new(),
            labels: Vec::new(),
            body: Body::Ready(Box::new(Image {
                manifest: None,
                index: None,
                config,
                config_digest,
                config_media_type: DOCKER_CONFIG.into(),
                parsed,
                layers,
            })),
        };
        for t in e.repo_tags.iter().flatten() {
            add_name(&mut c, t);
        }
        out.push(c);
    }
    Ok(out)
}

/// `RepoTags` of a `manifest.json`, keyed by config digest (for Docker ≥ 25 archives read as OCI layouts).
pub(super) fn repo_tags_by_config(
    members: &Members,
) -> Result<HashMap<Digest, Vec<String>>, LoadError> {
    let entries: Vec<ManifestEntry> = read_json(members, "manifest.json", LIST_LIMIT)?;
    let mut out: HashMap<Digest, Vec<String>> = HashMap::new();
    for e in entries {
        let member = normalize(&e.config);
        let digest = match digest_in_name(&member, true) {
            Some(d) => d,
            None => read_config(members, &member)?.1,
        };
        out.entry(digest)
            .or_default()
            .extend(e.repo_tags.into_iter().flatten());
    }
    Ok(out)
}

/// Images of a legacy archive (`repositories` + `<id>/json` + `<id>/layer.tar`).
pub(super) fn legacy_candidates(members: &Members) -> Result<Vec<Candidate>, LoadError> {
    let repos: BTreeMap<String, BTreeMap<String, String>> =
        read_json(members, "repositories", LIST_LIMIT)?;
    // Several tags may name the same top layer: one image with several names.
    let mut tops: Vec<(String, Vec<String>)> = Vec::new();
    for (repo, tags) in &repos {
        for (tag, id) in tags {
            let label = format!("{repo}:{tag}");
            match tops.iter_mut().find(|(t, _)| t == id) {
                Some((_, labels)) => labels.push(label),
                None => tops.push((id.clone(), vec![label])),
            }
        }
    }
    let mut out = Vec::new();
    for (top, labels) in tops {
        let chain = parent_chain(members, &top)?;
        let mut c = Candidate {
            names: Vec::new(),
            labels: Vec::new(),
            body: Body::Legacy(Legacy { chain }),
        };
        for l in &labels {
            add_name(&mut c, l);
        }
        out.push(c);
    }
    Ok(out)
}

fn parent_chain(members: &Members, top: &str) -> Result<Vec<(String, Value)>, LoadError> {
    let mut chain = Vec::new();
    let mut seen = HashSet::new();
    let mut id = top.to_string();
    loop {
        if id.is_empty() || id.contains('/') || id == "." || id == ".." {
            return Err(LoadError::member(
                "repositories",
                format!("invalid layer id `{id}`"),
            ));
        }
        if !seen.insert(id.clone()) || chain.len() >= MAX_CHAIN {
            return Err(LoadError::member(
                &format!("{id}/json"),
                "the parent chain loops or is too long",
            ));
        }
        let v: Value = read_json(members, &format!("{id}/json"), V1_JSON_LIMIT)?;
        let parent = v
            .get("parent")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        chain.push((id, v));
        if parent.is_empty() {
            break;
        }
        id = parent;
    }
    chain.reverse();
    Ok(chain)
}

/// Hashes the legacy image's layers (the diff_ids nothing in the archive states) and makes its image config.
pub(super) fn complete_legacy(
    members: &Members,
    legacy: &Legacy,
    limits: &Limits,
) -> Result<Image, LoadError> {
    let sources: Vec<String> = legacy
        .chain
        .iter()
        .map(|(id, _)| format!("{id}/layer.tar"))
        .collect();
    let hashed = super::ingest::parallel(&sources, |member, cancel: &AtomicBool| {
        super::ingest::hash_member(members, member, limits, cancel)
    })?;
    let layers: Vec<LayerSource> = sources
        .into_iter()
        .zip(hashed)
        .map(|(member, h)| LayerSource {
            member,
            digest: Some(h.digest),
            size: Some(h.size),
            media_type: None,
            diff_id: h.diff_id,
        })
        .collect();
    let config = v1_config(&legacy.chain, &layers);
    let config = serde_json::to_vec(&config)
        .map_err(|e| LoadError::member(&format!("{}/json", legacy.top_id()), e.to_string()))?;
    let config_digest = Digest::of(Algo::Sha256, &config);
    let parsed: ImageConfig = serde_json::from_slice(&config).map_err(|e| {
        LoadError::member(
            &format!("{}/json", legacy.top_id()),
            format!("unreadable v1 image JSON: {e}"),
        )
    })?;
    Ok(Image {
        manifest: None,
        index: None,
        config,
        config_digest,
        config_media_type: DOCKER_CONFIG.into(),
        parsed,
        layers,
    })
}

/// The image config docker makes from a v1 image JSON: the v1-only fields dropped, `rootfs` and `history`
/// added (one history entry per layer, from each layer's own JSON).
fn v1_config(chain: &[(String, Value)], layers: &[LayerSource]) -> Value {
    let mut config = match chain.last().map(|(_, v)| v.clone()) {
        Some(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    for k in ["id", "parent", "Size", "parent_id", "layer_id", "throwaway"] {
        config.remove(k);
    }
    let host = crate::platform::Platform::host();
    config
        .entry("os")
        .or_insert_with(|| Value::from(host.os.clone()));
    config
        .entry("architecture")
        .or_insert_with(|| Value::from(host.arch.clone()));
    let history: Vec<Value> = chain
        .iter()
        .map(|(_, v)| {
            let created_by = v
                .pointer("/container_config/Cmd")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            let mut h = serde_json::Map::new();
            if let Some(c) = v.get("created") {
                h.insert("created".into(), c.clone());
            }
            if !created_by.is_empty() {
                h.insert("created_by".into(), Value::from(created_by));
            }
            Value::Object(h)
        })
        .collect();
    config.insert("history".into(), Value::from(history));
    config.insert(
        "rootfs".into(),
        serde_json::json!({
            "type": "layers",
            "diff_ids": layers.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>(),
        }),
    );
    Value::Object(config)
}

#[cfg(test)]
mod tests {
    use super::digest_in_name;

    #[test]
    fn digests_in_member_names() {
        let hex = "a51f9c563a6c842f5516c60c60f52c998a8438931440ad22f920ce7e0402bab4";
        assert_eq!(
            digest_in_name(&format!("blobs/sha256/{hex}"), false).map(|d| d.to_string()),
            Some(format!("sha256:{hex}"))
        );
        assert!(digest_in_name(&format!("{hex}.json"), true).is_some());
        assert!(digest_in_name(&format!("{hex}.json"), false).is_none());
        assert!(digest_in_name(&format!("{hex}/layer.tar"), false).is_none());
        assert!(digest_in_name("blobs/sha256/../../x", false).is_none());
    }
}
