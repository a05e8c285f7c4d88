//! Pulling an image into the store, in one pass per layer:
//! socket → sha256 of the compressed bytes (+ the blob file) → inflate (gzip | zstd | none) → sha256 of the tar
//! (diff_id) → confined apply into `staging/…/fs`. Only when the size, the blob digest and the diff_id all match
//! is the blob committed and the layer renamed into the store; the image record is written last.
//! Layers run in parallel (bounded); two pulls in one process that need the same layer share one download.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::blob::BlobSource;
use crate::client::{Registries, RegistryClient};
use crate::digest::Digest;
use crate::error::{Error, IoContext, Result};
use crate::manifest::{self, Descriptor, ImageConfig, ImageManifest};
use crate::platform::Platform;
use crate::reference::ImageRef;
use crate::store::{ImageRecord, LayerRecord, LayerRef, Store};
use crate::unpack::Limits;
use worker::{unpack_worker, WorkerError};

pub(crate) mod worker;

/// Bytes handed to the unpack thread at a time.
const BATCH: usize = 256 << 10;

#[derive(Clone, Debug)]
pub struct PullOptions {
    pub platform: Platform,
    /// Re-fetch the manifest even when the image is present (verified layers are still reused).
    pub force: bool,
    /// Never contact a registry: succeed only if the image is complete in the store.
    pub offline: bool,
    /// Layers downloaded at once.
    pub max_concurrent: usize,
    pub limits: Limits,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: Platform::host(),
            force: false,
            offline: false,
            max_concurrent: 3,
            limits: Limits::default(),
        }
    }
}

/// What a pull reports as it goes (the CLI turns these into progress bars or JSON lines).
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Resolved {
        reference: String,
        digest: String,
        layers: usize,
    },
    LayerStart {
        digest: String,
        size: u64,
    },
    LayerProgress {
        digest: String,
        bytes: u64,
        size: u64,
    },
    LayerDone {
        digest: String,
        cached: bool,
    },
    Done {
        reference: String,
        digest: String,
    },
}

pub trait Observer: Send + Sync {
    fn event(&self, e: Event);
}

impl Observer for () {
    fn event(&self, _: Event) {}
}

pub struct Puller {
    store: Arc<Store>,
    registries: Arc<Registries>,
    inflight: Mutex<HashMap<Digest, Arc<tokio::sync::Mutex<()>>>>,
}

