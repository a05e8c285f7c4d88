//! What the OCI image-spec (manifest.md, index.md, descriptor.md, config.md, media-types.md, v1.1) and Docker's
//! image manifest v2 schema 2 allow in each position of a manifest or an index, checked by a client before it
//! trusts a document: the one place these rules live, used by the pull and by the archive and layout readers.
//! Each rule's test names its clause (`registry/tests/conformance.rs`).
//!
//! - A document's `mediaType`, when it is there, is the one the server's `Content-Type` says (distribution
//!   spec), and is a manifest or index type where a manifest or index is expected.
//! - A document holding `manifests` and also `config` or `layers` is refused whatever it says it is: a reader
//!   that takes it as an index and one that takes it as a manifest would run different images
//!   (CVE-2021-41190, image-spec v1.0.2).
//! - An image's `config` has an image config media type; a layer type there is refused. An empty config
//!   (`application/vnd.oci.empty.v1+json`), an `artifactType` or another config type is an artifact: refused as
//!   a runnable image, with what it is.
//! - Every layer has a layer media type this client can apply; an unknown one is refused, never guessed.
//! - Descriptors: a `data` field is decoded and must match the descriptor's digest and size; `urls` (foreign
//!   layers) must be http(s) without credentials in them; `mediaType` and `artifactType` follow RFC 6838's
//!   naming rules; `annotations` are a map of strings (the type does that).
//! - An index entry of a media type this client does not know is skipped, never an error (index.md); an
//!   index with an `artifactType` is an artifact.
//! - An image config has `os` (Linux: ucr runs nothing else) and `architecture`, `rootfs.type` `layers` and
//!   one diff_id per layer (config.md).

use base64::Engine as _;

use crate::descriptor::{Descriptor, DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use crate::digest::Digest;
use crate::unpack::Compression;

pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// The media types a manifest or index document may have.
pub fn is_document_type(mt: &str) -> bool {
    [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].contains(&mt)
}

/// RFC 6838 section 4.2: `type/subtype`, each a restricted-name (a letter or digit, then up to 126 of
/// letters, digits and `!#$&-^_.+`); parameters after `;` are the Content-Type's business and are allowed.
pub fn check_media_type(mt: &str, at: &str) -> Result<(), String> {
    let restricted = |n: &str| {
        let b = n.as_bytes();
        (1..=127).contains(&b.len())
            && b[0].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(c))
    };
    match bare(mt).split_once('/') {
        Some((t, s)) if restricted(t) && restricted(s) => Ok(()),
        _ => Err(format!(
            "{at} `{mt}` is not a media type (RFC 6838: type/subtype)"
        )),
    }
}

/// Whether an index entry of this media type is one to consider (index.md: an unknown one is skipped). An
/// entry without one is read for what its content says.
pub fn is_known_entry(mt: &str) -> bool {
    mt.is_empty() || is_document_type(bare(mt))
}

/// An index's own `artifactType`: an index of an artifact is not a runnable image.
pub fn check_index(artifact_type: Option<&str>) -> Result<(), String> {
    match artifact_type {
        Some(a) => {
            check_media_type(a, "artifactType")?;
            Err(format!(
                "an index of an artifact (artifactType `{a}`), not a runnable image"
            ))
        }
        None => Ok(()),
    }
}

/// An image config's required fields (config.md), and that it describes as many layers as the manifest.
pub fn check_config(
    os: &str,
    architecture: &str,
    rootfs_type: &str,
    diff_ids: usize,
    layers: usize,
) -> Result<(), String> {
    if os.is_empty() || architecture.is_empty() {
        return Err("the image config lacks `os` or `architecture` (both are required)".into());
    }
    if os != "linux" {
        return Err(format!("the image is for os `{os}`; ucr runs Linux images"));
    }
    if rootfs_type != "layers" {
        return Err(format!(
            "the image config's rootfs.type is `{rootfs_type}`, not `layers`"
        ));
    }
    if diff_ids != layers {
        return Err(format!(
            "the manifest lists {layers} layers but the image config has {diff_ids} diff_ids"
        ));
    }
    Ok(())
}

/// The media type without parameters (`; charset=utf-8`).
fn bare(mt: &str) -> &str {
    mt.split(';').next().unwrap_or(mt).trim()
}

