//! The one pass after the socket, on a blocking thread: compressed bytes → sha256 (+ the blob file) →
//! inflate → sha256 (diff_id) → confined apply. The caller compares the digests it returns with the manifest
//! and config before anything is committed. `ucr load` runs the same pass over archive members
//! ([`unpack_stream`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::digest::{Algo, Digest, Hasher, HashingReader};
use crate::unpack::{self, Limits, Mode};

pub(crate) struct Unpacked {
    pub blob_digest: Digest,
    pub blob_size: u64,
    pub diff_id: Digest,
    pub tar_size: u64,
    pub entries: u64,
    /// As sniffed from the first bytes (what a made-up manifest's layer media type says).
    pub compression: unpack::Compression,
}

pub(crate) enum WorkerError {
    Unpack(unpack::UnpackError),
    Io(PathBuf, std::io::Error),
}

/// Runs on a blocking thread: everything after the socket, in one pass.
pub(super) fn unpack_worker(
    rx: mpsc::Receiver<Bytes>,
    local: Option<&Path>,
    blob_out: Option<&Path>,
    fs: &Path,
    algo: Algo,
    limits: &Limits,
) -> std::result::Result<Unpacked, WorkerError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| WorkerError::Io(p, e)
    };
    let source: Box<dyn Read + Send> = match local {
        Some(p) => Box::new(std::fs::File::open(p).map_err(io(p))?),
        None => Box::new(ChannelReader::new(rx)),
    };
    unpack_stream(source, blob_out, Some(fs), algo, limits)
}

/// Hashes `source` (and copies it to `blob_out`), inflates it, hashes the tar (diff_id) and, with `fs`, applies
/// it there; without `fs` the tar is only hashed (a layer already unpacked whose blob is still wanted).
pub(crate) fn unpack_stream(
    source: Box<dyn Read + Send + '_>,
    blob_out: Option<&Path>,
    fs: Option<&Path>,
    algo: Algo,
    limits: &Limits,
) -> std::result::Result<Unpacked, WorkerError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e| WorkerError::Io(p, e)
    };
    let here = fs.or(blob_out).unwrap_or(Path::new("-"));
    let sink = match blob_out {
        Some(p) => Some(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(p).map_err(io(p))?,
        )),
        None => None,
    };
    let mut tee = Tee {
        inner: source,
        hasher: Hasher::new(algo),
        count: 0,
        sink,
        sink_path: blob_out.map(Path::to_path_buf).unwrap_or_default(),
    };
    let mut peek = [0u8; 4];
    let n = unpack::read_magic(&mut tee, &mut peek).map_err(io(here))?;
    let compression = unpack::Compression::sniff(&peek[..n]);
    let head = std::io::Cursor::new(peek[..n].to_vec());
    let decoded = unpack::decoder(head.chain(&mut tee), compression).map_err(io(here))?;
    let mut tar = HashingReader::new(decoded, Algo::Sha256);
    let entries = match fs {
        Some(fs) => {
            unpack::apply_layer(&mut tar, fs, Mode::Overlay, limits)
                .map_err(WorkerError::Unpack)?
                .entries
        }
        None => 0,
    };
    let (diff_id, tar_size) = tar.finish().map_err(io(here))?;
    // Whatever follows the compressed stream still belongs to the blob and to its digest.
    std::io::copy(&mut tee, &mut std::io::sink()).map_err(io(here))?;
    if let Some(mut s) = tee.sink.take() {
        s.flush().map_err(io(here))?;
    }
    Ok(Unpacked {
        blob_digest: tee.hasher.finish(),
        blob_size: tee.count,
        diff_id,
        tar_size,
        entries,
        compression,
    })
}

/// Bytes from the async download, as a blocking `Read` (the AppC fetch streams through it too).
pub(crate) struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    cur: Bytes,
}

impl ChannelReader {
    pub(crate) fn new(rx: mpsc::Receiver<Bytes>) -> ChannelReader {
        ChannelReader {
            rx,
            cur: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(b) => self.cur = b,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

/// A write error of the copy kept beside the stream, naming its file.
pub(crate) fn writing(path: &Path, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("writing {}: {e}", path.display()))
}

/// Hashes, counts and (for downloads) saves the compressed bytes as they are read.
struct Tee<'a> {
    inner: Box<dyn Read + Send + 'a>,
    hasher: Hasher,
    count: u64,
    sink: Option<std::io::BufWriter<std::fs::File>>,
    sink_path: PathBuf,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        if let Some(s) = &mut self.sink {
            // The write happens inside the stream's read: say which file it was (a full disk must be named).
            s.write_all(&buf[..n])
                .map_err(|e| writing(&self.sink_path, e))?;
        }
        Ok(n)
    }
}
