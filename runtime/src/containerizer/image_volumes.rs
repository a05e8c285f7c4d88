//! Image volumes (Mesos `Volume.image`, its `volume/image` isolator): each image pulled (or found) and held as
//! the container's own image is, its root filesystem provisioned by the same backend under the key
//! `<the container's provisioner key>.v<N>`, and given to the isolators as a volume whose source is that
//! rootfs. Each digest is checkpointed (`ContainerState::volume_images`) before its provision, so image garbage
//! collection keeps it while the container lives and the teardown removes every volume rootfs a crash may have
//! left (`paths::volume_keys`).

use crate::container::checkpoint::write_json;
use crate::container::error::Result;
use crate::container::paths::volume_keys;
use crate::container::state::{ContainerState, State};
use crate::images::{Images, Notices};
use crate::provisioner;
use crate::spec::{ContainerConfig, Volume, VolumeSource};

use super::config::Config;

/// The image volumes of `cfg`, provisioned, as volumes for the isolators (in the request's order).
pub(super) fn provide(
    config: &Config,
    images: &Images,
    cfg: &ContainerConfig,
    st: &mut ContainerState,
    notices: &dyn Notices,
) -> Result<Vec<Volume>> {
    if cfg.image_volumes.is_empty() {
        return Ok(Vec::new());
    }
    let paths = &config.paths;
    // The backend the container's own rootfs chose, if it has one: the same for its volumes.
    let name = st.backend.as_deref().or(config.backend.as_deref());
    let backend = provisioner::select(name, &paths.provisioner(), images.store_dir())?;
    st.backend = Some(backend.name().to_string());
    let keys = volume_keys(&cfg.id, cfg.image_volumes.len());
    let mut out = Vec::with_capacity(keys.len());
    for (v, key) in cfg.image_volumes.iter().zip(keys) {
        let (image, held) = images.provide_held(&v.image, notices)?;
        st.volume_images.push(image.digest.clone());
        st.state = State::Provisioning;
        write_json(&paths.state_file(&st.id), st)?;
        drop(held);
        let rootfs = backend.provision(&key, &image.layers)?;
        out.push(Volume {
            container_path: v.container_path.clone(),
            mode: v.mode,
            source: VolumeSource::HostPath {
                path: rootfs.to_string_lossy().into_owned(),
            },
        });
    }
    Ok(out)
}
