//! [`apply_layer`] and its entry loop: one sequential pass over the tar, each entry checked (names, limits,
//! our own reading of its headers), then materialized through `fsops`, `meta` and `whiteout`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::path::Path;

use rustix::fs::{FileType, Timestamps};

use super::aci::{self, AciState, Route};
use super::error::{bad, io_err, limit, show, stream, UnpackError};
use super::fsops::{self, Tree};
use super::header::{self, type_name, Type};
use super::limits::{Limits, Meter, Metered, TRACK_OVERHEAD};
use super::meta;
use super::mode::Mode;
use super::name::{self, Kind};
use super::whiteout::{self, Created};

/// Copy buffer: large enough that a big file is written in few syscalls.
const COPY_BUF: usize = 256 << 10;

/// What one application did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApplyStats {
    /// Tar entries processed (including whiteouts and global PAX headers).
    pub entries: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
}

/// Applies the (already decompressed) layer tar `tar` under `root`, confined to it.
///
/// `tar` is read strictly sequentially and to EOF, including the end-of-archive blocks and anything after
/// them, so a hash computed over it covers every byte. On error the tree under `root` is left half-written:
/// the caller applies into staging and discards it.
pub fn apply_layer<R: Read>(
    tar: R,
    root: &Path,
    mode: Mode,
    limits: &Limits,
) -> Result<ApplyStats, UnpackError> {
    apply(tar, root, mode, limits, None).map(|(stats, _)| stats)
}

/// Applies an ACI's tar (appc `spec/aci.md`): `rootfs/` under `root`, with the stricter rules of `aci`;
/// returns the stats and the `manifest` file's bytes. Read to EOF as [`apply_layer`] is (the image id is
/// the hash of every byte).
pub fn apply_aci<R: Read>(
    tar: R,
    root: &Path,
    limits: &Limits,
) -> Result<(ApplyStats, Vec<u8>), UnpackError> {
    let (stats, state) = apply(tar, root, Mode::Overlay, limits, Some(AciState::default()))?;
    match state.and_then(|s| s.manifest) {
        Some(m) => Ok((stats, m)),
        None => Err(UnpackError::BadEntry {
            path: "manifest".into(),
            why: "the ACI has no manifest".into(),
        }),
    }
}

fn apply<R: Read>(
    tar: R,
    root: &Path,
    mode: Mode,
    limits: &Limits,
    aci: Option<AciState>,
) -> Result<(ApplyStats, Option<AciState>), UnpackError> {
    let tree = Tree::open(root).map_err(|source| UnpackError::Root {
        root: root.to_path_buf(),
        source,
    })?;
    let meter = Meter::default();
    let mut archive = tar::Archive::new(Metered::new(tar, &meter));
    let mut a = Applier {
        tree,
        root,
        mode,
        limits,
        created: (mode == Mode::Merge).then(Created::default),
        aci,
        stats: ApplyStats::default(),
        data_bytes: 0,
        tracked: 0,
        dir_times: Vec::new(),
        bufs: Bufs {
            data: vec![0; COPY_BUF],
            ..Bufs::default()
        },
        hdr: tar::Header::new_old(),
    };
    {
        let mut entries = archive.entries().map_err(|e| a.stream_error(&meter, e))?;
        loop {
            meter.begin_meta(limits.meta_budget());
            let next = entries.next();
            meter.end_meta();
            match next {
                None => break,
                Some(Ok(mut entry)) => a.entry(&mut entry, &meter)?,
                Some(Err(e)) => return Err(a.stream_error(&meter, e)),
            }
        }
    }
    // The parser stops at the first zero block; the caller's digest must cover the rest too.
    let mut rest = archive.into_inner();
    a.drain_trailing(&mut rest, &meter)?;
    a.restore_dir_times()?;
    Ok((a.stats, a.aci))
}

/// Buffers reused from entry to entry.
#[derive(Default)]
struct Bufs {
    /// The entry name as the tar spells it (for messages).
    raw: Vec<u8>,
    /// The normalized name.
    path: Vec<u8>,
    /// The link target as the tar spells it.
    link: Vec<u8>,
    /// A hardlink target, normalized.
    target: Vec<u8>,
    /// This entry's PAX data, then its GNU long name and long link.
    ext: Vec<u8>,
    data: Vec<u8>,
}

