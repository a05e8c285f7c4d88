//! What the container commands share: the paths, the image resolver that pulls on demand with the registry
//! options, and the launcher wired to start `ucr __supervise` with the same global options.

use std::ffi::OsString;
use std::path::PathBuf;

use ucr_registry::manifest::ImageConfig;
use ucr_registry::platform::Platform;
use ucr_registry::pull::PullOptions;
use ucr_registry::store::Store;
use ucr_registry::ImageRef;
use ucr_runtime::container::{ContainerError, Images, Paths, ResolvedImage};
use ucr_runtime::images::{open_store, puller};
use ucr_runtime::spec::ImageSpec;

use super::archive::{self, Source};
use super::{Cli, RegistryArgs};

pub fn paths(cli: &Cli) -> Paths {
    Paths::new(&cli.root, &cli.runtime_dir)
}

/// The global options a supervisor needs to find the same dirs.
pub fn global_args(cli: &Cli) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![
        "--root".into(),
        cli.root.clone().into(),
        "--runtime-dir".into(),
        cli.runtime_dir.clone().into(),
        "--docker-store-dir".into(),
        cli.store_dir().into(),
        "--log-level".into(),
        cli.log_level.clone().into(),
    ];
    if let Some(b) = &cli.image_provisioner_backend {
        v.push("--image_provisioner_backend".into());
        v.push(b.into());
    }
    v
}

pub fn exe() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe"))
}

/// Images from the store, pulled first when absent or when the request says `cached: false`; file references
/// and `--docker_registry` files are loaded instead (see `archive::source`).
pub struct CliImages<'a> {
    pub cli: &'a Cli,
    pub registry: &'a RegistryArgs,
    /// Say nothing while pulling (detached runs print only the id).
    pub quiet: bool,
}

impl Images for CliImages<'_> {
    fn resolve(&self, spec: &ImageSpec) -> Result<ResolvedImage, ContainerError> {
        let store = open_store(self.cli.store_dir())?;
        let platform = archive::platform(self.registry.platform.as_deref())?;
        let rec = match archive::source(self.cli, &spec.reference, &platform)? {
            // A file reference or the `--docker_registry` file: loaded (layers already stored are reused).
            Source::File { path, opts, image } => {
                match image
                    .filter(|_| spec.cached)
                    .map(|i| archive::complete_record(&store, &i))
                {
                    Some(Ok(Some(r))) => r,
                    _ => {
                        if !self.quiet {
                            eprintln!("Loading {}", path.display());
                        }
                        archive::load_file(&store, &path, &opts)?
                    }
                }
            }
            Source::Registry(image) => {
                let present = store.get_image(&image.to_string())?;
                match present {
                    Some(r)
                        if spec.cached && r.layers.iter().all(|l| store.has_layer(&l.diff_id)) =>
                    {
                        r
                    }
                    _ => self.pull(&store, &image, spec)?,
                }
            }
        };
        let config = ImageConfig::parse(&store.read_blob(&rec.config_digest)?, &rec.config_digest)?;
        Ok(ResolvedImage {
            reference: rec.reference.clone(),
            digest: rec.manifest_digest.to_string(),
            layers: rec
                .layers
                .iter()
                .map(|l| store.layer_fs(&l.diff_id))
                .collect(),
            config: config.config,
        })
    }
}

impl CliImages<'_> {
    fn pull(
        &self,
        store: &std::sync::Arc<Store>,
        image: &ImageRef,
        spec: &ImageSpec,
    ) -> Result<ucr_registry::store::ImageRecord, ContainerError> {
        let mut ropts = self.registry.options();
        if let Some(cfg) = &spec.docker_config {
            // The request's own docker config (Mesos `docker.config`) wins over the command line's.
            ropts.docker_config = Some(cfg.clone());
        }
        let copts = ropts.client_options(Some(image))?;
        let platform = match &self.registry.platform {
            Some(p) => Platform::parse(p)?,
            None => Platform::host(),
        };
        let popts = PullOptions {
            platform,
            force: !spec.cached,
            ..PullOptions::default()
        };
        let p = puller(store.clone(), copts);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| ContainerError::io("tokio runtime", e))?;
        if !self.quiet {
            eprintln!("Pulling {image}");
        }
        Ok(rt.block_on(p.pull(image, &popts, &()))?)
    }
}
