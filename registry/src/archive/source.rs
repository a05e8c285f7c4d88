//! Images that come from files rather than registries:
//! - `--docker_registry DIR` (Mesos): the image `NAME` is the file `DIR/NAME.tar`, the name exactly as written
//!   (`busybox` → `busybox.tar`, `reg:5000/a/b:t` → `reg:5000/a/b:t.tar`, in subdirectories). Beyond Mesos the
//!   normalized spellings are tried too, so `busybox`, `busybox:latest` and `docker.io/library/busybox:latest`
//!   all find whichever of those files exists; `.tar.gz` files and OCI layout directories are accepted.
//! - `docker-archive:PATH[:REF|:@N]`, `oci-archive:PATH[:REF]`, `oci:DIR[:REF]` (skopeo's syntax: the first
//!   `:` after the transport ends the path).
//! - `--docker_registry https://host[:port]` / `host:port`: a registry that replaces Docker Hub for names
//!   without a registry ([`with_default_registry`]).

use std::path::{Path, PathBuf};

use super::error::ArchiveError;
use super::options::{LoadOptions, Selector};
use crate::error::Result;
use crate::reference::ImageRef;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    DockerArchive,
    OciArchive,
    OciDir,
}

/// An image named by a file transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveRef {
    pub transport: Transport,
    pub path: PathBuf,
    pub select: Option<Selector>,
}

impl ArchiveRef {
    /// `None` if `s` is not a file transport (a registry reference, then).
    pub fn parse(s: &str) -> Option<Result<ArchiveRef>> {
        let (transport, rest) = [
            ("docker-archive:", Transport::DockerArchive),
            ("oci-archive:", Transport::OciArchive),
            ("oci:", Transport::OciDir),
        ]
        .into_iter()
        .find_map(|(p, t)| s.strip_prefix(p).map(|rest| (t, rest)))?;
        let (path, sel) = match rest.split_once(':') {
            Some((p, r)) => (p, Some(r)),
            None => (rest, None),
        };
        if path.is_empty() {
            return Some(Err(ArchiveError::BadSource {
                source_name: s.to_string(),
                why: "no path".into(),
            }
            .into()));
        }
        let select = match sel {
            None => None,
            Some("") => {
                return Some(Err(ArchiveError::BadSource {
                    source_name: s.to_string(),
                    why: "empty image name after the path".into(),
                }
                .into()))
            }
            Some(r) => match r.strip_prefix('@') {
                Some(n) if transport == Transport::DockerArchive => match n.parse::<usize>() {
                    Ok(i) => Some(Selector::Index(i)),
                    Err(_) => {
                        return Some(Err(ArchiveError::BadSource {
                            source_name: s.to_string(),
                            why: format!("`@{n}`: expected @INDEX, a number"),
                        }
                        .into()))
                    }
                },
                _ => Some(Selector::Name(r.to_string())),
            },
        };
        Some(Ok(ArchiveRef {
            transport,
            path: PathBuf::from(path),
            select,
        }))
    }

    /// How to load it: the one image it selects, under the names the archive gives it.
    pub fn load_options(&self, base: &LoadOptions) -> LoadOptions {
        LoadOptions {
            select: self.select.clone(),
            name: None,
            single: true,
            ..base.clone()
        }
    }
}

/// The file names (without `.tar`) `--docker_registry DIR` may hold `written` under, Mesos's first.
pub fn registry_dir_names(written: &str) -> Result<Vec<String>> {
    let r = ImageRef::parse(written)?;
    let mut out = vec![written.to_string()];
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    push(r.familiar());
    push(r.to_string());
    if r.tag() == Some("latest") && r.digest().is_none() {
        let familiar = r.familiar();
        push(familiar.trim_end_matches(":latest").to_string());
        push(r.name());
    }
    Ok(out)
}

/// The archive in `dir` for the image `written`, and every path looked at (for the error when there is
/// none). The name parsed as a reference first, so it holds no `..` and cannot leave `dir`.
pub fn find_in_registry_dir(dir: &Path, written: &str) -> Result<(Option<PathBuf>, Vec<String>)> {
    let mut tried = Vec::new();
    for name in registry_dir_names(written)? {
        for candidate in [
            format!("{name}.tar"),
            format!("{name}.tar.gz"),
            name.clone(),
        ] {
            let p = dir.join(&candidate);
            let found = if candidate == name {
                // A bare name is only an OCI layout directory, never a plain file.
                p.join("index.json").is_file()
            } else {
                p.is_file()
            };
            if found {
                return Ok((Some(p), tried));
            }
            if candidate != name {
                tried.push(p.display().to_string());
            }
        }
    }
    Ok((None, tried))
}