impl Puller {
    pub fn new(store: Arc<Store>, registries: Arc<Registries>) -> Puller {
        Puller {
            store,
            registries,
            inflight: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn registries(&self) -> &Arc<Registries> {
        &self.registries
    }

    /// Pulls `image` (unless it is present and pinned by digest and `force` is off) and returns its record.
    pub async fn pull(
        &self,
        image: &ImageRef,
        opts: &PullOptions,
        obs: &dyn Observer,
    ) -> Result<ImageRecord> {
        let store = self.store.clone();
        let _lock = tokio::task::spawn_blocking(move || store.lock_shared())
            .await
            .map_err(|e| Error::Store {
                path: self.store.root().into(),
                why: e.to_string(),
            })??;
        let key = image.to_string();
        if let (Some(want), false) = (image.digest(), opts.force) {
            if let Some(rec) = self.store.get_image(&key)? {
                if &rec.manifest_digest == want && self.store.is_complete(&rec) {
                    obs.event(Event::Done {
                        reference: key,
                        digest: rec.manifest_digest.to_string(),
                    });
                    return Ok(rec);
                }
            }
        }
        if opts.offline {
            return match self.store.get_image(&key)? {
                Some(rec) if self.store.is_complete(&rec) => {
                    obs.event(Event::Done {
                        reference: key,
                        digest: rec.manifest_digest.to_string(),
                    });
                    Ok(rec)
                }
                _ => Err(Error::ImageUnknown(format!(
                    "{key} (and --offline forbids contacting the registry)"
                ))),
            };
        }
        let (client, m) = self.resolve(image, &opts.platform).await?;
        obs.event(Event::Resolved {
            reference: key.clone(),
            digest: m.digest.to_string(),
            layers: m.layers.len(),
        });
        if !opts.force {
            if let Some(rec) = self.store.get_image(&key)? {
                if rec.manifest_digest == m.digest && self.store.is_complete(&rec) {
                    for l in &rec.layers {
                        obs.event(Event::LayerDone {
                            digest: l.digest.to_string(),
                            cached: true,
                        });
                    }
                    obs.event(Event::Done {
                        reference: key,
                        digest: m.digest.to_string(),
                    });
                    return Ok(rec);
                }
            }
        }
        let config_bytes = if self.store.has_blob(&m.config.digest) {
            self.store.read_blob(&m.config.digest)?
        } else {
            manifest::fetch_config(&client, image, &m.config).await?
        };
        let config = ImageConfig::parse(&config_bytes, &m.config.digest)?;
        config
            .conform(m.layers.len())
            .map_err(|why| Error::Manifest {
                reference: key.clone(),
                why: format!("image config {}: {why}", m.config.digest),
            })?;
        let sem = Arc::new(tokio::sync::Semaphore::new(opts.max_concurrent.max(1)));
        let jobs = m
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(desc, diff_id)| {
                let sem = sem.clone();
                let client = client.clone();
                async move {
                    let _permit = sem.acquire().await.map_err(|e| Error::Store {
                        path: PathBuf::new(),
                        why: e.to_string(),
                    })?;
                    self.layer(&client, image, desc, diff_id, &opts.limits, obs)
                        .await
                }
            });
        futures_util::future::try_join_all(jobs).await?;
        // Everything the record names is verified and committed; now the record itself.
        self.store.put_blob(&m.config.digest, &config_bytes)?;
        self.store.put_blob(&m.digest, &m.raw)?;
        if let Some((d, raw)) = &m.index {
            self.store.put_blob(d, raw)?;
        }
        let rec = ImageRecord {
            reference: key.clone(),
            manifest_digest: m.digest.clone(),
            manifest_media_type: m.media_type.clone(),
            index_digest: m.index.as_ref().map(|(d, _)| d.clone()),
            config_digest: m.config.digest.clone(),
            layers: m
                .layers
                .iter()
                .zip(&config.rootfs.diff_ids)
                .map(|(l, d)| LayerRef {
                    digest: l.digest.clone(),
                    diff_id: d.clone(),
                    size: l.size,
                    media_type: l.media_type.clone(),
                })
                .collect(),
            platform: format!("{}/{}", config.os, config.architecture),
            pulled_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            created: config.created.clone(),
        };
        self.store.put_image(&rec)?;
        obs.event(Event::Done {
            reference: key,
            digest: m.digest.to_string(),
        });
        Ok(rec)
    }

    /// Mirrors first (Docker Hub images), then the origin; the origin's error is the one reported.
    async fn resolve(
        &self,
        image: &ImageRef,
        platform: &Platform,
    ) -> Result<(Arc<RegistryClient>, ImageManifest)> {
        let candidates = self.registries.candidates(image)?;
        let last = candidates.len().saturating_sub(1);
        for (i, c) in candidates.into_iter().enumerate() {
            match manifest::resolve(&c, image, platform).await {
                Ok(m) => return Ok((c, m)),
                Err(e) if i < last => {
                    tracing::warn!(mirror = c.host(), error = %e, "mirror failed; trying the next")
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Manifest {
            reference: image.to_string(),
            why: "no registry to ask".into(),
        })
    }

    async fn layer(
        &self,
        client: &Arc<RegistryClient>,
        image: &ImageRef,
        desc: &Descriptor,
        diff_id: &Digest,
        limits: &Limits,
        obs: &dyn Observer,
    ) -> Result<()> {
        let gate = {
            let mut m = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            m.entry(desc.digest.clone()).or_default().clone()
        };
        let _held = gate.lock().await;
        if self.store.has_layer(diff_id) && self.store.has_blob(&desc.digest) {
            obs.event(Event::LayerDone {
                digest: desc.digest.to_string(),
                cached: true,
            });
            return Ok(());
        }
        obs.event(Event::LayerStart {
            digest: desc.digest.to_string(),
            size: desc.size,
        });
        let staging = self.store.staging()?;
        let fs = staging.path().join("fs");
        std::fs::create_dir(&fs).at(&fs)?;
        let local = self
            .store
            .has_blob(&desc.digest)
            .then(|| self.store.blob_path(&desc.digest));
        let blob_out = local.is_none().then(|| staging.path().join("blob"));

        let (tx, rx) = mpsc::channel::<Bytes>(8);
        let worker = {
            let (fs, blob_out, local, limits, algo) = (
                fs.clone(),
                blob_out.clone(),
                local.clone(),
                limits.clone(),
                desc.digest.algo(),
            );
            tokio::task::spawn_blocking(move || {
                unpack_worker(
                    rx,
                    local.as_deref(),
                    blob_out.as_deref(),
                    &fs,
                    algo,
                    &limits,
                )
            })
        };
        let mut download_err = None;
        if local.is_none() {
            let mut src = BlobSource::new(client.clone(), image.repository(), desc);
            // The socket yields ~8 KiB pieces; handing each to the unpack thread costs a wake-up. Batches of
            // 256 KiB cut those ~30× for one extra memcpy.
            let mut batch = bytes::BytesMut::with_capacity(BATCH);
            loop {
                let next = src.next_chunk().await;
                let end = !matches!(next, Ok(Some(_)));
                match next {
                    Ok(Some(c)) => batch.extend_from_slice(&c),
                    Ok(None) => {}
                    Err(e) => download_err = Some(e),
                }
                if batch.len() >= BATCH || (end && !batch.is_empty()) {
                    obs.event(Event::LayerProgress {
                        digest: desc.digest.to_string(),
                        bytes: src.offset(),
                        size: desc.size,
                    });
                    let full = std::mem::replace(&mut batch, bytes::BytesMut::with_capacity(BATCH));
                    // A closed channel means the worker stopped (bad tar, limit): its error is the one to show.
                    if tx.send(full.freeze()).await.is_err() {
                        break;
                    }
                }
                if end {
                    break;
                }
            }
        }
        drop(tx);
        let worked = worker.await.map_err(|e| Error::Store {
            path: fs.clone(),
            why: format!("unpack worker: {e}"),
        })?;
        if let Some(e) = download_err {
            return Err(e);
        }
        let out = worked.map_err(|e| match e {
            WorkerError::Unpack(source) => Error::Unpack {
                digest: desc.digest.to_string(),
                source,
            },
            WorkerError::Io(path, source) => Error::Io { path, source },
        })?;
        let verify = |why: String| Error::Verify {
            what: "layer blob",
            digest: desc.digest.to_string(),
            why,
        };
        if out.blob_size != desc.size {
            return Err(verify(format!(
                "got {} bytes, the manifest declares {}",
                out.blob_size, desc.size
            )));
        }
        if out.blob_digest != desc.digest {
            return Err(verify(format!("content hashes to {}", out.blob_digest)));
        }
        if &out.diff_id != diff_id {
            return Err(Error::Verify {
                what: "layer",
                digest: desc.digest.to_string(),
                why: format!("uncompressed content hashes to {} but the image config expects diff_id {diff_id}", out.diff_id),
            });
        }
        if let Some(b) = &blob_out {
            self.store.commit_blob_file(b, &desc.digest)?;
        }
        let record = LayerRecord {
            diff_id: diff_id.clone(),
            blob: desc.digest.clone(),
            blob_size: out.blob_size,
            tar_size: out.tar_size,
            entries: out.entries,
        };
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.commit_layer(staging, &record))
            .await
            .map_err(|e| Error::Store {
                path: fs,
                why: e.to_string(),
            })??;
        obs.event(Event::LayerDone {
            digest: desc.digest.to_string(),
            cached: false,
        });
        Ok(())
    }
}
