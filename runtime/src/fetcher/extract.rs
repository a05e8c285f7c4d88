//! `extract` of a fetched file, by its name as Mesos's fetcher decides: tar archives (plain, gzip, zstd,
//! bzip2, xz) go through the confined applier the image layers use; zip through the confined writer below; a
//! single gzip'd file `NAME.gz` becomes `NAME`. Formats are the maintained crates' (`bzip2`, `liblzma`, `zip`,
//! `flate2`). Every write resolves inside the sandbox (openat2 `RESOLVE_IN_ROOT` from a descriptor of it): a
//! name with `..` or a root, or a symlink made by an earlier entry, cannot carry a write outside it. An entry
//! whose name leaves the sandbox fails the fetch, naming it; the same size and entry limits as image layers
//! stop an archive bomb.

use std::fs::File;
use std::io::{BufReader, Read};
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::OFlags;
use ucr_registry::confined::{self, Kind};
use ucr_registry::unpack::{self, Limits};

/// What a fetched file's name says it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Archive {
    /// `.tar`, `.tar.gz`/`.tgz`, `.tar.zst`: compression sniffed from the bytes.
    Tar,
    TarBz2,
    TarXz,
    Zip,
    /// A single gzip'd file.
    Gz,
}

pub fn archive(name: &str) -> Option<Archive> {
    let ends = |s: &[&str]| s.iter().any(|e| name.ends_with(e));
    Some(if ends(&[".tar", ".tar.gz", ".tgz", ".tar.zst"]) {
        Archive::Tar
    } else if ends(&[".tar.bz2", ".tbz2"]) {
        Archive::TarBz2
    } else if ends(&[".tar.xz", ".txz"]) {
        Archive::TarXz
    } else if ends(&[".zip"]) {
        Archive::Zip
    } else if ends(&[".gz"]) {
        Archive::Gz
    } else {
        return None;
    })
}

/// Extract `name` (a file in `sandbox`, `dir` a descriptor of it) into the sandbox.
pub fn extract(a: Archive, sandbox: &Path, dir: &OwnedFd, name: &str) -> Result<(), String> {
    let open = || {
        confined::open(dir, name, OFlags::RDONLY)
            .map(|fd| BufReader::new(File::from(fd)))
            .map_err(|e| format!("{}: {e}", sandbox.join(name).display()))
    };
    let limits = Limits::default();
    let tar = |r: Box<dyn Read + '_>| {
        unpack::apply_layer(r, sandbox, unpack::Mode::Merge, &limits)
            .map(drop)
            .map_err(|e| e.to_string())
    };
    match a {
        Archive::Tar => {
            let mut peek = [0u8; 4];
            let n = open()?.read(&mut peek).map_err(|e| e.to_string())?;
            let c = unpack::Compression::sniff(&peek[..n]);
            tar(unpack::decoder(open()?, c).map_err(|e| e.to_string())?)
        }
        Archive::TarBz2 => tar(Box::new(bzip2::read::MultiBzDecoder::new(open()?))),
        Archive::TarXz => tar(Box::new(liblzma::read::XzDecoder::new_multi_decoder(
            open()?
        ))),
        Archive::Zip => unzip(open()?, dir, &limits),
        Archive::Gz => {
            let out = name.trim_end_matches(".gz");
            let mut to =
                confined::create(dir, Path::new(out), 0o644).map_err(|e| format!("{out}: {e}"))?;
            let mut from =
                flate2::read::MultiGzDecoder::new(open()?).take(limits.max_total_bytes + 1);
            let n = std::io::copy(&mut from, &mut to).map_err(|e| format!("{name}: {e}"))?;
            if n > limits.max_total_bytes {
                return Err(format!(
                    "{name}: more than {} bytes",
                    limits.max_total_bytes
                ));
            }
            Ok(())
        }
    }
}

/// Every entry of a zip through the sandbox's descriptor: directories, files (their unix permission bits)
/// and symlinks.
fn unzip(r: BufReader<File>, dir: &OwnedFd, limits: &Limits) -> Result<(), String> {
    let mut zip = zip::ZipArchive::new(r).map_err(|e| format!("not a zip archive: {e}"))?;
    if zip.len() as u64 > limits.max_entries {
        return Err(format!("more than {} entries", limits.max_entries));
    }
    let mut left = limits.max_total_bytes;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| format!("entry {i}: {e}"))?;
        let shown = entry.name().map(|n| n.to_string()).unwrap_or_default();
        let Some(path) = entry.enclosed_name() else {
            return Err(format!("entry {shown:?}: its name leaves the sandbox"));
        };
        let fail = |e: std::io::Error| format!("entry {shown:?}: {e}");
        if entry.is_dir() {
            confined::ensure(dir, &path, Kind::Dir).map_err(fail)?;
            continue;
        }
        let parent = path.parent().unwrap_or(Path::new(""));
        let parent_fd = confined::ensure(dir, parent, Kind::Dir).map_err(fail)?;
        let leaf = path
            .file_name()
            .ok_or_else(|| format!("entry {shown:?}: no file name"))?;
        let mut data = Vec::new();
        let mut to = if entry.is_symlink() {
            None
        } else {
            let mode = entry.unix_mode().map_or(0o644, |m| m & 0o777);
            Some(confined::create(dir, &path, mode).map_err(fail)?)
        };
        let n = match &mut to {
            Some(f) => std::io::copy(&mut (&mut entry).take(left + 1), f),
            None => (&mut entry)
                .take(4096)
                .read_to_end(&mut data)
                .map(|n| n as u64),
        }
        .map_err(fail)?;
        if n > left {
            return Err(format!("more than {} bytes", limits.max_total_bytes));
        }
        left -= n;
        if to.is_none() {
            let target = String::from_utf8(data)
                .map_err(|_| format!("entry {shown:?}: link target not UTF-8"))?;
            match rustix::fs::symlinkat(target.as_str(), &parent_fd, leaf) {
                Ok(()) => {}
                Err(rustix::io::Errno::EXIST) => {
                    rustix::fs::unlinkat(&parent_fd, leaf, rustix::fs::AtFlags::empty())
                        .map_err(|e| fail(e.into()))?;
                    rustix::fs::symlinkat(target.as_str(), &parent_fd, leaf)
                        .map_err(|e| fail(e.into()))?;
                }
                Err(e) => return Err(fail(e.into())),
            }
        }
    }
    Ok(())
}
