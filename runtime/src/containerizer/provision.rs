//! The first part of a launch's preparation (`launch.rs`), which needs nothing of a parent: the image provided
//! (pulled when asked, with pull credentials fetched into the sandbox first), the rootfs provisioned and the
//! image volumes, each step checkpointed before it starts. A pod's members get this far while the pod's parent
//! is made (`member_process.rs`).

use std::borrow::Cow;
use std::path::PathBuf;

use ucr_registry::appc::manifest::App;
use ucr_registry::manifest::RunConfig;

use super::config::Config;
use crate::container::checkpoint::write_json;
use crate::container::error::{ContainerError, Result};
use crate::container::state::{ContainerState, State};
use crate::fetcher::credentials::fetch_credentials;
use crate::fetcher::FetchOptions;
use crate::images::{Images, Notices};
use crate::provisioner;
use crate::spec::{ContainerConfig, Volume};

/// A launch with its image and rootfs provided, which needs nothing of a parent yet: what
/// `Provisioned::prepare` (`launch.rs`) needs for the rest. A pod's members get this far while the pod's parent is made
/// (`member_process.rs`).
pub(super) struct Provisioned<'a> {
    /// The request, with an AppC image's app section filled in.
    pub cfg: Cow<'a, ContainerConfig>,
    /// The image's run config and the provisioned rootfs, or none: the task runs on the host's root.
    pub image: Option<(RunConfig, PathBuf)>,
    pub image_volumes: Vec<Volume>,
    /// Where the task sees its sandbox.
    pub sandbox_dir: String,
    pub fetch: FetchOptions,
}

/// The first part of a launch's preparation (`launch::prepare`): provides the image (pulled when asked), the rootfs and the image volumes.
pub(super) fn provision<'a>(
    config: &Config,
    images: &Images,
    cfg: &'a ContainerConfig,
    st: &mut ContainerState,
    notices: &dyn Notices,
) -> Result<Provisioned<'a>> {
    let (paths, id) = (&config.paths, cfg.id.as_str());
    checkpoint(config, st, State::Provisioning)?;
    let sandbox = paths.sandbox(id);
    let fetch = FetchOptions {
        tls: images.tls(),
        stall_timeout: config.fetcher_stall_timeout,
        ..FetchOptions::default()
    };
    // (the image's run config, its provisioned rootfs), or None: the task runs on the host's root.
    let (image, app) = match provide_rootfs(config, images, cfg, st, &fetch, notices)? {
        Some((run, rootfs, app)) => (Some((run, rootfs)), app),
        None => (None, None),
    };
    let image_volumes = super::image_volumes::provide(config, images, cfg, st, notices)?;
    let rootfs = image.as_ref().map(|(_, r)| r.as_path());
    // An AppC app section fills in ports, mount points and resources the request left open.
    let with_app = match &app {
        Some(app) => super::appc_app::with_app(cfg, app)
            .map_err(|why| ContainerError::launch(id, "provisioning", why, 125))?,
        None => None,
    };
    let given = match with_app {
        Some(c) => {
            write_json(&paths.config_file(id), &c)?;
            Cow::Owned(c)
        }
        None => Cow::Borrowed(cfg),
    };
    // On the host's root the task sees its sandbox where it is (Mesos sets MESOS_SANDBOX to the host path).
    let sandbox_dir = match rootfs {
        Some(_) => config.sandbox_directory.clone(),
        None => sandbox.to_string_lossy().into_owned(),
    };
    st.sandbox_directory = sandbox_dir.clone();
    killed_yet(config, id, "provisioning")?;
    Ok(Provisioned {
        cfg: given,
        image,
        image_volumes,
        sandbox_dir,
        fetch,
    })
}

pub(super) fn checkpoint(config: &Config, st: &mut ContainerState, s: State) -> Result<()> {
    st.state = s;
    write_json(&config.paths.state_file(&st.id), st)
}

/// A kill that arrived while the container was being made (Mesos destroys a container that has no task yet):
/// the launch stops at the next step and undoes what it did.
pub(super) fn killed_yet(config: &Config, id: &str, step: &'static str) -> Result<()> {
    if config.paths.kill_marker(id).exists() {
        return Err(ContainerError::launch(
            id,
            step,
            "killed before the task started",
            137,
        ));
    }
    Ok(())
}

/// Pull (or find) the image, with pull credentials fetched into the sandbox when the request has none of its
/// own (fetched before the image says who the task runs as: never through the cache), and provision its rootfs.
/// Returns the image's run config, the rootfs and an AppC image's app section.
fn provide_rootfs(
    config: &Config,
    images: &Images,
    cfg: &ContainerConfig,
    st: &mut ContainerState,
    fetch: &FetchOptions,
    notices: &dyn Notices,
) -> Result<Option<(RunConfig, PathBuf, Option<App>)>> {
    let Some(i) = &cfg.image else {
        return Ok(None);
    };
    let (paths, id) = (&config.paths, cfg.id.as_str());
    let sandbox = paths.sandbox(id);
    let image = match fetch_credentials(id, &cfg.command.uris, &sandbox, fetch)? {
        // The request's own credentials (docker.config, pullConfig, docker.credential) come first.
        Some((docker_config, from)) if i.docker_config.is_none() => {
            tracing::info!(
                container = id,
                file = from,
                "pull credentials from the sandbox"
            );
            let mut with = i.clone();
            with.docker_config = Some(docker_config);
            images.provide_held(&with, notices).map_err(|e| {
                ContainerError::launch(
                    id,
                    "provisioning",
                    format!("{e} (credentials from the sandbox's {from})"),
                    125,
                )
            })?
        }
        _ => images.provide_held(i, notices)?,
    };
    // Held until the checkpoint below says this container uses the image: `rmi` and `prune` cannot remove it
    // between (`Images::provide_held`).
    let (image, held) = image;
    st.image = Some(image.reference.clone());
    st.image_digest = Some(image.digest.clone());
    let backend = provisioner::select(
        config.backend.as_deref(),
        &paths.provisioner(),
        images.store_dir(),
    )?;
    st.backend = Some(backend.name().to_string());
    checkpoint(config, st, State::Provisioning)?;
    drop(held);
    let rootfs = backend.provision(&crate::container::paths::provision_key(id), &image.layers)?;
    st.rootfs = Some(rootfs.to_string_lossy().into_owned());
    Ok(Some((image.config, rootfs, image.app)))
}
