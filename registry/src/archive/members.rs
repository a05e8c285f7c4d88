//! The files inside an image archive ("members"), whatever holds them: a tar file, a compressed tar, or a
//! directory (an OCI layout or an unpacked `docker save`).
//!
//! Member order in docker archives is arbitrary (`manifest.json` often comes last), so a tar is not read
//! front to back once: one indexing pass records where each member's bytes start (`raw_file_position`),
//! seeking over the contents, and members are then read with positional reads (`pread`), which lets several
//! layers stream in parallel from one file descriptor. A gzip or zstd compressed tar cannot be sought, so it is
//! inflated once into a file in the store's staging directory (same filesystem as the store, removed with the
//! `Staging`, and by `Store::open` after a kill -9) and indexed like a plain tar. Streaming it instead would
//! mean stashing every layer member before knowing what it is, which costs the same disk and is more code.
//!
//! Member names are normalized lexically (`./a//b` → `a/b`, `..` clamped at the top) before any lookup, in
//! the tar index and for names read from the archive's JSON alike. Symlink and hardlink members (skopeo's
//! `<id>/layer.tar -> ../<diff_id>.tar`) are followed inside the archive only. In a directory, members are
//! opened with `openat2(RESOLVE_IN_ROOT)`, so neither a `../..` name nor a symlink can reach outside it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::OFlags;

use super::error::LoadError;
use crate::confined;
use crate::store::{Staging, Store};
use crate::unpack::{self, Compression};

/// How many links one lookup follows before giving up (a loop, or a hostile chain).
const MAX_LINKS: usize = 16;

pub(crate) struct Members {
    kind: Kind,
}

enum Kind {
    Dir(OwnedFd),
    Tar {
        file: Arc<File>,
        index: HashMap<String, TarEntry>,
        /// The inflated copy of a compressed archive; removed when the load is over.
        _inflated: Option<Staging>,
    },
}

#[derive(Clone, Debug)]
enum TarEntry {
    File {
        offset: u64,
        size: u64,
    },
    /// A symlink (target relative to the link's directory) or hardlink (target from the archive's top), already
    /// turned into a normalized member name.
    Link(String),
    /// Present, but not something whose bytes we can read (a directory, a device, a sparse file).
    Other(&'static str),
}

/// One member opened for reading: `size` bytes from `reader`.
pub(crate) struct Member {
    pub reader: Box<dyn Read + Send>,
    pub size: u64,
}

impl Members {
    /// Opens `path` as a directory or as a (possibly compressed) tar. `store` provides the staging directory a
    /// compressed tar is inflated into.
    pub(crate) fn open(path: &Path, store: &Store) -> Result<Members, LoadError> {
        let io = LoadError::Open;
        let md = std::fs::metadata(path).map_err(io)?;
        if md.is_dir() {
            let fd = confined::open_root(path).map_err(io)?;
            return Ok(Members {
                kind: Kind::Dir(fd),
            });
        }
        let mut file = File::open(path).map_err(io)?;
        let mut magic = [0u8; 4];
        let n = crate::unpack::read_magic(&mut file, &mut magic).map_err(io)?;
        file.rewind().map_err(io)?;
        let compression = Compression::sniff(&magic[..n]);
        let (file, inflated) = match compression {
            Compression::None => (file, None),
            c => {
                let staging = store.staging()?;
                let tmp = staging.path().join("archive.tar");
                let file = inflate(file, c, &tmp)?;
                (file, Some(staging))
            }
        };
        let index = index_tar(&file, path)?;
        if index.is_empty() {
            return Err(LoadError::NotAnArchive(
                "no files in it (neither a tar nor a directory)".into(),
            ));
        }
        Ok(Members {
            kind: Kind::Tar {
                file: Arc::new(file),
                index,
                _inflated: inflated,
            },
        })
    }

    /// Whether `name` is a member (a readable file, links followed).
    pub(crate) fn exists(&self, name: &str) -> bool {
        match &self.kind {
            Kind::Dir(_) => self.open_member(name).is_ok(),
            Kind::Tar { index, .. } => {
                matches!(resolve(index, name), Ok((_, TarEntry::File { .. })))
            }
        }
    }

    /// Opens member `name` for reading.
    pub(crate) fn open_member(&self, name: &str) -> Result<Member, LoadError> {
        let norm = normalize(name);
        match &self.kind {
            Kind::Dir(root) => open_in_dir(root, name, &norm),
            Kind::Tar { file, index, .. } => match resolve(index, name)? {
                (_, TarEntry::File { offset, size }) => Ok(Member {
                    reader: Box::new(AtReader {
                        file: file.clone(),
                        pos: offset,
                        end: offset + size,
                    }),
                    size,
                }),
                (n, TarEntry::Other(what)) => {
                    Err(LoadError::member(&n, format!("is a {what}, not a file")))
                }
                (n, TarEntry::Link(_)) => Err(LoadError::member(&n, "too many levels of links")),
            },
        }
    }

