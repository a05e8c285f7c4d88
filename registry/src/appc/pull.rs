//! Getting AppC images: from the store, or discovered, fetched, verified and committed; then their
//! dependencies, depth-first. What a container is provisioned from is the list this returns, lowest first
//! (dependencies, then the image), as Mesos orders an AppC image's rootfses — or, for an image with a
//! `pathWhitelist`, its one rendering.
//!
//! One fetch: the signature first (small; the policy decides whether it must exist), then the ACI streamed
//! through `ingest` on a blocking thread into staging, then the checks, in this order: the pinned id, the
//! manifest's name and labels against the request (discovery must not hand out another image), the
//! signature over the file as fetched — and only then the commit. Any failure drops the staging directory.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::discovery::{discover, Discovery, Endpoint};
use super::error::{AppcError, Result};
use super::ingest::{ingest, Ingested};
use super::name::AppcName;
use super::store::{AppcImage, AppcStore, ImageRecord};
use super::transport::{Fetched, Location, Transport};
use super::trust::{Policy, Trust};
use super::whitelist;
use crate::error::Error;
use crate::pull::worker::ChannelReader;
use crate::tls::TlsOptions;
use crate::unpack::Limits;

/// Dependencies deeper than this are refused (a cycle would otherwise never end).
const MAX_DEPTH: usize = 16;
/// Signatures are a few hundred bytes; this bounds a hostile one.
const MAX_SIGNATURE: u64 = 64 << 10;
/// Bytes handed to the unpack thread at once.
const BATCH: usize = 256 << 10;

/// How AppC images are found and trusted, from the front end's flags.
#[derive(Clone, Debug)]
pub struct AppcConfig {
    /// `--appc_store_dir`.
    pub store_dir: PathBuf,
    /// `--appc_simple_discovery_uri_prefix` given: simple discovery; else meta discovery.
    pub discovery: Discovery,
    /// `--appc_trust_dir`.
    pub trust_dir: PathBuf,
    /// `--appc_signature_policy`; None: require over plain HTTP, if-present otherwise.
    pub policy: Option<Policy>,
    /// `--appc_trust_discovered_keys`: a signed image whose name no key is trusted for may bring its keys
    /// from its discovery page's `ac-discovery-pubkeys` (HTTPS only); they are stored under
    /// `prefix.d/<name>` and trusted from then on (rkt's trust on first use).
    pub trust_discovered_keys: bool,
    pub tls: TlsOptions,
    pub stall: Duration,
}

/// An image ready to be provisioned.
#[derive(Debug)]
pub struct Provided {
    /// The image asked for.
    pub image: AppcImage,
    /// Every image it stands on, lowest first, itself last.
    pub chain: Vec<AppcImage>,
    /// The directories to stack, lowest first.
    pub layers: Vec<PathBuf>,
}

pub struct AppcPuller {
    store: Arc<AppcStore>,
    transport: Transport,
    config: AppcConfig,
    trust: Trust,
    limits: Limits,
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

impl AppcPuller {
    pub fn new(config: AppcConfig, store: Arc<AppcStore>) -> Result<AppcPuller> {
        Ok(AppcPuller {
            trust: Trust::load(&config.trust_dir)?,
            transport: Transport::new(config.tls.clone(), config.stall),
            store,
            config,
            limits: Limits::default(),
        })
    }

    pub fn store(&self) -> &Arc<AppcStore> {
        &self.store
    }

    /// The image `name` names and its dependencies: from the store when `cached` and there, else fetched
    /// (dependencies are always taken from the store when there, as Mesos does).
    pub async fn provide(&self, name: &AppcName, cached: bool) -> Result<Provided> {
        let _lock = self.store.lock_shared()?;
        let mut chain = Vec::new();
        let image = self.collect(name, cached, 0, &mut chain).await?;
        let layers = match image.manifest.path_whitelist.is_empty() {
            true => chain.iter().map(|i| self.store.rootfs(i.id())).collect(),
            false => {
                let all: Vec<PathBuf> = chain.iter().map(|i| self.store.rootfs(i.id())).collect();
                let (store, id, wl) = (
                    self.store.clone(),
                    image.id().to_string(),
                    image.manifest.path_whitelist.clone(),
                );
                let r =
                    tokio::task::spawn_blocking(move || whitelist::render(&store, &id, &all, &wl))
                        .await
                        .map_err(|e| AppcError::Archive {
                            image: name.to_string(),
                            why: format!("rendering the pathWhitelist: {e}"),
                        })??;
                vec![r]
            }
        };
        Ok(Provided {
            image,
            chain,
            layers,
        })
    }

