//! Verifying archive layers into the store and registering the images, through the store's own ingest path.
//!
//! Each distinct layer member streams once through the pull pipeline's pass (`pull::worker::unpack_stream`):
//! sha256 of the member (and a copy into a staging blob file) → inflate → sha256 of the tar (diff_id) →
//! confined apply into `staging/…/fs`. A layer the store already has is not unpacked again: if its blob is
//! there too the member is not even read; otherwise it is only hashed (for the blob). Several layers stream
//! at once from the same archive (positional reads), on a few threads. Only when every layer of the load has
//! verified are blobs and layers committed (rename out of staging), then configs and manifests, then the
//! image records; any error before that drops the stagings, so nothing of a damaged archive stays.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::candidate::{Image, LayerSource};
use super::error::LoadError;
use super::members::Members;
use crate::digest::{Algo, Digest, HashingReader};
use crate::manifest::DOCKER_MANIFEST;
use crate::pull::worker::{unpack_stream, Unpacked, WorkerError};
use crate::reference::ImageRef;
use crate::store::{ImageRecord, LayerRecord, LayerRef, Staging, Store};
use crate::unpack::{Compression, Limits};

/// Layers streamed at once: two cores keep up with about that many inflate+hash+apply pipelines, and more
/// only adds seeks.
const MAX_THREADS: usize = 4;

/// Runs `f` over `items` on a few threads. The first error sets `cancel` (the other jobs' readers then fail
/// at their next read) and is the one returned.
pub(crate) fn parallel<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T, &AtomicBool) -> Result<R, LoadError> + Sync,
) -> Result<Vec<R>, LoadError> {
    let n = items.len();
    let threads = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(2)
        .clamp(1, MAX_THREADS)
        .min(n.max(1));
    let next = AtomicUsize::new(0);
    let cancel = AtomicBool::new(false);
    let first_err: Mutex<Option<LoadError>> = Mutex::new(None);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else {
                    break;
                };
                match f(item, &cancel) {
                    Ok(r) => results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(r),
                    Err(e) => {
                        let mut first = first_err.lock().unwrap_or_else(|p| p.into_inner());
                        // After a cancel, errors are the cancel's echo, not news.
                        if first.is_none() && !cancel.swap(true, Ordering::Relaxed) {
                            *first = Some(e);
                        }
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.ok_or_else(|| LoadError::member("-", "a layer job did not finish")))
        .collect()
}

/// A reader that fails once another job has failed, so a doomed load stops early.
struct Cancellable<'a, R> {
    inner: R,
    cancel: &'a AtomicBool,
}

impl<R: Read> Read for Cancellable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(std::io::Error::other("cancelled: another layer failed"));
        }
        self.inner.read(buf)
    }
}

fn stream<'a>(
    members: &Members,
    member: &str,
    cancel: &'a AtomicBool,
) -> Result<(Box<dyn Read + Send + 'a>, u64), LoadError> {
    let m = members.open_member(member)?;
    Ok((
        Box::new(Cancellable {
            inner: std::io::BufReader::with_capacity(1 << 20, m.reader),
            cancel,
        }),
        m.size,
    ))
}

pub(crate) struct Hashed {
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
}

/// Blob digest, size and diff_id of a member, without unpacking it.
pub(crate) fn hash_member(
    members: &Members,
    member: &str,
    limits: &Limits,
    cancel: &AtomicBool,
) -> Result<Hashed, LoadError> {
    let (r, size) = stream(members, member, cancel)?;
    let out =
        unpack_stream(r, None, None, Algo::Sha256, limits).map_err(|e| worker_error(member, e))?;
    if out.blob_size != size {
        return Err(short(member, out.blob_size, size));
    }
    Ok(Hashed {
        digest: out.blob_digest,
        size,
        diff_id: out.diff_id,
    })
}

fn worker_error(member: &str, e: WorkerError) -> LoadError {
    match e {
        WorkerError::Unpack(source) => LoadError::Unpack {
            member: member.to_string(),
            source,
        },
        WorkerError::Io(_, e) => LoadError::member(member, e.to_string()),
    }
}

fn short(member: &str, got: u64, size: u64) -> LoadError {
    LoadError::member(member, format!("truncated: read {got} of its {size} bytes"))
}

/// One layer, verified (and staged unless the store had everything).
struct Done {
    digest: Digest,
    size: u64,
    compression: Compression,
    pending: Option<Pending>,
}

struct Pending {
    staging: Staging,
    /// `staging/blob` holds the blob to commit.
    blob: bool,
    /// `staging/fs` holds the unpacked layer to commit.
    layer: Option<LayerRecord>,
}

fn sniff_file(path: &std::path::Path) -> Compression {
    let mut magic = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut magic))
        .unwrap_or(0);
    Compression::sniff(&magic[..n])
}