/// A document's own `mediaType` against the `Content-Type` it came with and the position it is in.
/// `has_manifests` / `has_image_fields`: which of the index's and the manifest's fields it holds.
pub fn check_document(
    own: Option<&str>,
    header: Option<&str>,
    has_manifests: bool,
    has_image_fields: bool,
) -> Result<(), String> {
    if has_manifests && has_image_fields {
        return Err(
            "the document holds `manifests` and also `config`/`layers`: it could be read as an index and as a \
             manifest, and is refused (CVE-2021-41190)"
                .into(),
        );
    }
    if let Some(own) = own {
        if !is_document_type(own) {
            return Err(format!(
                "mediaType `{own}` is not a manifest or an index type"
            ));
        }
        // `application/octet-stream` or `application/json` from a plain server says nothing about the type.
        if let Some(h) = header.map(bare).filter(|h| is_document_type(h)) {
            if h != own {
                return Err(format!(
                    "the document says mediaType `{own}` but was served as `{h}`"
                ));
            }
        }
        let index = own == OCI_INDEX || own == DOCKER_LIST;
        if index && has_image_fields {
            return Err(format!("an index (`{own}`) with `config`/`layers`"));
        }
        if !index && has_manifests {
            return Err(format!("a manifest (`{own}`) with `manifests`"));
        }
    }
    Ok(())
}

/// An image manifest's config and layers, and its `artifactType`.
pub fn check_image(
    manifest_type: &str,
    artifact_type: Option<&str>,
    config: &Descriptor,
    layers: &[Descriptor],
) -> Result<(), String> {
    if let Some(a) = artifact_type {
        check_media_type(a, "artifactType")?;
        return Err(format!(
            "an artifact (artifactType `{a}`), not a runnable image"
        ));
    }
    check_descriptor(config, "config")?;
    let cmt = bare(&config.media_type);
    match cmt {
        DOCKER_CONFIG | OCI_CONFIG => {}
        // The Docker schema 2 manifest always names its config type; an OCI one should, and some old tools
        // wrote the Docker type there. An empty one is taken as the manifest's own family.
        "" => {}
        OCI_EMPTY => {
            return Err(
                "an artifact (its config is the empty descriptor), not a runnable image".into(),
            )
        }
        t if Compression::from_media_type(t).is_some() => {
            return Err(format!("config has a layer media type `{t}`"))
        }
        t => {
            return Err(format!(
                "an artifact (config media type `{t}`), not a runnable image"
            ))
        }
    }
    for (i, l) in layers.iter().enumerate() {
        let lmt = bare(&l.media_type);
        if Compression::from_media_type(lmt).is_none() {
            return Err(format!(
                "layers[{i}] has media type `{lmt}`, which is not a layer type this client can apply"
            ));
        }
        let docker_layer = lmt.starts_with("application/vnd.docker.");
        if manifest_type == DOCKER_MANIFEST && !docker_layer {
            return Err(format!(
                "layers[{i}]: a Docker schema 2 manifest with the non-Docker layer type `{lmt}`"
            ));
        }
        check_descriptor(l, &format!("layers[{i}]"))?;
    }
    Ok(())
}

/// A descriptor's media types, embedded `data` and `urls`.
pub fn check_descriptor(d: &Descriptor, at: &str) -> Result<(), String> {
    if !d.media_type.is_empty() {
        check_media_type(&d.media_type, &format!("{at}.mediaType"))?;
    }
    if let Some(a) = &d.artifact_type {
        check_media_type(a, &format!("{at}.artifactType"))?;
    }
    if let Some(data) = &d.data {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|e| format!("{at}.data is not base64: {e}"))?;
        if bytes.len() as u64 != d.size {
            return Err(format!(
                "{at}.data holds {} bytes, the descriptor says {}",
                bytes.len(),
                d.size
            ));
        }
        if Digest::of(d.digest.algo(), &bytes) != d.digest {
            return Err(format!("{at}.data does not hash to {}", d.digest));
        }
    }
    for u in &d.urls {
        let url = url::Url::parse(u).map_err(|e| format!("{at}.urls `{u}`: {e}"))?;
        if !["http", "https"].contains(&url.scheme()) {
            return Err(format!("{at}.urls `{u}`: only http and https"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "{at}.urls: a URL with credentials in it is refused"
            ));
        }
    }
    Ok(())
}