    fn collect<'a>(
        &'a self,
        name: &'a AppcName,
        cached: bool,
        depth: usize,
        chain: &'a mut Vec<AppcImage>,
    ) -> Boxed<'a, AppcImage> {
        Box::pin(async move {
            if depth > MAX_DEPTH {
                return Err(AppcError::Manifest {
                    image: name.to_string(),
                    why: format!("dependencies nest deeper than {MAX_DEPTH} (a cycle?)"),
                });
            }
            let found = match cached {
                true => self.store.find(name)?,
                false => None,
            };
            let image = match found {
                Some(i) => i,
                None => self.fetch(name).await?,
            };
            for d in &image.manifest.dependencies {
                let dep = d.appc_name();
                self.collect(&dep, true, depth + 1, chain).await?;
            }
            if !chain.iter().any(|i| i.id() == image.id()) {
                chain.push(image.clone());
            }
            Ok(image)
        })
    }

    /// Discovers and fetches `name`: the first endpoint that has the image gives it.
    pub async fn fetch(&self, name: &AppcName) -> Result<AppcImage> {
        let found = discover(name, &self.config.discovery, &self.transport).await?;
        let mut missing = Vec::new();
        for ep in &found.endpoints {
            match self.fetch_from(name, ep, &found.pubkeys).await? {
                Some(img) => return Ok(img),
                None => missing.push(ep.aci.to_string()),
            }
        }
        Err(AppcError::Discovery {
            image: name.to_string(),
            why: format!("not found at {}", missing.join(", ")),
        })
    }

    /// None: nothing at the endpoint's ACI location.
    async fn fetch_from(
        &self,
        name: &AppcName,
        ep: &Endpoint,
        pubkeys: &[url::Url],
    ) -> Result<Option<AppcImage>> {
        let policy = self
            .config
            .policy
            .unwrap_or_else(|| Policy::default_for(&ep.aci));
        let signature = match policy {
            Policy::Ignore => None,
            _ => self.transport.get_small(&ep.asc, MAX_SIGNATURE).await?,
        };
        let Some(fetched) = self.transport.get(&ep.aci).await? else {
            return Ok(None);
        };
        let staging = self.store.staging()?;
        let shown = name.to_string();
        let got = stream(fetched, staging.path(), &shown, &self.limits).await?;
        let learned;
        let trust = match signature.is_some() && !self.trust.trusts(&name.name) {
            true => match self.learn_keys(name, pubkeys).await? {
                Some(t) => {
                    learned = t;
                    &learned
                }
                None => &self.trust,
            },
            false => &self.trust,
        };
        let check = Check {
            from: &ep.aci,
            asc: &ep.asc,
            policy,
            signature: signature.as_deref(),
            trust,
        };
        self.accept(name, staging, got, &check).map(Some)
    }

    /// With `--appc_trust_discovered_keys`: the keys the discovery page names (HTTPS only), stored, and the
    /// trust reloaded with them. None: not allowed, or nothing learned.
    async fn learn_keys(&self, name: &AppcName, pubkeys: &[url::Url]) -> Result<Option<Trust>> {
        if !self.config.trust_discovered_keys {
            return Ok(None);
        }
        let mut learned = false;
        for url in pubkeys.iter().filter(|u| u.scheme() == "https") {
            let loc = Location::Url(url.clone());
            if let Some(armored) = self.transport.get_small(&loc, MAX_SIGNATURE * 16).await? {
                let fp = Trust::add(&self.config.trust_dir, &name.name, &armored)?;
                tracing::warn!(image = %name, key = %fp, from = %url, "trusting a key from the discovery page");
                learned = true;
            }
        }
        match learned {
            true => Trust::load(&self.config.trust_dir).map(Some),
            false => Ok(None),
        }
    }

    /// `ucr load FILE.aci`: the file through the same pass and checks (its `FILE.aci.asc`, if any, is its
    /// signature, checked against the trusted keys; the default policy for a local file is if-present).
    pub fn load(&self, path: &Path) -> Result<AppcImage> {
        let _lock = self.store.lock_shared()?;
        let loc = Location::File(path.to_path_buf());
        let policy = self
            .config
            .policy
            .unwrap_or_else(|| Policy::default_for(&loc));
        let asc = PathBuf::from(format!("{}.asc", path.display()));
        let signature = match (policy, std::fs::read(&asc)) {
            (Policy::Ignore, _) => None,
            (_, Ok(s)) => Some(s),
            (_, Err(e)) if e.kind() == std::io::ErrorKind::NotFound => None,
            (_, Err(e)) => return Err(Error::io(&asc, e).into()),
        };
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let staging = self.store.staging()?;
        let shown = path.display().to_string();
        let got = ingest(file, staging.path(), &shown, &self.limits)?;
        // A file is asked for by no name: whatever it holds is what is wanted.
        let name = AppcName {
            name: got.manifest.name.clone(),
            labels: got.manifest.label_map(),
            id: None,
        };
        let check = Check {
            from: &loc,
            asc: &Location::File(asc),
            policy,
            signature: signature.as_deref(),
            trust: &self.trust,
        };
        self.accept(&name, staging, got, &check)
    }

    /// The checks after the pass, in order (id, name and labels, signature), then the commit.
    fn accept(
        &self,
        name: &AppcName,
        staging: crate::store::Staging,
        got: Ingested,
        check: &Check<'_>,
    ) -> Result<AppcImage> {
        if !name.id_matches(&got.id) {
            return Err(AppcError::WrongId {
                image: name.to_string(),
                want: name.id.clone().unwrap_or_default(),
                got: got.id,
            });
        }
        if !name.matches(&got.manifest.name, &got.manifest.label_map()) {
            let labels: Vec<String> = got
                .manifest
                .labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect();
            return Err(AppcError::Manifest {
                image: name.to_string(),
                why: format!(
                    "{} holds {} ({}), not the image asked for",
                    check.from,
                    got.manifest.name,
                    labels.join(",")
                ),
            });
        }
        let signed_by = match (check.signature, check.policy) {
            (_, Policy::Ignore) => None,
            (Some(sig), _) => {
                let aci = staging.path().join("image.aci");
                Some(check.trust.verify(&name.name, &aci, sig)?)
            }
            (None, Policy::Require) => {
                return Err(AppcError::Signature {
                    image: name.to_string(),
                    why: format!(
                        "no signature at {}, and the signature policy is require (the default over plain HTTP)",
                        check.asc
                    ),
                })
            }
            (None, Policy::IfPresent) => None,
        };
        let record = ImageRecord {
            id: got.id.clone(),
            source: check.from.to_string(),
            size: got.size,
            compression: got.compression.name().to_string(),
            signed_by,
            fetched_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        self.store.commit(staging, &record)?;
        self.store
            .get(&got.id)?
            .ok_or_else(|| AppcError::Unknown(got.id.clone()))
    }
}