fn layer(
    store: &Store,
    members: &Members,
    src: &LayerSource,
    limits: &Limits,
    cancel: &AtomicBool,
) -> Result<Done, LoadError> {
    let have_layer = store.has_layer(&src.diff_id);
    if have_layer {
        // A verified layer and a verified blob of it: the member adds nothing, don't read it.
        let known = match &src.digest {
            Some(d) => Some(d.clone()),
            // A docker archive names no blob digest: any blob the store made this layer from will do.
            None => store.layer_record(&src.diff_id).ok().map(|r| r.blob),
        };
        if let Some(d) = known.filter(|d| store.has_blob(d)) {
            let path = store.blob_path(&d);
            return Ok(Done {
                size: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
                compression: sniff_file(&path),
                digest: d,
                pending: None,
            });
        }
    }
    let (reader, size) = stream(members, &src.member, cancel)?;
    if let Some(want) = src.size.filter(|w| *w != size) {
        return Err(LoadError::Size {
            member: src.member.clone(),
            expected: want,
            got: size,
        });
    }
    let staging = store.staging()?;
    let fs = (!have_layer).then(|| staging.path().join("fs"));
    if let Some(fs) = &fs {
        std::fs::create_dir(fs).map_err(|source| LoadError::Io {
            path: fs.clone(),
            source,
        })?;
    }
    let want_blob = !src.digest.as_ref().is_some_and(|d| store.has_blob(d));
    let blob_out = want_blob.then(|| staging.path().join("blob"));
    let algo = src.digest.as_ref().map_or(Algo::Sha256, Digest::algo);
    let out: Unpacked =
        match unpack_stream(reader, blob_out.as_deref(), fs.as_deref(), algo, limits) {
            Ok(o) => o,
            Err(e) => return Err(explain(members, src, e, cancel)),
        };
    if out.blob_size != size {
        return Err(short(&src.member, out.blob_size, size));
    }
    if let Some(want) = src.digest.as_ref().filter(|w| **w != out.blob_digest) {
        return Err(LoadError::Digest {
            member: src.member.clone(),
            expected: want.clone(),
            got: out.blob_digest,
        });
    }
    if out.diff_id != src.diff_id {
        return Err(LoadError::DiffId {
            member: src.member.clone(),
            expected: src.diff_id.clone(),
            got: out.diff_id,
        });
    }
    let layer = fs.map(|_| LayerRecord {
        diff_id: src.diff_id.clone(),
        blob: out.blob_digest.clone(),
        blob_size: out.blob_size,
        tar_size: out.tar_size,
        entries: out.entries,
    });
    Ok(Done {
        digest: out.blob_digest,
        size,
        compression: out.compression,
        pending: Some(Pending {
            staging,
            blob: want_blob,
            layer,
        }),
    })
}

/// A tampered member usually breaks the inflater or the tar parser before its digests can be compared; then
/// say what is really wrong, the member is not what the archive claims, by hashing it again: against the blob
/// digest when the archive states one, else (docker archives) against the diff_id. Only on failure, so cheap.
fn explain(members: &Members, src: &LayerSource, e: WorkerError, cancel: &AtomicBool) -> LoadError {
    if cancel.load(Ordering::Relaxed) {
        return worker_error(&src.member, e);
    }
    match &src.digest {
        Some(want) => {
            let rehash = stream(members, &src.member, cancel).and_then(|(r, _)| {
                HashingReader::new(r, want.algo())
                    .finish()
                    .map_err(|e| LoadError::member(&src.member, e.to_string()))
            });
            if let Ok((got, _)) = rehash {
                if &got != want {
                    return LoadError::Digest {
                        member: src.member.clone(),
                        expected: want.clone(),
                        got,
                    };
                }
            }
        }
        None => {
            // Hashing the tar needs no parsing, so it gets to the end where applying could not.
            if let Ok(h) = hash_tar(members, &src.member, cancel) {
                if h != src.diff_id {
                    return LoadError::DiffId {
                        member: src.member.clone(),
                        expected: src.diff_id.clone(),
                        got: h,
                    };
                }
            }
        }
    }
    worker_error(&src.member, e)
}

/// The diff_id of a member: sha256 of its content, inflated if compressed, without parsing the tar.
fn hash_tar(members: &Members, member: &str, cancel: &AtomicBool) -> Result<Digest, LoadError> {
    let (mut r, _) = stream(members, member, cancel)?;
    let mut magic = [0u8; 4];
    let mut n = 0;
    while n < magic.len() {
        match r.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(LoadError::member(member, e.to_string())),
        }
    }
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let dec = crate::unpack::decoder(head.chain(r), Compression::sniff(&magic[..n]))
        .map_err(|e| LoadError::member(member, e.to_string()))?;
    HashingReader::new(dec, Algo::Sha256)
        .finish()
        .map(|(d, _)| d)
        .map_err(|e| LoadError::member(member, e.to_string()))
}

