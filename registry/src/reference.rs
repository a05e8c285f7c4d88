//! Docker image references, parsed and normalized exactly as docker does (`busybox` →
//! `docker.io/library/busybox:latest`). The grammar itself comes from `oci_client::Reference` (docker's
//! reference regexps); this wrapper adds what ucr needs on top: the API host to dial, a canonical string for
//! store records, and a one-line error naming the bad input.

use std::fmt;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// Docker Hub's canonical name and the host that actually serves its API.
pub const DOCKER_HUB: &str = "docker.io";
const DOCKER_HUB_API: &str = "registry-1.docker.io";

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<ImageRef> {
        let bad = |why: String| Error::Reference {
            reference: s.to_string(),
            why,
        };
        if s.is_empty() {
            return Err(bad("empty".into()));
        }
        if s.len() > 4096 {
            return Err(bad("longer than 4096 characters".into()));
        }
        let r = oci_client::Reference::try_from(s).map_err(|e| bad(e.to_string()))?;
        // oci-client is lenient here; docker is not ("repository name must be lowercase").
        if r.repository().bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad("repository name must be lowercase".into()));
        }
        let digest = match r.digest() {
            Some(d) => Some(d.parse::<Digest>().map_err(|e| bad(e.to_string()))?),
            None => None,
        };
        // Docker keeps the tag when both are given but pulls by digest; with neither, the tag is `latest`.
        let tag = match (r.tag(), &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(ImageRef {
            registry: r.registry().to_string(),
            repository: r.repository().to_string(),
            tag,
            digest,
        })
    }

    /// The registry's canonical name (`docker.io`, `reg:5443`): the key for credentials and certs.d.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host[:port] to dial for the registry API.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    pub fn is_docker_hub(&self) -> bool {
        self.registry == DOCKER_HUB
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask the registry for: the digest when pinned, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// `docker.io/library/busybox` — without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same image pinned to `digest` (keeps the tag for display).
    pub fn with_digest(&self, digest: Digest) -> ImageRef {
        ImageRef {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The name docker shows for it: `busybox:latest` for official Hub images, otherwise the full name.
    pub fn familiar(&self) -> String {
        let name = match self.repository.strip_prefix("library/") {
            Some(short) if self.is_docker_hub() && !short.contains('/') => short.to_string(),
            _ if self.is_docker_hub() => self.repository.clone(),
            _ => self.name(),
        };
        self.suffix(name)
    }

    fn suffix(&self, mut s: String) -> String {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

/// The fully normalized form: `docker.io/library/busybox:latest`, `reg:5000/a/b@sha256:…`.
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.suffix(self.name()))
    }
}

impl fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for ImageRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ImageRef::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn norm(s: &str) -> String {
        ImageRef::parse(s).expect(s).to_string()
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(
            norm("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(norm("user/app"), "docker.io/user/app:latest");
        assert_eq!(norm("localhost/a"), "localhost/a:latest");
        assert_eq!(norm("localhost:5000/a"), "localhost:5000/a:latest");
        assert_eq!(
            norm("reg.example.com:5443/team/app:1.2"),
            "reg.example.com:5443/team/app:1.2"
        );
        assert_eq!(norm("127.0.0.1:5000/x/y/z"), "127.0.0.1:5000/x/y/z:latest");
        assert_eq!(
            norm(&format!("busybox@{D}")),
            format!("docker.io/library/busybox@{D}")
        );
        assert_eq!(
            norm(&format!("busybox:1@{D}")),
            format!("docker.io/library/busybox:1@{D}")
        );
    }

    #[test]
    fn hosts_and_names() {
        let r = ImageRef::parse("busybox").expect("ok");
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.familiar(), "busybox:latest");
        let r = ImageRef::parse(&format!("localhost:5000/a@{D}")).expect("ok");
        assert_eq!(r.api_host(), "localhost:5000");
        assert_eq!(r.manifest_reference(), D);
        assert_eq!(r.familiar(), format!("localhost:5000/a@{D}"));
    }

    #[test]
    fn rejects_bad_input_naming_it() {
        for bad in [
            "",
            "UPPER/case",
            "a//b",
            "busybox:",
            "busybox@sha256:abc",
            ":tag",
            "a b",
        ] {
            let e = ImageRef::parse(bad).expect_err(bad);
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
    }
}
