//! Where an image comes from, decided the same way for every front end and command (`pull`, `run`, `launch`,
//! the agent): a file reference (`docker-archive:PATH`, `oci-archive:PATH[:REF]`, `oci:DIR[:REF]`) is loaded;
//! with Mesos's `--docker_registry` set to a directory, images are only looked up there (as `NAME.tar` and
//! the other spellings `find_in_registry_dir` tries) unless `--docker_registry_fallback` allows the image's
//! registry; with it set to a registry (`https://host[:port]`, `host:port`), names without a registry are
//! pulled from there; otherwise the image is pulled from its registry. An AppC name always goes to the AppC
//! store and its discovery, whatever `--docker_registry` says.

use std::path::PathBuf;

use ucr_registry::appc::AppcName;
use ucr_registry::archive::{
    find_in_registry_dir, remote_registry, with_default_registry, ArchiveError, LoadOptions,
    Selector,
};
use ucr_registry::platform::Platform;
use ucr_registry::{ImageName, ImageRef, NameKind};

use super::error::Result;

/// Mesos `--docker_registry`, read once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DockerRegistry {
    /// Not set: images come from their own registries (Docker Hub for names without one).
    #[default]
    Unset,
    /// A directory of image tarballs.
    Dir(PathBuf),
    /// A registry (`host[:port]`) that replaces Docker Hub for names without a registry.
    Remote(String),
}

impl DockerRegistry {
    pub fn parse(value: Option<&str>) -> DockerRegistry {
        match value {
            None | Some("") => DockerRegistry::Unset,
            Some(v) => match remote_registry(v) {
                Some(host) => DockerRegistry::Remote(host),
                None => DockerRegistry::Dir(PathBuf::from(v)),
            },
        }
    }
}

/// Where one image comes from.
#[derive(Debug)]
pub enum Source {
    /// A file to load: a file reference (`image` None: recorded under the names the archive gives), or the
    /// `--docker_registry` file for `image` (recorded under that name).
    File {
        path: PathBuf,
        opts: Box<LoadOptions>,
        image: Option<ImageRef>,
    },
    /// A registry pull of this (normalized, maybe re-homed by a remote `--docker_registry`) reference.
    Registry(ImageRef),
    /// An AppC image: the AppC store, else discovery (`appc`).
    Appc(AppcName),
}

/// Decides where `name` comes from. `platform` picks the image of a multi-platform archive.
pub fn locate(
    name: &ImageName,
    docker_registry: &DockerRegistry,
    fallback: bool,
    platform: &Platform,
) -> Result<Source> {
    let base = LoadOptions {
        platform: platform.clone(),
        ..LoadOptions::default()
    };
    let written = name.as_str();
    let image = match name.kind() {
        NameKind::Archive(r) => {
            return Ok(Source::File {
                opts: Box::new(r.load_options(&base)),
                path: r.path.clone(),
                image: None,
            })
        }
        NameKind::Appc(a) => return Ok(Source::Appc(a.clone())),
        NameKind::Registry(image) => image,
    };
    let dir = match docker_registry {
        DockerRegistry::Unset => return Ok(Source::Registry(image.clone())),
        DockerRegistry::Remote(host) => {
            return Ok(Source::Registry(with_default_registry(written, host)?))
        }
        DockerRegistry::Dir(dir) => dir,
    };
    match find_in_registry_dir(dir, written)? {
        (Some(path), _) => Ok(Source::File {
            path,
            opts: Box::new(LoadOptions {
                select: Some(Selector::NameOrOnly(written.to_string())),
                name: Some(image.clone()),
                single: true,
                ..base
            }),
            image: Some(image.clone()),
        }),
        (None, _) if fallback => Ok(Source::Registry(image.clone())),
        (None, tried) => Err(ucr_registry::Error::from(ArchiveError::NotInDir {
            image: written.to_string(),
            dir: dir.to_path_buf(),
            tried,
            hint: "; --docker_registry_fallback allows its registry",
        })
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> ImageName {
        ImageName::parse(s).expect("name")
    }

    #[test]
    fn registry_flag_values_and_their_sources() {
        assert_eq!(DockerRegistry::parse(None), DockerRegistry::Unset);
        assert_eq!(
            DockerRegistry::parse(Some("https://reg.local:5000/")),
            DockerRegistry::Remote("reg.local:5000".into())
        );
        let host = Platform::host();
        let r = locate(
            &name("busybox"),
            &DockerRegistry::Remote("reg.local:5000".into()),
            false,
            &host,
        )
        .expect("remote");
        assert!(
            matches!(r, Source::Registry(i) if i.to_string() == "reg.local:5000/library/busybox:latest")
        );
        let d = tempfile::tempdir().expect("tempdir");
        std::fs::write(d.path().join("busybox.tar"), b"").expect("file");
        let dir = DockerRegistry::Dir(d.path().to_path_buf());
        let f = locate(&name("busybox"), &dir, false, &host).expect("in dir");
        assert!(matches!(f, Source::File { image: Some(_), .. }));
        let e = locate(&name("alpine"), &dir, false, &host).expect_err("not in dir");
        assert!(e.to_string().contains("docker_registry_fallback"), "{e}");
        assert!(matches!(
            locate(&name("alpine"), &dir, true, &host),
            Ok(Source::Registry(_))
        ));
        assert!(matches!(
            locate(&name("appc:example.com/x:1"), &dir, false, &host),
            Ok(Source::Appc(a)) if a.version() == Some("1")
        ));
    }
}