/// Whether `--docker_registry VALUE` names a remote registry (`https://host`, `host:port`, `host.domain`)
/// rather than a directory; returns its `host[:port]`.
pub fn remote_registry(value: &str) -> Option<String> {
    if let Some(rest) = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
    {
        return Some(rest.trim_end_matches('/').to_string());
    }
    let looks_local = value.starts_with('/') || value.starts_with('.') || Path::new(value).is_dir();
    let looks_host = !value.contains('/')
        && (value.contains(':') || value.contains('.') || value == "localhost");
    (!looks_local && looks_host).then(|| value.to_string())
}

/// `written` with `host` as its registry when it names none (`busybox` → `host/library/busybox:latest`), as
/// Mesos resolves names against `--docker_registry`; a name with an explicit registry is kept.
pub fn with_default_registry(written: &str, host: &str) -> Result<ImageRef> {
    let first = written.split('/').next().unwrap_or("");
    let explicit = written.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    let r = ImageRef::parse(written)?;
    // Mesos's default value is Docker Hub itself: names stay as docker writes them.
    let hub = matches!(
        host,
        "registry-1.docker.io" | "index.docker.io" | "docker.io"
    );
    if explicit || hub {
        return Ok(r);
    }
    let mut s = format!("{host}/{}", r.repository());
    if let Some(t) = r.tag() {
        s.push(':');
        s.push_str(t);
    }
    if let Some(d) = r.digest() {
        s.push('@');
        s.push_str(&d.to_string());
    }
    ImageRef::parse(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_parse_like_skopeo() {
        let r = ArchiveRef::parse("oci-archive:/tmp/a.tar:busybox:latest")
            .and_then(|r| r.ok())
            .expect("parses");
        assert_eq!(r.transport, Transport::OciArchive);
        assert_eq!(r.path, PathBuf::from("/tmp/a.tar"));
        assert_eq!(r.select, Some(Selector::Name("busybox:latest".into())));
        let r = ArchiveRef::parse("docker-archive:x.tar:@1")
            .and_then(|r| r.ok())
            .expect("parses");
        assert_eq!(r.select, Some(Selector::Index(1)));
        let r = ArchiveRef::parse("oci:/layout")
            .and_then(|r| r.ok())
            .expect("parses");
        assert_eq!((r.transport, r.select), (Transport::OciDir, None));
        assert!(ArchiveRef::parse("busybox:latest").is_none());
        assert!(ArchiveRef::parse("oci-archive:").is_some_and(|r| r.is_err()));
    }

    #[test]
    fn registry_dir_spellings() {
        let all = |s| registry_dir_names(s).expect("valid");
        assert_eq!(
            all("busybox"),
            [
                "busybox",
                "busybox:latest",
                "docker.io/library/busybox:latest",
                "docker.io/library/busybox"
            ]
        );
        assert_eq!(
            all("docker.io/library/busybox:latest"),
            [
                "docker.io/library/busybox:latest",
                "busybox:latest",
                "busybox",
                "docker.io/library/busybox"
            ]
        );
        assert_eq!(all("reg:5000/a/b:t"), ["reg:5000/a/b:t"]);
        assert!(registry_dir_names("../etc/passwd").is_err());
    }

    #[test]
    fn remote_default_registry() {
        assert_eq!(
            remote_registry("https://reg.local:5000/"),
            Some("reg.local:5000".into())
        );
        assert_eq!(
            remote_registry("reg.local:5000"),
            Some("reg.local:5000".into())
        );
        assert_eq!(remote_registry("/var/lib/images"), None);
        assert_eq!(
            with_default_registry("busybox", "reg:5000")
                .map(|r| r.to_string())
                .ok(),
            Some("reg:5000/library/busybox:latest".into())
        );
        assert_eq!(
            with_default_registry("other:1/a/b:2", "reg:5000")
                .map(|r| r.to_string())
                .ok(),
            Some("other:1/a/b:2".into())
        );
    }
}