struct Applier<'a> {
    tree: Tree,
    root: &'a Path,
    mode: Mode,
    limits: &'a Limits,
    created: Option<Created>,
    /// Set when applying an ACI.
    aci: Option<AciState>,
    stats: ApplyStats,
    /// Entry data and trailing bytes seen, against `max_total_bytes`.
    data_bytes: u64,
    /// Bytes of paths remembered, against `max_tracked_bytes`.
    tracked: u64,
    /// Directory times, restored once their contents are written.
    dir_times: Vec<(Vec<u8>, Timestamps)>,
    bufs: Bufs,
    /// The entry's own header block as it is in the stream.
    hdr: tar::Header,
}

impl<'a> Applier<'a> {
    fn entry<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        meter: &Meter,
    ) -> Result<(), UnpackError> {
        let mut b = std::mem::take(&mut self.bufs);
        let r = self.entry_with(e, meter, &mut b);
        self.bufs = b;
        r
    }

    fn entry_with<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        meter: &Meter,
        b: &mut Bufs,
    ) -> Result<(), UnpackError> {
        self.stats.entries += 1;
        b.raw.clear();
        b.raw.extend_from_slice(&e.path_bytes());
        let raw = b.raw.as_slice();
        let lim = self.limits;
        if self.stats.entries > lim.max_entries {
            return Err(limit("entries", lim.max_entries, Some(raw)));
        }
        if raw.len() > lim.max_path_len {
            return Err(limit("path length", lim.max_path_len as u64, Some(raw)));
        }

        let c = header::check(e, meter, lim, &mut self.hdr, raw, &mut b.ext, &mut b.link)?;
        let (kind, size, m, xattrs) = (c.kind, c.size, &c.meta, c.xattrs.as_slice());
        if self.data_bytes.saturating_add(size) > lim.max_total_bytes {
            return Err(limit("total bytes", lim.max_total_bytes, Some(raw)));
        }
        self.data_bytes += size;
        name::normalize(raw, &mut b.path).map_err(|w| bad(raw, w))?;
        if self.aci.is_some() && kind != Type::GlobalPax {
            match aci::route(raw, &b.path, kind)? {
                Route::Manifest => return self.manifest(e, raw, size),
                Route::Rootfs(n) => drop(b.path.drain(..n.min(b.path.len()))),
            }
        }
        let path = b.path.as_slice();
        let data = &mut b.data;
        // Only regular files have content; whatever another entry carries is read past (and was
        // counted above), so the stream stays in step whatever happens to the entry below.
        if kind != Type::File {
            self.drain(e, raw, data, meter)?;
        }

        if kind == Type::GlobalPax {
            // Global PAX headers carry defaults no layer tool relies on; docker ignores them too.
            return Ok(());
        }
        if path.is_empty() {
            if kind != Type::Dir {
                return Err(bad(
                    raw,
                    format!(
                        "the layer root can only be a directory, not a {}",
                        type_name(kind)
                    ),
                ));
            }
            let root_path = self.root;
            let at = |op: &'static str| move |s| io_err(root_path, raw, b"", op, s);
            let root = self.tree.root();
            meta::own_fd(root, m).map_err(at("setting owner and mode of"))?;
            meta::xattrs_fd(root, xattrs).map_err(at("setting xattrs on"))?;
            self.charge(TRACK_OVERHEAD, raw)?;
            self.dir_times.push((Vec::new(), m.times.clone()));
            return Ok(());
        }
        let (parent, base) = name::split(path);
        let class = match self.aci {
            // AppC has no whiteouts: `.wh.x` in an ACI is a file of that name.
            Some(_) => Kind::Plain,
            None => name::classify(path).map_err(|w| bad(raw, w))?,
        };
        match class {
            Kind::Plain => {}
            Kind::AufsMeta => return self.drain(e, raw, data, meter),
            Kind::Opaque => {
                self.drain(e, raw, data, meter)?;
                let added =
                    whiteout::opaque(&mut self.tree, self.mode, self.created.as_mut(), parent)
                        .map_err(|s| {
                            io_err(self.root, raw, parent, "applying the opaque marker to", s)
                        })?;
                return self.charge(added, raw);
            }
            Kind::Whiteout(hidden) => {
                self.drain(e, raw, data, meter)?;
                b.target.clear();
                if !parent.is_empty() {
                    b.target.extend_from_slice(parent);
                    b.target.push(b'/');
                }
                b.target.extend_from_slice(hidden);
                let target = b.target.as_slice();
                return whiteout::whiteout(
                    &mut self.tree,
                    self.mode,
                    self.created.as_ref(),
                    target,
                )
                .map_err(|s| io_err(self.root, raw, target, "applying the whiteout of", s));
            }
        }

        let (parent_fd, root) = match self.tree.parent(parent) {
            Ok(fd) => (fd, self.root),
            Err(s) => {
                return Err(io_err(
                    self.root,
                    raw,
                    parent,
                    "creating the parent directories of",
                    s,
                ))
            }
        };
        let at = |op: &'static str| move |s| io_err(root, raw, path, op, s);
        let replaced = match kind {
            Type::File => {
                let (fd, old) = fsops::create_file(parent_fd, base).map_err(at("creating file"))?;
                let mut file = File::from(fd);
                let written = copy(e, &mut file, data).map_err(|c| match c {
                    Copy::Read(s) => stream(meter.pos(), Some(raw), s),
                    Copy::Write(s) => at("writing")(s),
                })?;
                if written != size {
                    return Err(bad(
                        raw,
                        format!("the stream ends {written} bytes into this entry's {size}"),
                    ));
                }
                meta::own_fd(file.as_fd(), m).map_err(at("setting owner and mode of"))?;
                meta::xattrs_fd(file.as_fd(), xattrs).map_err(at("setting xattrs on"))?;
                meta::times_fd(file.as_fd(), &m.times).map_err(at("setting times of"))?;
                self.stats.bytes += written;
                old
            }
            Type::Dir => {
                let (fd, old) =
                    fsops::make_dir(parent_fd, base).map_err(at("creating directory"))?;
                meta::own_fd(fd.as_fd(), m).map_err(at("setting owner and mode of"))?;
                meta::xattrs_fd(fd.as_fd(), xattrs).map_err(at("setting xattrs on"))?;
                self.charge(path.len() + TRACK_OVERHEAD, raw)?;
                self.dir_times.push((path.to_vec(), m.times.clone()));
                if fsops::structural(old) {
                    self.tree.invalidate();
                }
                // The next entries are most likely inside this directory.
                self.tree.remember(path, fd);
                None
            }
            Type::Symlink => {
                let target = b.link.as_slice();
                if target.is_empty() || target.contains(&0) {
                    return Err(bad(
                        raw,
                        "a symlink needs a non-empty target without NUL bytes",
                    ));
                }
                let old =
                    fsops::symlink(parent_fd, base, target).map_err(at("creating symlink"))?;
                meta::own_at(parent_fd, base, m, true).map_err(at("setting owner of"))?;
                meta::times_at(parent_fd, base, &m.times).map_err(at("setting times of"))?;
                if !xattrs.is_empty() {
                    // Only a path-based lsetxattr could reach a symlink, and we do not build host paths.
                    tracing::debug!(entry = %show(raw), "xattrs on a symlink are not applied");
                }
                old
            }
            Type::Hardlink => {
                name::normalize(&b.link, &mut b.target).map_err(|w| bad(raw, w))?;
                if self.aci.is_some() {
                    aci::link_target(raw, &mut b.target)?;
                }
                let target = b.target.as_slice();
                if target.is_empty() {
                    return Err(bad(raw, "a hardlink cannot point at the layer root"));
                }
                let (tparent, tbase) = name::split(target);
                let tdir = self.tree.open_dir(tparent);
                let tdir = tdir
                    .map_err(|s| io_err(root, raw, target, "resolving the hardlink target", s))?;
                // The cache may have been replaced by open_dir's borrow; resolve the parent again (cached).
                let parent_fd = self
                    .tree
                    .parent(parent)
                    .map_err(at("resolving the parent of"))?;
                fsops::hardlink(tdir.as_fd(), tbase, parent_fd, base)
                    .map_err(|s| io_err(root, raw, target, "hard-linking to", s))?
            }
            Type::Node(ft) => {
                let dev = match ft {
                    FileType::Fifo => 0,
                    _ => rustix::fs::makedev(c.dev.0, c.dev.1),
                };
                let old = fsops::mknod(parent_fd, base, ft, dev).map_err(at("creating node"))?;
                meta::own_at(parent_fd, base, m, false).map_err(at("setting owner and mode of"))?;
                meta::times_at(parent_fd, base, &m.times).map_err(at("setting times of"))?;
                old
            }
            Type::GlobalPax | Type::Unsupported(_) => {
                return Err(bad(
                    raw,
                    format!("unsupported entry type {}", type_name(kind)),
                ));
            }
        };
        if self.aci.is_some() && replaced.is_some() {
            return Err(bad(raw, "a duplicate entry (an ACI has none)"));
        }
        if fsops::structural(replaced) {
            self.tree.invalidate();
        }
        if let Some(c) = &mut self.created {
            let added = c.note(path);
            self.charge(added, raw)?;
        }
        Ok(())
    }

    /// Keeps an ACI's `manifest` (one, of bounded size).
    fn manifest<R: Read>(
        &mut self,
        e: &mut tar::Entry<'_, R>,
        raw: &[u8],
        size: u64,
    ) -> Result<(), UnpackError> {
        let Some(state) = &mut self.aci else {
            return Ok(());
        };
        if state.manifest.is_some() {
            return Err(bad(raw, "a second manifest (an ACI has one)"));
        }
        if size > aci::MAX_MANIFEST {
            return Err(limit("manifest bytes", aci::MAX_MANIFEST, Some(raw)));
        }
        let mut m = Vec::with_capacity(size as usize);
        e.read_to_end(&mut m)
            .map_err(|x| bad(raw, format!("reading the manifest: {x}")))?;
        state.manifest = Some(m);
        Ok(())
    }

    /// Charges remembered path bytes against `max_tracked_bytes`.
    fn charge(&mut self, bytes: usize, raw: &[u8]) -> Result<(), UnpackError> {
        self.tracked += bytes as u64;
        if self.tracked > self.limits.max_tracked_bytes {
            return Err(limit(
                "tracked path bytes",
                self.limits.max_tracked_bytes,
                Some(raw),
            ));
        }
        Ok(())
    }

    /// Reads and discards an entry's data (counted in `data_bytes` already).
    fn drain<R: Read>(
        &self,
        e: &mut R,
        raw: &[u8],
        buf: &mut [u8],
        meter: &Meter,
    ) -> Result<(), UnpackError> {
        loop {
            match e.read(buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(x) if x.kind() == io::ErrorKind::Interrupted => {}
                Err(x) => return Err(stream(meter.pos(), Some(raw), x)),
            }
        }
    }

    fn drain_trailing<R: Read>(&mut self, rest: &mut R, meter: &Meter) -> Result<(), UnpackError> {
        let buf = &mut self.bufs.data;
        loop {
            let n = match rest.read(buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(x) if x.kind() == io::ErrorKind::Interrupted => continue,
                Err(x) => return Err(stream(meter.pos(), None, x)),
            };
            self.data_bytes += n as u64;
            if self.data_bytes > self.limits.max_total_bytes {
                return Err(limit("total bytes", self.limits.max_total_bytes, None));
            }
        }
    }

    /// Sets directory times last (writing into a directory changes its mtime), deepest first, skipping
    /// any that a later entry replaced by a non-directory.
    fn restore_dir_times(&mut self) -> Result<(), UnpackError> {
        let mut times = std::mem::take(&mut self.dir_times);
        times.sort_by_key(|(p, _)| std::cmp::Reverse(name::depth(p)));
        for (path, t) in &times {
            let err = |s| io_err(self.root, path, path, "setting times of directory", s);
            if path.is_empty() {
                meta::times_fd(self.tree.root(), t).map_err(err)?;
                continue;
            }
            let (parent, base) = name::split(path);
            let Some(dir) = self.tree.existing_dir(parent).map_err(err)? else {
                continue;
            };
            match rustix::fs::statat(dir, base, rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                    meta::times_at(dir, base, t).map_err(err)?
                }
                Ok(_) | Err(rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(err(e.into())),
            }
        }
        Ok(())
    }

    fn stream_error(&self, meter: &Meter, e: io::Error) -> UnpackError {
        if meter.tripped() {
            return limit(
                "metadata bytes per entry",
                self.limits.max_pax_bytes as u64,
                None,
            );
        }
        let last = (self.stats.entries > 0).then_some(self.bufs.raw.as_slice());
        stream(meter.pos(), last, e)
    }
}

enum Copy {
    Read(io::Error),
    Write(io::Error),
}

/// Copies an entry's data into `file`, filling the buffer before each write.
fn copy(src: &mut impl Read, file: &mut File, buf: &mut [u8]) -> Result<u64, Copy> {
    let mut total = 0u64;
    loop {
        let mut n = 0;
        while n < buf.len() {
            match src.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Copy::Read(e)),
            }
        }
        if n == 0 {
            return Ok(total);
        }
        file.write_all(&buf[..n]).map_err(Copy::Write)?;
        total += n as u64;
        if n < buf.len() {
            return Ok(total);
        }
    }
}
