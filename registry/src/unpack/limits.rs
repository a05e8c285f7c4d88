//! Bounds on what one layer may claim, and the metered reader that enforces the ones the tar crate
//! cannot: it reads GNU long names and PAX headers into memory with no upper bound, so a 10 GiB "long
//! name" would be an out-of-memory. The meter sits under the tar parser, counts every byte, limits how
//! much the parser may read while looking for the next entry, and keeps a copy of those header bytes so
//! `pax` can read PAX records correctly itself.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};

/// Resource bounds for one layer. Exceeding any gives [`UnpackError::LimitExceeded`](super::UnpackError).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Tar entries (files, dirs, links, whiteouts, global headers).
    pub max_entries: u64,
    /// Bytes of entry data: file contents, data carried by any other entry, and anything after the
    /// end-of-archive marker. A decompression bomb stops here.
    pub max_total_bytes: u64,
    /// Length of an entry name or link target as written in the tar.
    pub max_path_len: usize,
    /// Header bytes one entry may carry: PAX records plus GNU long name and long link data.
    pub max_pax_bytes: usize,
    /// Extended attribute names and values on one entry, summed.
    pub max_xattr_bytes: usize,
    /// Memory for paths the applier keeps until the layer ends: directories whose times are restored
    /// last and, in merge mode, every path the layer created (for opaque markers). Each path is
    /// charged its length plus 64 bytes.
    pub max_tracked_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_total_bytes: 64 << 30,
            max_path_len: 4096,
            max_pax_bytes: 1 << 20,
            max_xattr_bytes: 256 << 10,
            max_tracked_bytes: 512 << 20,
        }
    }
}

impl Limits {
    /// How far the tar parser may read between two entries: the PAX/long-name allowance plus room for the
    /// headers themselves, the previous entry's padding and GNU sparse extension blocks.
    pub(crate) fn meta_budget(&self) -> u64 {
        self.max_pax_bytes as u64 + 16 * 512
    }
}

/// What remembering one path costs beyond its bytes (allocation, vector or hash slot), charged
/// against `max_tracked_bytes` by the applier (directory times) and `whiteout::Created` (merge mode).
pub(super) const TRACK_OVERHEAD: usize = 64;

/// Shared state between the applier and the [`Metered`] reader owned by the tar parser.
#[derive(Default)]
pub(crate) struct Meter {
    /// Bytes read from the stream so far.
    pos: Cell<u64>,
    /// While the parser looks for the next entry, the stream position it may not read past.
    meta_end: Cell<Option<u64>>,
    /// Set when `meta_end` was hit, so the applier can tell a limit from a broken stream.
    tripped: Cell<bool>,
    /// Stream position where the current capture starts.
    capture_start: Cell<u64>,
    /// The bytes read while looking for the current entry (headers, PAX records, long names).
    capture: RefCell<Vec<u8>>,
}

impl Meter {
    pub(crate) fn pos(&self) -> u64 {
        self.pos.get()
    }

    /// The parser is about to look for the next entry: bound and capture what it reads.
    pub(crate) fn begin_meta(&self, budget: u64) {
        let pos = self.pos.get();
        self.meta_end.set(Some(pos.saturating_add(budget)));
        self.capture_start.set(pos);
        self.capture.borrow_mut().clear();
    }

    /// The parser returned an entry (or the end); what follows is entry data, bounded by the applier.
    pub(crate) fn end_meta(&self) {
        self.meta_end.set(None);
    }

    pub(crate) fn tripped(&self) -> bool {
        self.tripped.get()
    }

    pub(crate) fn capture_start(&self) -> u64 {
        self.capture_start.get()
    }

    pub(crate) fn capture(&self) -> std::cell::Ref<'_, Vec<u8>> {
        self.capture.borrow()
    }
}

/// The layer stream as the tar parser sees it.
pub(crate) struct Metered<'m, R> {
    inner: R,
    meter: &'m Meter,
}

impl<'m, R: Read> Metered<'m, R> {
    pub(crate) fn new(inner: R, meter: &'m Meter) -> Self {
        Metered { inner, meter }
    }
}

impl<R: Read> Read for Metered<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let m = self.meter;
        let pos = m.pos.get();
        let n = match m.meta_end.get() {
            None => self.inner.read(buf)?,
            Some(end) => {
                let room = end.saturating_sub(pos);
                if room == 0 && !buf.is_empty() {
                    m.tripped.set(true);
                    return Err(io::Error::other(
                        "entry header data exceeds the metadata limit",
                    ));
                }
                let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
                let n = self.inner.read(&mut buf[..want])?;
                m.capture.borrow_mut().extend_from_slice(&buf[..n]);
                n
            }
        };
        m.pos.set(pos + n as u64);
        Ok(n)
    }
}
