//! What `load` is asked for: which image of an archive ([`Selector`]), on which platform, within which
//! limits and under which name ([`LoadOptions`]).

use crate::platform::Platform;
use crate::reference::ImageRef;
use crate::unpack::Limits;

/// Which image of an archive to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// The image the archive names so: an OCI `ref.name` as written, a `RepoTags` entry, or any name that
    /// normalizes to the same reference (`busybox` = `docker.io/library/busybox:latest`).
    Name(String),
    /// As `Name`, but an archive holding only one image gives that image whatever it is called in there
    /// (`ucr load --name`, and a `--docker_registry` file, which Mesos takes by its file name alone).
    NameOrOnly(String),
    /// The n-th image (0-based), as skopeo's `docker-archive:PATH:@N`.
    Index(usize),
}

#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// The platform to pick from multi-platform indexes.
    pub platform: Platform,
    pub limits: Limits,
    /// Load only this image.
    pub select: Option<Selector>,
    /// Record the loaded image under this name instead of the names the archive gives it.
    pub name: Option<ImageRef>,
    /// Exactly one image must be chosen (an image source for `run`/`pull`, not `ucr load`).
    pub single: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            platform: Platform::host(),
            limits: Limits::default(),
            select: None,
            name: None,
            single: false,
        }
    }
}
