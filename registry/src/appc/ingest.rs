//! The one pass an ACI goes through, on a blocking thread, as a Docker layer does: bytes as fetched → a copy
//! into `image.aci` (what `save` gives back) → decompress (gzip, bzip2, xz or none, by magic number) →
//! sha512 of the tar (the image id, hashed on a thread of its own: `offthread`) → the confined applier in its ACI form (`rootfs/` into staging, the
//! manifest kept) — then the manifest is validated. Nothing here commits: the caller checks the id, the
//! name, the labels and the signature first.

use std::io::{BufWriter, Read, Write};
use std::path::Path;

use super::error::{AppcError, Result};
use super::manifest::ImageManifest;
use crate::digest::Algo;
use crate::error::IoContext;
use crate::offthread::OffThreadHashingReader;
use crate::unpack::{self, Compression, Limits};

/// What one pass found.
#[derive(Debug)]
pub struct Ingested {
    /// `sha512-<hex>` of the uncompressed tar.
    pub id: String,
    pub manifest: ImageManifest,
    /// Bytes as fetched.
    pub size: u64,
    pub compression: Compression,
}

/// Reads `source` to its end into `staging` (`image.aci`, `rootfs/`, `manifest`). `image` names it in errors.
pub fn ingest(source: impl Read, staging: &Path, image: &str, limits: &Limits) -> Result<Ingested> {
    let aci = staging.join("image.aci");
    let rootfs = staging.join("rootfs");
    std::fs::create_dir(&rootfs).at(&rootfs)?;
    let file = std::fs::File::create(&aci).at(&aci)?;
    let mut saving = Saving {
        inner: source,
        sink: BufWriter::with_capacity(1 << 20, file),
        count: 0,
        path: aci.clone(),
    };
    let mut magic = [0u8; 6];
    let n = unpack::read_magic(&mut saving, &mut magic).at(&aci)?;
    let compression = Compression::sniff_aci(&magic[..n]);
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let decoded = unpack::decoder(head.chain(&mut saving), compression).at(&aci)?;
    let mut tar = OffThreadHashingReader::new(decoded, Algo::Sha512);
    let archive = |why: String| AppcError::Archive {
        image: image.to_string(),
        why,
    };
    let (_, raw_manifest) = unpack::apply_aci(&mut tar, &rootfs, limits)
        .map_err(|e| archive(format!("{} compressed: {e}", compression.name())))?;
    let (digest, _) = tar
        .finish()
        .map_err(|e| archive(format!("{} compressed: {e}", compression.name())))?;
    // Whatever follows the compressed stream is still part of the file a signature covers.
    std::io::copy(&mut saving, &mut std::io::sink()).at(&aci)?;
    saving.sink.flush().at(&aci)?;
    let id = format!("sha512-{}", digest.hex());
    let manifest = ImageManifest::parse(&raw_manifest, &format!("{image} ({id})"))?;
    let mpath = staging.join("manifest");
    std::fs::write(&mpath, &raw_manifest).at(&mpath)?;
    Ok(Ingested {
        id,
        manifest,
        size: saving.count,
        compression,
    })
}

/// Copies what is read into the image's `image.aci`, counting it.
struct Saving<R> {
    inner: R,
    sink: BufWriter<std::fs::File>,
    count: u64,
    path: std::path::PathBuf,
}

impl<R: Read> Read for Saving<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink
            .write_all(&buf[..n])
            .map_err(|e| crate::pull::worker::writing(&self.path, e))?;
        self.count += n as u64;
        Ok(n)
    }
}