    /// Reads a whole small member (JSON, a config), refusing one larger than `limit`.
    pub(crate) fn read_small(&self, name: &str, limit: u64) -> Result<Vec<u8>, LoadError> {
        let m = self.open_member(name)?;
        if m.size > limit {
            return Err(LoadError::member(
                name,
                format!("{} bytes, more than the {limit} allowed for it", m.size),
            ));
        }
        let mut out = Vec::with_capacity(m.size as usize);
        m.reader
            .take(m.size)
            .read_to_end(&mut out)
            .map_err(|e| LoadError::member(name, e.to_string()))?;
        if (out.len() as u64) < m.size {
            return Err(LoadError::member(name, "truncated"));
        }
        Ok(out)
    }
}

/// `./a//b/../c` → `a/c`; `..` never climbs above the top (as the layer applier treats names).
pub(crate) fn normalize(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

fn inflate(file: File, c: Compression, tmp: &Path) -> Result<File, LoadError> {
    let broken = |e: std::io::Error| LoadError::Tar {
        after: None,
        why: format!("decompressing the archive: {e}"),
    };
    let mut out = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(tmp)
        .map_err(|source| LoadError::Io {
            path: tmp.to_path_buf(),
            source,
        })?;
    let mut dec =
        unpack::decoder(std::io::BufReader::with_capacity(1 << 20, file), c).map_err(broken)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut out);
    std::io::copy(&mut dec, &mut w).map_err(broken)?;
    w.flush().map_err(|source| LoadError::Io {
        path: tmp.to_path_buf(),
        source,
    })?;
    drop(w);
    out.rewind().map_err(|source| LoadError::Io {
        path: tmp.to_path_buf(),
        source,
    })?;
    Ok(out)
}

/// The tar parser's words for a broken header, as one printable line: it quotes the header's raw bytes (a
/// field it cannot read, the name it was reading), which for a file that is no tar at all are binary noise, so
/// a message that holds any is cut before its quote. `first`: no member was read, so the file is not a tar.
fn tar_why(first: bool, e: &std::io::Error) -> String {
    let text = e.to_string();
    let clean = |c: char| !c.is_control() && c != char::REPLACEMENT_CHARACTER;
    let why = match text.chars().all(clean) {
        true => text.as_str(),
        false => text.split(": ").next().unwrap_or_default(),
    };
    match first {
        true => format!("not a tar archive: {why}"),
        false => why.to_string(),
    }
}

/// One pass over the tar headers, seeking over contents: member name → where its bytes are.
fn index_tar(file: &File, path: &Path) -> Result<HashMap<String, TarEntry>, LoadError> {
    let len = file
        .metadata()
        .map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let mut index = HashMap::new();
    let mut archive = tar::Archive::new(file);
    let mut last: Option<String> = None;
    let broken = |after: &Option<String>, e: std::io::Error| LoadError::Tar {
        after: after.clone(),
        why: tar_why(after.is_none(), &e),
    };
    let entries = archive.entries_with_seek().map_err(|e| broken(&last, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| broken(&last, e))?;
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = normalize(&raw_name);
        let kind = entry.header().entry_type();
        let value = match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let (offset, size) = (entry.raw_file_position(), entry.size());
                if offset.saturating_add(size) > len {
                    return Err(LoadError::member(
                        &name,
                        format!(
                            "truncated: the archive ends {} bytes into its {size} bytes",
                            len.saturating_sub(offset)
                        ),
                    ));
                }
                TarEntry::File { offset, size }
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|t| String::from_utf8_lossy(&t).into_owned())
                    .unwrap_or_default();
                let full = if kind == tar::EntryType::Symlink && !target.starts_with('/') {
                    let parent = name.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                    format!("{parent}/{target}")
                } else {
                    target
                };
                TarEntry::Link(normalize(&full))
            }
            tar::EntryType::Directory => TarEntry::Other("directory"),
            tar::EntryType::GNUSparse => TarEntry::Other("sparse file"),
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => continue,
            _ => TarEntry::Other("special file"),
        };
        last = Some(name.clone());
        // A later member of the same name replaces an earlier one, as tar extraction would.
        if !name.is_empty() {
            index.insert(name, value);
        }
    }
    Ok(index)
}

/// Follows links from `name`; returns the final member's name and entry.
fn resolve(index: &HashMap<String, TarEntry>, name: &str) -> Result<(String, TarEntry), LoadError> {
    let mut cur = normalize(name);
    for _ in 0..MAX_LINKS {
        match index.get(&cur) {
            None => return Err(LoadError::Missing { member: cur }),
            Some(TarEntry::Link(t)) => cur = t.clone(),
            Some(e) => return Ok((cur, e.clone())),
        }
    }
    Err(LoadError::member(name, "too many levels of links"))
}

fn open_in_dir(root: &OwnedFd, name: &str, norm: &str) -> Result<Member, LoadError> {
    if norm.is_empty() {
        return Err(LoadError::Missing {
            member: name.to_string(),
        });
    }
    let fd = confined::open(
        root,
        norm,
        OFlags::RDONLY | OFlags::NOCTTY | OFlags::NONBLOCK,
    )
    .map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT | libc::ENOTDIR) => LoadError::Missing {
            member: norm.to_string(),
        },
        _ => LoadError::member(norm, e.to_string()),
    })?;
    let file = File::from(fd);
    let md = file
        .metadata()
        .map_err(|e| LoadError::member(norm, e.to_string()))?;
    if !md.is_file() {
        return Err(LoadError::member(norm, "not a regular file"));
    }
    Ok(Member {
        size: md.len(),
        reader: Box::new(file),
    })
}

/// Reads `pos..end` of a shared file with `pread`, so readers of different members never disturb each other.
struct AtReader {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for AtReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (self.end - self.pos).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the archive ends inside this member",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn names_normalize_and_clamp() {
        assert_eq!(normalize("./manifest.json"), "manifest.json");
        assert_eq!(normalize("a//b/./c"), "a/b/c");
        assert_eq!(normalize("abc/../def.tar"), "def.tar");
        assert_eq!(normalize("../../etc/passwd"), "etc/passwd");
        assert_eq!(normalize("/blobs/sha256/x"), "blobs/sha256/x");
    }
}
