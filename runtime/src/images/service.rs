//! The `Images` service: the one place a front end gets an image from — for a container (`provide`), for
//! `ucr pull` (`pull`), from and to files (`load`, `save`). It owns the store, the registry options, the
//! platform and Mesos's `--docker_registry`, so the CLI, the agent and the OCI runtime mode resolve an image
//! name the same way.
//!
//! "Complete" has one definition, the store's ([`Store::is_complete`]): an image is taken from the store only
//! when its record, config and every layer (unpacked and as a blob) are there; anything less is fetched again
//! (verified layers already stored are reused by the pull or load).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use ucr_registry::archive::{self, LoadOptions};
use ucr_registry::client::Registries;
use ucr_registry::manifest::{ImageConfig, RunConfig};
use ucr_registry::platform::Platform;
use ucr_registry::pull::{Observer, PullOptions, Puller};
use ucr_registry::store::{ImageRecord, Store, StoreLock};
use ucr_registry::tls::TlsOptions;
use ucr_registry::{ImageName, ImageRef};

use ucr_registry::appc::manifest::App;
use ucr_registry::appc::pull::{AppcPuller, Provided};
use ucr_registry::appc::AppcError;

use super::appc::AppcSettings;
use super::error::{ImageError, Result};
use super::options::RegistryOptions;
use super::providers::Providers;
use super::source::{locate, DockerRegistry, Source};
use crate::rt;
use crate::spec::ImageSpec;

/// A fetch of an ACI that receives nothing for this long fails (the registry client's default too).
const APPC_STALL: std::time::Duration = std::time::Duration::from_secs(60);

/// How images are found, as the front end's flags say.
#[derive(Clone, Debug, Default)]
pub struct ImagesConfig {
    /// `--docker_store_dir`.
    pub store_dir: PathBuf,
    pub registry: RegistryOptions,
    /// `OS/ARCH[/VARIANT]` to pick from multi-platform images (default: this host's).
    pub platform: Option<String>,
    /// Mesos `--docker_registry`: a directory of tarballs or a registry.
    pub docker_registry: Option<String>,
    /// Mesos `--docker_registry_fallback`.
    pub docker_registry_fallback: bool,
    /// The AppC store, discovery and trust.
    pub appc: AppcSettings,
    /// Mesos `--image_providers`: the kinds of image a container may have.
    pub providers: Providers,
}

/// What `ucr pull` got.
pub enum Pulled {
    Image(Box<ImageRecord>),
    /// An AppC image and the images it stands on (lowest first, itself last).
    Appc(Box<Provided>),
}

/// An image made ready for a container: its layer dirs (lowest first) and its run config.
pub struct ProvidedImage {
    /// The normalized reference it is recorded under.
    pub reference: String,
    pub digest: String,
    pub layers: Vec<PathBuf>,
    pub config: RunConfig,
    /// An AppC image's app section (its ports, mount points and resources reach the container).
    pub app: Option<App>,
}

/// What `ucr pull` asks for.
#[derive(Clone, Debug)]
pub struct PullRequest {
    /// Fetch the manifest again even if the image is present (verified layers are reused).
    pub force: bool,
    /// Use only the store (and a `--docker_registry` directory).
    pub offline: bool,
    /// Layers downloaded at once.
    pub max_concurrent: usize,
}

/// What providing an image tells its caller as it goes (the CLI prints it; the agent logs it).
pub trait Notices: Sync {
    fn loading(&self, _path: &Path) {}
    fn pulling(&self, _image: &ImageRef) {}
    /// Who hears about the launch's fetches; None: nobody.
    fn fetch_observer(&self) -> Option<Arc<dyn crate::fetcher::FetchObserver>> {
        None
    }
}

impl Notices for () {}

pub struct Images {
    config: ImagesConfig,
    platform: Platform,
    docker_registry: DockerRegistry,
    store: OnceLock<Arc<Store>>,
    appc: super::appc::Checked,
    appc_puller: OnceLock<Arc<AppcPuller>>,
}

impl Images {
    /// Checks the options (the platform) now; the store is opened on first use.
    pub fn new(config: ImagesConfig) -> Result<Images> {
        let platform = match &config.platform {
            Some(p) => Platform::parse(p)?,
            None => Platform::host(),
        };
        let mut appc = config.appc.clone();
        if appc.store_dir.as_os_str().is_empty() {
            // Unset: beside the Docker store (`<root>/store/docker` → `<root>/store/appc`).
            appc.store_dir = config.store_dir.with_file_name("appc");
        }
        Ok(Images {
            appc: super::appc::Checked::new(appc)?,
            appc_puller: OnceLock::new(),
            docker_registry: DockerRegistry::parse(config.docker_registry.as_deref()),
            platform,
            config,
            store: OnceLock::new(),
        })
    }

    /// The trust of the registry options, which the fetcher uses too.
    pub fn tls(&self) -> TlsOptions {
        self.config.registry.tls()
    }

