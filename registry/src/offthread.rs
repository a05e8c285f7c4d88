//! A `Read` adapter whose bytes are hashed on a thread of their own: the reading thread only copies them into
//! batches. For a stream whose hash costs as much as its processing — an ACI's id is the sha512 of the whole
//! tar, and sha512 has no instructions of its own on x86 (sha256 has SHA-NI) — this takes the hash off the
//! single pass's critical path: inflate and apply on one core, sha512 on the other.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::thread::JoinHandle;

use crate::digest::{Algo, Digest, Hasher};

/// Bytes handed to the hashing thread at once.
const BATCH: usize = 1 << 20;

pub struct OffThreadHashingReader<R> {
    inner: R,
    batch: Vec<u8>,
    count: u64,
    tx: Option<SyncSender<Vec<u8>>>,
    worker: Option<JoinHandle<Digest>>,
}

impl<R: Read> OffThreadHashingReader<R> {
    pub fn new(inner: R, algo: Algo) -> Self {
        // Two batches in flight: the reader never waits unless the hasher is slower than everything else.
        let (tx, rx) = sync_channel::<Vec<u8>>(2);
        let worker = std::thread::Builder::new()
            .name("ucr-hash".into())
            .spawn(move || {
                let mut h = Hasher::new(algo);
                for b in rx {
                    h.update(&b);
                }
                h.finish()
            });
        OffThreadHashingReader {
            inner,
            batch: Vec::with_capacity(BATCH),
            count: 0,
            tx: Some(tx),
            worker: worker.ok(),
        }
    }

    fn send(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        if let Some(tx) = &self.tx {
            // A gone worker is reported by `finish`.
            let _ = tx.send(full);
        }
    }

    /// Reads the rest of the stream (so the digest covers every byte) and returns digest and size.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        self.send();
        self.tx = None;
        let gone = || io::Error::other("the hashing thread failed");
        let digest = self
            .worker
            .take()
            .ok_or_else(gone)?
            .join()
            .map_err(|_| gone())?;
        Ok((digest, self.count))
    }
}

impl<R: Read> Read for OffThreadHashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.batch.extend_from_slice(&buf[..n]);
        self.count += n as u64;
        if self.batch.len() >= BATCH {
            self.send();
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_digest_as_hashing_inline() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = OffThreadHashingReader::new(&data[..], Algo::Sha512);
        let mut first = vec![0u8; 1000];
        r.read_exact(&mut first).expect("read");
        let (d, n) = r.finish().expect("finish");
        assert_eq!((d, n), (Digest::sha512_of(&data), data.len() as u64));
    }
}
