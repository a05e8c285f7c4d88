//! Docker image references, parsed and normalized exactly as docker does (`busybox` →
//! `docker.io/library/busybox:latest`), with docker's grammar (distribution/reference) written out by hand:
//! the regexp form of that grammar costs ~60 ms of regex compilation at every process start, which `ucr run`
//! cannot afford. Also here: the API host to dial, a canonical string for store records, and a one-line error
//! naming the bad input.

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
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(d.parse::<Digest>().map_err(|e| bad(e.to_string()))?),
            ),
            None => (s, None),
        };
        // The tag is after the last ':' that follows the last '/' (a ':' before it is the registry's port).
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            check_tag(t).map_err(|w| bad(w.into()))?;
        }
        let (registry, repository) = split_domain(name);
        // Docker's limit is on the normalized name (`docker.io/library/…`, ParseNormalizedNamed): checking the
        // name as written let through names whose normalized form, which we print, then did not parse back
        // (found by fuzz/reference).
        if registry.len() + 1 + repository.len() > 255 {
            return Err(bad("repository name longer than 255 characters".into()));
        }
        if registry != DOCKER_HUB {
            check_domain(registry).map_err(|w| bad(w.into()))?;
        }
        check_path(&repository).map_err(|w| bad(w.into()))?;
        // Docker keeps the tag when both are given but pulls by digest; with neither, the tag is `latest`.
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(ImageRef {
            registry: registry.to_string(),
            repository,
            tag,
            digest,
        })
    }

    /// The registry's canonical name (`docker.io`, `reg:5443`): the key for credentials and certs.d.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The `host[:port]` to dial for the registry API.
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

/// Docker's `splitDockerDomain`: the first component is a registry only if it looks like a host (has a `.` or
/// `:`, or is `localhost`, or has upper case, which no repository may); Docker Hub's one-part names live under
/// `library/`.
fn split_domain(name: &str) -> (&str, String) {
    let (domain, remainder) = match name.split_once('/') {
        Some((d, r))
            if d.contains(['.', ':'])
                || d == "localhost"
                || d.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (d, r)
        }
        _ => (DOCKER_HUB, name),
    };
    let domain = if domain == "index.docker.io" {
        DOCKER_HUB
    } else {
        domain
    };
    if domain == DOCKER_HUB && !remainder.contains('/') {
        return (domain, format!("library/{remainder}"));
    }
    (domain, remainder.to_string())
}

/// `host[:port]`: dot-separated components of `[a-zA-Z0-9-]` not starting or ending with '-', or a bracketed
/// IPv6 address; the port is digits.
fn check_domain(d: &str) -> std::result::Result<(), &'static str> {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let end = rest.find(']').ok_or("unterminated IPv6 address")?;
        let (ip, after) = (&rest[..end], &rest[end + 1..]);
        if ip.is_empty()
            || !ip
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err("invalid IPv6 address");
        }
        ("", after.strip_prefix(':'))
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err("invalid registry port");
        }
    }
    if !d.starts_with('[') {
        for c in host.split('.') {
            let ok = !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !c.starts_with('-')
                && !c.ends_with('-');
            if !ok {
                return Err("invalid registry host");
            }
        }
    }
    Ok(())
}

/// Path components of `[a-z0-9]+` joined by one separator (`.`, `_`, `__` or any run of `-`).
fn check_path(p: &str) -> std::result::Result<(), &'static str> {
    if p.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("repository name must be lowercase");
    }
    for comp in p.split('/') {
        if comp.is_empty() {
            return Err("invalid reference format: empty path component");
        }
        let b = comp.as_bytes();
        let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
            return Err(
                "invalid reference format: a path component must start and end with [a-z0-9]",
            );
        }
        let mut i = 0;
        while i < b.len() {
            if alnum(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && !alnum(b[i]) {
                i += 1;
            }
            let sep = &comp[start..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
            if !ok {
                return Err("invalid reference format: bad separator in repository name");
            }
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn check_tag(t: &str) -> std::result::Result<(), &'static str> {
    let b = t.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if b.is_empty()
        || b.len() > 128
        || !word(b[0])
        || !b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
    {
        return Err("invalid tag");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn the_255_limit_is_on_the_normalized_name_fuzz_reference_crash() {
        // 246 characters as written, 264 once `docker.io/library/` is added: refused, as docker refuses it.
        let long = format!("docker.{}", "q".repeat(239));
        assert!(ImageRef::parse(&long).is_err());
        let fits = "a".repeat(255 - "docker.io/library/".len());
        let r = ImageRef::parse(&fits).expect("fits");
        assert!(ImageRef::parse(&r.to_string()).is_ok());
    }

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
            norm("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("[::1]:5000/a_b/c-d__e"),
            "[::1]:5000/a_b/c-d__e:latest"
        );
        // Docker takes an upper-case first component for a registry host (namespaces are lower case).
        assert_eq!(norm("Reg/app:v1.0-rc_1"), "Reg/app:v1.0-rc_1");
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
            "a//b",
            "busybox:",
            "busybox@sha256:abc",
            ":tag",
            "a b",
            "-a/b",
            "reg:port/a",
            "a/b__-c",
            "a/B",
            "a:-tag",
        ] {
            let e = ImageRef::parse(bad).expect_err(bad);
            assert!(e.to_string().contains(&format!("`{bad}`")), "{e}");
        }
    }
}
