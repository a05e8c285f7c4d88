//! What discovery makes of an archive before anything big is read: one [`Candidate`] per image, with the
//! names the archive gives it and either a verified manifest and config ([`Image`]) or, for a legacy docker
//! image, the chain its config is made from once its layers are hashed ([`Legacy`]). Written by `docker` and
//! `oci_layout`, chosen from by `load`, streamed in by `ingest`.

use serde_json::Value;

use crate::digest::Digest;
use crate::manifest::ImageConfig;
use crate::reference::ImageRef;

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
    Legacy(Legacy),
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
    /// How `choose` names this image when it lists what the archive holds.
    pub(super) fn describe(&self) -> String {
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

/// A legacy image before its layers are hashed: the chain of v1 layer ids, base first.
pub(crate) struct Legacy {
    /// Each layer's v1 id and v1 JSON, base first; built and read by `docker`, where legacy archives are
    /// parsed.
    pub(super) chain: Vec<(String, Value)>,
}

impl Legacy {
    pub(crate) fn top_id(&self) -> &str {
        self.chain.last().map(|(id, _)| id.as_str()).unwrap_or("")
    }
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
