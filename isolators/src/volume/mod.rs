//! Volume isolators: `volume/host_path` (a host directory or file) and `volume/sandbox_path` (a path in the
//! container's sandbox). Both bind into the container; a relative `container_path` means a path in the sandbox,
//! as in Mesos. For a task without an image "the container" is its private mount namespace over the host's root
//! and the sandbox is where it is on the host.

pub mod host_path;
pub mod sandbox_path;

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::Mount;

use crate::error::{IsolatorError, Result};
use crate::filesystem::mount;
use crate::isolator::Container;
use crate::vocab::{Volume, VolumeMode};

/// Where `container_path` lands inside the container: absolute as given, relative under the sandbox. `..` is
/// refused either way (a relative path must not climb out of the sandbox; an absolute one has no use for it).
pub(crate) fn target(isolator: &'static str, c: &Container<'_>, v: &Volume) -> Result<PathBuf> {
    let p = Path::new(&v.container_path);
    if v.container_path.is_empty() || p.components().any(|c| c == Component::ParentDir) {
        return Err(IsolatorError::invalid(
            isolator,
            format!(
                "volume container_path {:?}: must be non-empty without '..'",
                v.container_path
            ),
        ));
    }
    // A task without an image mounts over the host's own paths (in its private mount namespace): nothing is
    // made on the host for it, so the path must be there, as Mesos requires.
    if p.is_absolute() && c.rootfs.is_none() && !p.exists() {
        return Err(IsolatorError::invalid(
            isolator,
            format!(
                "volume container_path {:?}: a task without an image mounts only on a path the host has \
                 (or give a path relative to the sandbox)",
                v.container_path
            ),
        ));
    }
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        Path::new(c.sandbox_in_container).join(p)
    })
}

/// The bind mount of one volume.
pub(crate) fn bind(
    isolator: &'static str,
    source: &Path,
    target: &Path,
    mode: VolumeMode,
) -> Result<Mount> {
    let rw = match mode {
        VolumeMode::Ro => "ro",
        VolumeMode::Rw => "rw",
    };
    // rprivate: mounts made inside the container must not propagate back to the host through the volume.
    mount(isolator, target, "bind", source, &["rbind", "rprivate", rw])
}