fn docker_layer_media_type(c: Compression) -> &'static str {
    match c {
        Compression::None => "application/vnd.docker.image.rootfs.diff.tar",
        Compression::Gzip => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        Compression::Zstd => "application/vnd.docker.image.rootfs.diff.tar.zstd",
        // `Compression::sniff` (what archives use) never says bzip2 or xz, and Docker has no media type for
        // them: such a layer would be a plain tar to every reader.
        Compression::Bzip2 | Compression::Xz => "application/vnd.docker.image.rootfs.diff.tar",
    }
}

/// Verifies and commits every layer of `images` (each distinct member once); returns each image's layers as
/// its record will list them.
pub(super) fn ingest<'a>(
    store: &Store,
    members: &Members,
    images: impl Iterator<Item = &'a Image>,
    limits: &Limits,
) -> Result<Vec<Vec<LayerRef>>, LoadError> {
    let images: Vec<&Image> = images.collect();
    let mut jobs: Vec<&LayerSource> = Vec::new();
    let mut slot: HashMap<(&str, &Digest), usize> = HashMap::new();
    for l in images.iter().flat_map(|i| &i.layers) {
        // Fail on a missing member before any work, not after unpacking the others.
        if !members.exists(&l.member) {
            return Err(LoadError::Missing {
                member: l.member.clone(),
            });
        }
        slot.entry((l.member.as_str(), &l.diff_id))
            .or_insert_with(|| {
                jobs.push(l);
                jobs.len() - 1
            });
    }
    let mut done = parallel(&jobs, |src, cancel| {
        layer(store, members, src, limits, cancel)
    })?;
    for (d, src) in done.iter_mut().zip(&jobs) {
        let Some(p) = d.pending.take() else {
            continue;
        };
        // The blob leaves the staging dir first: the layer commit renames the whole dir.
        if p.blob {
            store.commit_blob_file(&p.staging.path().join("blob"), &d.digest)?;
        }
        match &p.layer {
            Some(rec) => store.commit_layer(p.staging, rec)?,
            None => tracing::debug!(member = src.member, "layer already present; blob stored"),
        }
    }
    Ok(images
        .iter()
        .map(|img| {
            img.layers
                .iter()
                .filter_map(|l| {
                    slot.get(&(l.member.as_str(), &l.diff_id))
                        .map(|&i| (l, &done[i]))
                })
                .map(|(l, d)| LayerRef {
                    digest: d.digest.clone(),
                    diff_id: l.diff_id.clone(),
                    size: d.size,
                    media_type: l
                        .media_type
                        .clone()
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| docker_layer_media_type(d.compression).into()),
                })
                .collect()
        })
        .collect())
}

/// Writes the image's config, manifest (made up for docker archives) and index blobs, then one record per
/// name.
pub(super) fn register(
    store: &Store,
    image: &Image,
    layers: Vec<LayerRef>,
    names: &[ImageRef],
) -> Result<Vec<ImageRecord>, LoadError> {
    store.put_blob(&image.config_digest, &image.config)?;
    let (manifest_digest, manifest_media_type) = match &image.manifest {
        Some(m) => {
            store.put_blob(&m.digest, &m.raw)?;
            (m.digest.clone(), m.media_type.clone())
        }
        None => {
            let raw = docker_manifest(image, &layers)?;
            let d = Digest::of(Algo::Sha256, &raw);
            store.put_blob(&d, &raw)?;
            (d, DOCKER_MANIFEST.to_string())
        }
    };
    if let Some((d, raw)) = &image.index {
        store.put_blob(d, raw)?;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut out = Vec::new();
    for n in names {
        let rec = ImageRecord {
            reference: n.to_string(),
            manifest_digest: manifest_digest.clone(),
            manifest_media_type: manifest_media_type.clone(),
            index_digest: image.index.as_ref().map(|(d, _)| d.clone()),
            config_digest: image.config_digest.clone(),
            layers: layers.clone(),
            platform: format!("{}/{}", image.parsed.os, image.parsed.architecture),
            pulled_at: now,
            created: image.parsed.created.clone(),
        };
        store.put_image(&rec)?;
        out.push(rec);
    }
    Ok(out)
}

/// The Docker schema2 manifest of an image from a docker archive (which stores none): the config and the
/// layers exactly as the store now holds them, so the record is like a pulled image's and `save` can write
/// it out.
fn docker_manifest(image: &Image, layers: &[LayerRef]) -> Result<Vec<u8>, LoadError> {
    let m = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": image.config_media_type,
            "size": image.config.len(),
            "digest": image.config_digest,
        },
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": l.media_type, "size": l.size, "digest": l.digest,
        })).collect::<Vec<_>>(),
    });
    serde_json::to_vec_pretty(&m).map_err(|e| LoadError::member("manifest.json", e.to_string()))
}
