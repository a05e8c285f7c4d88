//! Manifests and image configs: fetch (bounded, digest-verified), parse Docker schema2, OCI manifests, Docker
//! manifest lists and OCI indexes, and pick the platform's manifest from an index.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::{Get, RegistryClient};
use crate::conformance;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::reference::ImageRef;

pub use crate::descriptor::{Descriptor, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1";

pub const ACCEPT: &[&str] = &[OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST];

/// Manifests and indexes larger than this are refused (the distribution spec suggests 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Image configs larger than this are refused.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;
/// Indexes of indexes are followed this deep (index.md: a nested index SHOULD be supported).
pub const MAX_INDEX_NESTING: usize = 4;

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "schemaVersion", default)]
    schema_version: u32,
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    manifests: Option<Vec<IndexEntry>>,
    #[serde(rename = "artifactType", default)]
    artifact_type: Option<String>,
    /// Read only to hold it to the annotation rules (a map of strings).
    #[serde(rename = "annotations", default)]
    _annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
pub struct IndexEntry {
    #[serde(rename = "mediaType", default)]
    pub(crate) media_type: String,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    #[serde(default)]
    pub(crate) platform: Option<RawPlatform>,
    #[serde(default)]
    pub(crate) annotations: BTreeMap<String, String>,
}

#[derive(Deserialize)]
pub(crate) struct RawPlatform {
    pub(crate) os: String,
    pub(crate) architecture: String,
    #[serde(default)]
    pub(crate) variant: Option<String>,
    /// Mandatory OS features (index.md): an entry needing any is not for a Linux host, which has none of the
    /// named ones (they are Windows' `win32k`).
    #[serde(rename = "os.features", default)]
    pub(crate) os_features: Vec<String>,
    /// Docker schema 2: CPU features the image requires (`sse4`, `aes`); reserved in the OCI spec.
    #[serde(default)]
    pub(crate) features: Vec<String>,
}

/// An image manifest, resolved to one platform.
#[derive(Clone, Debug)]
pub struct ImageManifest {
    pub digest: Digest,
    pub media_type: String,
    pub raw: Vec<u8>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    /// The index it was chosen from, if any.
    pub index: Option<(Digest, Vec<u8>)>,
}

/// What a manifest or index document is, parsed and checked (`parse`).
pub enum Parsed {
    Image {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
    Index(Vec<IndexEntry>),
}

/// A manifest or index document: its media type (from the document, else `header_type`) and content, every
/// `conformance` rule checked. Public for the fuzz targets and the layout reader.
pub fn parse(bytes: &[u8], header_type: Option<&str>, what: &str) -> Result<(String, Parsed)> {
    let bad = |why: String| Error::Manifest {
        reference: what.to_string(),
        why,
    };
    let raw: Raw = serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let mt = raw
        .media_type
        .clone()
        .or_else(|| header_type.map(str::to_string))
        .unwrap_or_default();
    if raw.schema_version == 1 || mt.starts_with(DOCKER_SCHEMA1) {
        return Err(bad("Docker schema 1 manifests are not supported (deprecated since 2017); push the image again \
                        with a current client"
            .into()));
    }
    if raw.schema_version != 2 {
        return Err(bad(format!(
            "unsupported schemaVersion {}",
            raw.schema_version
        )));
    }
    conformance::check_document(
        raw.media_type.as_deref(),
        header_type,
        raw.manifests.is_some(),
        raw.config.is_some() || raw.layers.is_some(),
    )
    .map_err(&bad)?;
    if let Some(m) = raw.manifests {
        conformance::check_index(raw.artifact_type.as_deref()).map_err(bad)?;
        return Ok((
            if mt.is_empty() { OCI_INDEX.into() } else { mt },
            Parsed::Index(m),
        ));
    }
    match (raw.config, raw.layers) {
        (Some(config), Some(layers)) => {
            let mt = if mt.is_empty() {
                OCI_MANIFEST.into()
            } else {
                mt
            };
            conformance::check_image(&mt, raw.artifact_type.as_deref(), &config, &layers)
                .map_err(bad)?;
            Ok((mt, Parsed::Image { config, layers }))
        }
        _ => Err(bad(format!(
            "media type `{mt}` has neither `manifests` nor `config` and `layers`"
        ))),
    }
}

/// Reads a response body up to `limit` bytes, failing as soon as it goes over.
pub async fn read_bounded(
    resp: reqwest::Response,
    limit: u64,
    what: &'static str,
) -> Result<Vec<u8>> {
    let url = crate::auth::session::redact_url(resp.url());
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(Error::TooLarge { what, url, limit });
    }
    let mut resp = resp;
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if out.len() as u64 + c.len() as u64 > limit {
                    return Err(Error::TooLarge { what, url, limit });
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                return Err(Error::Transport {
                    url,
                    why: crate::tls::error_chain(&e),
                })
            }
        }
    }
}