    pub fn store_dir(&self) -> &Path {
        &self.config.store_dir
    }

    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The store, opened (and its stale staging cleaned) once.
    pub fn store(&self) -> Result<Arc<Store>> {
        if let Some(s) = self.store.get() {
            return Ok(s.clone());
        }
        let s = Arc::new(Store::open(&self.config.store_dir)?);
        Ok(self.store.get_or_init(|| s).clone())
    }

    /// The AppC puller (and its store, opened and its stale staging cleaned), made once.
    pub fn appc(&self) -> Result<Arc<AppcPuller>> {
        if let Some(p) = self.appc_puller.get() {
            return Ok(p.clone());
        }
        let p = Arc::new(self.appc.puller(self.tls(), APPC_STALL)?);
        Ok(self.appc_puller.get_or_init(|| p).clone())
    }

    /// `--appc_store_dir`.
    pub fn appc_store_dir(&self) -> &Path {
        self.appc.store_dir()
    }

    /// Where `name` comes from under this configuration.
    pub fn locate(&self, name: &ImageName) -> Result<Source> {
        locate(
            name,
            &self.docker_registry,
            self.config.docker_registry_fallback,
            &self.platform,
        )
    }

    /// Pulls `image`, one pull of it at a time in this store (`pull_lock`): the others wait for it. One that
    /// needs the image only present then finds it complete; a forced one takes the image a pull ended with
    /// after it asked, as Mesos's store joins a pull under way (the members of a pod that all force the same
    /// image so pull it once).
    fn pull_once(
        &self,
        store: &Store,
        image: &ImageRef,
        spec: &ImageSpec,
        notices: &dyn Notices,
    ) -> Result<ImageRecord> {
        let asked = SystemTime::now();
        let reference = image.to_string();
        let _lock = super::pull_lock::hold(self.store_dir(), &reference)?;
        let done = match spec.cached {
            true => store.complete_image(&reference)?,
            false => store.complete_image_since(&reference, asked)?,
        };
        if let Some(r) = done {
            return Ok(r);
        }
        let popts = PullOptions {
            platform: self.platform.clone(),
            force: !spec.cached,
            ..PullOptions::default()
        };
        notices.pulling(image);
        let pull = self.pull_registry(image, &popts, spec.docker_config.as_deref(), &());
        rt::block_on(pull).map_err(ImageError::Runtime)?
    }

    /// The image of a container: from the store when it is complete there (and the request allows a cached
    /// image), else loaded from its file or pulled with the registry options (the request's own docker config
    /// winning over the front end's).
    pub fn provide(&self, spec: &ImageSpec, notices: &dyn Notices) -> Result<ProvidedImage> {
        let source = self.locate(&spec.reference)?;
        let appc = matches!(source, Source::Appc(_));
        self.config.providers.check(appc, &spec.reference)?;
        let store = self.store()?;
        let rec = match source {
            Source::File { path, opts, image } => {
                let stored = match image.filter(|_| spec.cached) {
                    Some(i) => store.complete_image(&i.to_string())?,
                    None => None,
                };
                match stored {
                    Some(r) => r,
                    None => {
                        notices.loading(&path);
                        load_one(&store, &path, &opts)?
                    }
                }
            }
            Source::Registry(image) => {
                let stored = if spec.cached {
                    store.complete_image(&image.to_string())?
                } else {
                    None
                };
                match stored {
                    Some(r) => r,
                    None => self.pull_once(&store, &image, spec, notices)?,
                }
            }
            Source::Appc(name) => {
                let puller = self.appc()?;
                let got = rt::block_on(puller.provide(&name, spec.cached))
                    .map_err(ImageError::Runtime)??;
                return Ok(appc_provided(got));
            }
        };
        provided(&store, &rec)
    }

    /// [`Images::provide`] holding the shared lock of the store the image is in, which the caller keeps until it
    /// has recorded that its container uses the image. `rmi` and `prune` take that lock exclusively and, holding
    /// it, spare the images that live containers record (`prune.rs`, `appc_gc.rs`): an image provided here
    /// cannot be removed before its user says it uses it.
    pub fn provide_held(
        &self,
        spec: &ImageSpec,
        notices: &dyn Notices,
    ) -> Result<(ProvidedImage, StoreLock)> {
        let lock = match self.locate(&spec.reference)? {
            Source::Appc(_) => self.appc()?.store().lock_shared()?,
            _ => self.store()?.lock_shared()?,
        };
        Ok((self.provide(spec, notices)?, lock))
    }

    /// What `name` stands for when the store already has it complete, nothing pulled or loaded (`launch
    /// --dry-run`); None otherwise, and for a file reference, whose names only its archive knows.
    pub fn local(&self, name: &ImageName) -> Result<Option<ProvidedImage>> {
        let store = self.store()?;
        let image = match self.locate(name)? {
            Source::File { image: Some(i), .. } | Source::Registry(i) => i,
            Source::File { image: None, .. } => return Ok(None),
            Source::Appc(name) => {
                let found = self.appc()?.store().find(&name)?;
                return Ok(found.map(|i| {
                    let rootfs = self.appc().map(|p| p.store().rootfs(i.id()));
                    appc_provided(Provided {
                        layers: rootfs.into_iter().collect(),
                        chain: vec![i.clone()],
                        image: i,
                    })
                }));
            }
        };
        match store.complete_image(&image.to_string())? {
            Some(rec) => provided(&store, &rec).map(Some),
            None => Ok(None),
        }
    }