/// What one fetched or loaded image is checked against.
struct Check<'a> {
    from: &'a Location,
    asc: &'a Location,
    policy: Policy,
    signature: Option<&'a [u8]>,
    trust: &'a Trust,
}

/// Streams `fetched` through `ingest` on a blocking thread.
async fn stream(
    fetched: Fetched,
    staging: &Path,
    image: &str,
    limits: &Limits,
) -> Result<Ingested> {
    let (staging, image, limits) = (staging.to_path_buf(), image.to_string(), limits.clone());
    let joined = |e: tokio::task::JoinError| AppcError::Archive {
        image: String::new(),
        why: format!("unpack thread: {e}"),
    };
    let mut resp = match fetched {
        Fetched::File(f) => {
            return tokio::task::spawn_blocking(move || ingest(f, &staging, &image, &limits))
                .await
                .map_err(joined)?
        }
        Fetched::Http(r) => r,
    };
    let url = resp.url().to_string();
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    let worker = tokio::task::spawn_blocking(move || {
        ingest(ChannelReader::new(rx), &staging, &image, &limits)
    });
    let mut batch = bytes::BytesMut::with_capacity(BATCH);
    let mut failed = None;
    loop {
        let next = resp.chunk().await;
        let end = !matches!(next, Ok(Some(_)));
        match next {
            Ok(Some(c)) => batch.extend_from_slice(&c),
            Ok(None) => {}
            Err(e) => {
                failed = Some(Error::Transport {
                    url: url.clone(),
                    why: crate::tls::error_chain(&e),
                })
            }
        }
        if batch.len() >= BATCH || (end && !batch.is_empty()) {
            let full = std::mem::replace(&mut batch, bytes::BytesMut::with_capacity(BATCH));
            // A closed channel: the unpack stopped (a bad archive); its error is the one to show.
            if tx.send(full.freeze()).await.is_err() {
                break;
            }
        }
        if end {
            break;
        }
    }
    drop(tx);
    let out = worker.await.map_err(joined)?;
    match failed {
        Some(e) => Err(e.into()),
        None => out,
    }
}