async fn fetch(
    client: &RegistryClient,
    image: &ImageRef,
    reference: &str,
) -> Result<(Vec<u8>, Option<String>, Digest)> {
    let g = Get {
        path: format!("/v2/{}/manifests/{reference}", image.repository()),
        scope: format!("repository:{}:pull", image.repository()),
        accept: ACCEPT,
        range_from: None,
    };
    let resp = client.get(&g).await?;
    let header_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.to_string());
    let header_digest = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = read_bounded(resp, MAX_MANIFEST_BYTES, "manifest").await?;
    // Verify what we were given: against the pinned digest, else against the registry's own claim.
    let digest = match reference.parse::<Digest>() {
        Ok(want) => {
            want.verify("manifest", &bytes)?;
            want
        }
        Err(_) => {
            let got = Digest::sha256_of(&bytes);
            if let Some(h) = header_digest.and_then(|h| h.parse::<Digest>().ok()) {
                if h.algo() == got.algo() && h != got {
                    return Err(Error::Verify {
                        what: "manifest",
                        digest: h.to_string(),
                        why: format!("registry sent content hashing to {got}"),
                    });
                }
            }
            got
        }
    };
    Ok((bytes, header_type, digest))
}

/// Resolves `image` to one image manifest for `platform`, following indexes (nested ones too, up to
/// [`MAX_INDEX_NESTING`]). The outermost index is what is kept beside the manifest.
pub async fn resolve(
    client: &RegistryClient,
    image: &ImageRef,
    platform: &Platform,
) -> Result<ImageManifest> {
    let name = image.to_string();
    let (mut bytes, mut header, mut digest) =
        fetch(client, image, &image.manifest_reference()).await?;
    let mut outer = None;
    for _ in 0..=MAX_INDEX_NESTING {
        let entries = match parse(&bytes, header.as_deref(), &name)? {
            (mt, Parsed::Image { config, layers }) => {
                return Ok(ImageManifest {
                    digest,
                    media_type: mt,
                    raw: bytes,
                    config,
                    layers,
                    index: outer,
                })
            }
            (_, Parsed::Index(entries)) => entries,
        };
        let chosen = select(&entries, platform).ok_or_else(|| Error::Manifest {
            reference: name.clone(),
            why: no_platform(platform, &entries),
        })?;
        let child = chosen.digest.to_string();
        let (cbytes, ctype, cdigest) = fetch(client, image, &child).await?;
        if cbytes.len() as u64 != chosen.size {
            return Err(Error::Verify {
                what: "manifest",
                digest: child,
                why: "size differs from the index".into(),
            });
        }
        let ctype = ctype.or_else(|| Some(chosen.media_type.clone()));
        outer.get_or_insert((digest, bytes));
        (bytes, header, digest) = (cbytes, ctype, cdigest);
    }
    Err(Error::Manifest {
        reference: name,
        why: format!("indexes nested more than {MAX_INDEX_NESTING} deep"),
    })
}

/// Why no entry of an index was chosen: the platforms it has.
pub(crate) fn no_platform(platform: &Platform, entries: &[IndexEntry]) -> String {
    let have: Vec<String> = entries
        .iter()
        .filter_map(|e| e.platform.as_ref())
        .map(|p| match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        })
        .collect();
    format!(
        "no manifest for platform {platform} (the index has: {})",
        have.join(", ")
    )
}

/// The entry of an index to run on `platform`: the first that matches (index.md), preferring an exact
/// variant. Entries of unknown media types, needing OS features or (on this host's own platform) CPU
/// features the host lacks are not candidates.
pub(crate) fn select<'a>(entries: &'a [IndexEntry], platform: &Platform) -> Option<&'a IndexEntry> {
    let native = *platform == Platform::host();
    select_with(entries, platform, &|f| {
        !native || crate::platform::host_has_cpu_feature(f)
    })
}

fn select_with<'a>(
    entries: &'a [IndexEntry],
    platform: &Platform,
    has_cpu_feature: &dyn Fn(&str) -> bool,
) -> Option<&'a IndexEntry> {
    let matching = entries.iter().filter(|e| {
        conformance::is_known_entry(&e.media_type)
            && e.platform.as_ref().is_some_and(|p| {
                p.os_features.is_empty()
                    && p.features.iter().all(|f| has_cpu_feature(f))
                    && platform.matches(&p.os, &p.architecture, p.variant.as_deref())
            })
    });
    // Prefer an exact variant match over the arch default (e.g. arm/v7 over plain arm).
    matching
        .clone()
        .find(|e| {
            e.platform.as_ref().and_then(|p| p.variant.as_deref()) == platform.variant.as_deref()
        })
        .or_else(|| matching.clone().next())
}