    /// `ucr pull`: a file or `--docker_registry` directory image is loaded (offline: the store first), any
    /// other is pulled from its registry.
    pub async fn pull(
        &self,
        name: &ImageName,
        req: &PullRequest,
        obs: &dyn Observer,
    ) -> Result<Pulled> {
        match self.locate(name)? {
            Source::File { path, opts, image } => {
                let store = self.store()?;
                if let (true, Some(image)) = (req.offline, &image) {
                    if let Some(rec) = store.complete_image(&image.to_string())? {
                        return Ok(Pulled::Image(Box::new(rec)));
                    }
                }
                load_one(&store, &path, &opts).map(|r| Pulled::Image(Box::new(r)))
            }
            Source::Appc(name) => {
                let puller = self.appc()?;
                if req.offline {
                    return match puller.store().find(&name)? {
                        Some(i) => Ok(Pulled::Appc(Box::new(Provided {
                            layers: vec![puller.store().rootfs(i.id())],
                            chain: vec![i.clone()],
                            image: i,
                        }))),
                        None => Err(AppcError::Unknown(name.to_string()).into()),
                    };
                }
                Ok(Pulled::Appc(Box::new(
                    puller.provide(&name, !req.force).await?,
                )))
            }
            Source::Registry(image) => {
                let popts = PullOptions {
                    platform: self.platform.clone(),
                    force: req.force,
                    offline: req.offline,
                    max_concurrent: req.max_concurrent,
                    ..PullOptions::default()
                };
                self.pull_registry(&image, &popts, None, obs)
                    .await
                    .map(|r| Pulled::Image(Box::new(r)))
            }
        }
    }

    async fn pull_registry(
        &self,
        image: &ImageRef,
        popts: &PullOptions,
        docker_config: Option<&str>,
        obs: &dyn Observer,
    ) -> Result<ImageRecord> {
        let mut ropts = self.config.registry.clone();
        if let Some(cfg) = docker_config {
            let from =
                "the request's docker config (docker.config, docker.credential or pullConfig)";
            ropts.request_docker_config = Some((cfg.to_string(), from.to_string()));
        }
        let copts = ropts.client_options(Some(image))?;
        let puller = Puller::new(self.store()?, Arc::new(Registries::new(copts)));
        let pull = puller.pull(image, popts, obs);
        match self.config.registry.pull_timeout {
            // Dropping the pull ends its downloads; its staging goes with it and the store keeps what was
            // committed, as after any failed pull.
            Some(t) => {
                tokio::time::timeout(t, pull)
                    .await
                    .map_err(|_| ucr_registry::Error::Timeout {
                        what: format!("pull of {image}"),
                        secs: t.as_secs_f64(),
                    })?
            }
            None => pull.await,
        }
        .map_err(Into::into)
    }

    /// `ucr load`: every image of an archive or layout (or the one `opts` selects).
    pub fn load(&self, path: &Path, opts: &LoadOptions) -> Result<Vec<ImageRecord>> {
        Ok(archive::load(&*self.store()?, path, opts)?)
    }

    /// `ucr save`: the images named into one OCI layout tar (`-`: standard output).
    pub fn save(&self, images: &[String], out: &Path) -> Result<Vec<ImageRecord>> {
        Ok(archive::save(&*self.store()?, images, out)?)
    }
}

/// Loads a single-image source and returns the record of its one image (a single-image load returns one
/// record per name; they are all the same image).
fn load_one(store: &Store, path: &Path, opts: &LoadOptions) -> Result<ImageRecord> {
    archive::load(store, path, opts)?
        .into_iter()
        .next()
        .ok_or_else(|| ucr_registry::Error::ImageUnknown(path.display().to_string()).into())
}

/// The provided image of a complete store record: its layers' directories and run config.
fn provided(store: &Store, rec: &ImageRecord) -> Result<ProvidedImage> {
    let config = ImageConfig::parse(&store.read_blob(&rec.config_digest)?, &rec.config_digest)?;
    Ok(ProvidedImage {
        reference: rec.reference.clone(),
        digest: rec.manifest_digest.to_string(),
        layers: rec
            .layers
            .iter()
            .map(|l| store.layer_fs(&l.diff_id))
            .collect(),
        config: config.config,
        app: None,
    })
}

/// The provided image of an AppC image: its layers (dependencies first) and its app section.
fn appc_provided(p: Provided) -> ProvidedImage {
    let app = p.image.manifest.app.clone();
    ProvidedImage {
        reference: p.image.reference(),
        digest: p.image.id().to_string(),
        layers: p.layers,
        config: super::appc::run_config(app.as_ref()),
        app,
    }
}
