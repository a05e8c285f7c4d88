//! An image as a request names it: a registry reference (`busybox`, `reg:5000/team/app:1.2@sha256:…`), a file
//! (`docker-archive:PATH[:REF|:@N]`, `oci-archive:PATH[:REF]`, `oci:DIR[:REF]`), or an AppC image
//! (`appc:NAME[:VERSION][,LABEL=VALUE...][@ID]`, what a Mesos `APPC` image becomes). It is parsed where the request is parsed, so a
//! name that can never resolve fails before a container id is claimed; where it then comes from (the store, a
//! `--docker_registry` directory, a pull) is decided when it is provided.
//!
//! The text as written is kept beside the parsed form: Mesos resolves a name against `--docker_registry`
//! from what the user wrote (`busybox` is re-homed there, `docker.io/busybox` is not), and the checkpoint
//! stores it as written.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::appc::AppcName;
use crate::archive::ArchiveRef;
use crate::error::{Error, Result};
use crate::reference::ImageRef;

/// What kind of name it is, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameKind {
    /// A registry reference, normalized (`docker.io/library/busybox:latest`).
    Registry(ImageRef),
    /// A file transport.
    Archive(ArchiveRef),
    /// An AppC image: its name, labels and pinned id.
    Appc(AppcName),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageName {
    written: String,
    kind: NameKind,
}

impl ImageName {
    pub fn parse(written: &str) -> Result<ImageName> {
        let kind = if let Some(rest) = written.strip_prefix("appc:") {
            NameKind::Appc(AppcName::parse(rest).map_err(|e| Error::Reference {
                reference: written.to_string(),
                why: e.to_string(),
            })?)
        } else if let Some(r) = ArchiveRef::parse(written) {
            NameKind::Archive(r?)
        } else {
            NameKind::Registry(ImageRef::parse(written)?)
        };
        Ok(ImageName {
            written: written.to_string(),
            kind,
        })
    }

    /// The name exactly as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    pub fn kind(&self) -> &NameKind {
        &self.kind
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl PartialEq<str> for ImageName {
    fn eq(&self, other: &str) -> bool {
        self.written == other
    }
}

impl PartialEq<&str> for ImageName {
    fn eq(&self, other: &&str) -> bool {
        self.written == *other
    }
}

/// Checkpointed as written; read back by parsing again.
impl Serialize for ImageName {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.written)
    }
}

impl<'de> Deserialize<'de> for ImageName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ImageName::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_and_bad_names_fail() {
        let n = ImageName::parse("busybox").expect("registry");
        assert!(
            matches!(n.kind(), NameKind::Registry(r) if r.to_string() == "docker.io/library/busybox:latest")
        );
        assert_eq!(n, "busybox");
        let n = ImageName::parse("oci-archive:/tmp/a.tar:app:1").expect("archive");
        assert!(matches!(n.kind(), NameKind::Archive(_)));
        let n = ImageName::parse("appc:example.com/worker:1.0.0").expect("appc");
        assert!(
            matches!(n.kind(), NameKind::Appc(a) if a.name == "example.com/worker" && a.version() == Some("1.0.0"))
        );
        for bad in ["Busybox", "a b", "oci-archive:", "appc:", "appc:x:"] {
            assert!(ImageName::parse(bad).is_err(), "{bad}");
        }
        let json =
            serde_json::to_string(&ImageName::parse("reg:5000/a:1").expect("ok")).expect("ser");
        assert_eq!(json, "\"reg:5000/a:1\"");
        assert!(serde_json::from_str::<ImageName>("\"UPPER\"").is_err());
    }
}