/// Fetches the image config blob, bounded and verified.
pub async fn fetch_config(
    client: &RegistryClient,
    image: &ImageRef,
    desc: &Descriptor,
) -> Result<Vec<u8>> {
    if desc.size > MAX_CONFIG_BYTES {
        return Err(Error::TooLarge {
            what: "image config",
            url: desc.digest.to_string(),
            limit: MAX_CONFIG_BYTES,
        });
    }
    let g = Get {
        path: format!("/v2/{}/blobs/{}", image.repository(), desc.digest),
        scope: format!("repository:{}:pull", image.repository()),
        accept: &[],
        range_from: None,
    };
    let bytes = read_bounded(client.get(&g).await?, MAX_CONFIG_BYTES, "image config").await?;
    desc.digest.verify("image config", &bytes)?;
    Ok(bytes)
}

/// The parts of an image config ucr uses.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub config: RunConfig,
    pub rootfs: RootFs,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunConfig {
    #[serde(rename = "Entrypoint", default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: Option<String>,
    #[serde(rename = "User", default)]
    pub user: Option<String>,
    /// AppC `app.supplementaryGIDs` (Docker configs have none): added to the groups of the image's user.
    #[serde(skip)]
    pub supplementary_gids: Vec<u32>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub diff_ids: Vec<Digest>,
}

impl ImageConfig {
    /// The config.md rules (`conformance::check_config`) for an image of `layers` layers.
    pub fn conform(&self, layers: usize) -> std::result::Result<(), String> {
        conformance::check_config(
            &self.os,
            &self.architecture,
            &self.rootfs.kind,
            self.rootfs.diff_ids.len(),
            layers,
        )
    }

    pub fn parse(bytes: &[u8], digest: &Digest) -> Result<ImageConfig> {
        serde_json::from_slice(bytes).map_err(|e| Error::Verify {
            what: "image config",
            digest: digest.to_string(),
            why: format!("unreadable: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, variant: Option<&str>, n: u8) -> IndexEntry {
        IndexEntry {
            media_type: OCI_MANIFEST.into(),
            digest: Digest::sha256_of(&[n]),
            size: 1,
            platform: Some(RawPlatform {
                os: os.into(),
                architecture: arch.into(),
                variant: variant.map(Into::into),
                os_features: Vec::new(),
                features: Vec::new(),
            }),
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn index_md_os_features_are_mandatory() {
        let mut needs = entry("linux", "amd64", None, 1);
        if let Some(p) = needs.platform.as_mut() {
            p.os_features = vec!["win32k".into()];
        }
        let plain = entry("linux", "amd64", None, 2);
        let host = Platform::parse("linux/amd64").expect("platform");
        let chosen = select(std::slice::from_ref(&needs), &host);
        assert!(
            chosen.is_none(),
            "an entry needing an OS feature is not chosen"
        );
        let both = [needs, plain];
        assert_eq!(
            select(&both, &host).map(|e| e.digest.clone()),
            Some(Digest::sha256_of(&[2]))
        );
    }

    #[test]
    fn selects_platform() {
        let e = vec![
            entry("linux", "arm", Some("v6"), 0),
            entry("linux", "arm", Some("v7"), 1),
            entry("linux", "amd64", None, 2),
        ];
        let p = |s| Platform::parse(s).expect("ok");
        assert_eq!(
            select(&e, &p("linux/amd64")).map(|e| e.digest.clone()),
            Some(Digest::sha256_of(&[2]))
        );
        assert_eq!(
            select(&e, &p("linux/arm/v7")).map(|e| e.digest.clone()),
            Some(Digest::sha256_of(&[1]))
        );
        assert_eq!(
            select(&e, &p("linux/arm/v6")).map(|e| e.digest.clone()),
            Some(Digest::sha256_of(&[0]))
        );
        assert!(select(&e, &p("linux/s390x")).is_none());
    }

    #[test]
    fn rejects_schema1_and_garbage() {
        let e = parse(br#"{"schemaVersion":1,"name":"x"}"#, None, "img")
            .err()
            .expect("err");
        assert!(e.to_string().contains("schema 1"));
        assert!(parse(b"nope", None, "img").is_err());
        assert!(parse(br#"{"schemaVersion":2}"#, None, "img").is_err());
    }
}
