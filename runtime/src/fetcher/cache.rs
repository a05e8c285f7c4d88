//! The fetcher cache (Mesos `--fetcher_cache_dir`, `--fetcher_cache_size`, URIs with `cache: true`): a download
//! is kept under a key of the task's user and the URI, so the next task of that user that fetches the URI copies
//! it from the cache instead; least recently used entries are evicted past the size.
//!
//! Many processes share the directory (every `ucr launch`, the agent's launches), so everything is on the file
//! system, not in memory:
//! - an entry is complete or absent: it is downloaded into an unnamed `O_TMPFILE` and linked in under its key
//!   when complete, so a killed download leaves nothing to clean up;
//! - one download per key at a time: a process takes the key's `flock`, and whoever waited for it finds the
//!   entry made and uses it (20 launches of one URI download it once);
//! - recency is the entry's mtime, set on every use; eviction holds the directory's lock, removes oldest
//!   first, and never the entry just added unless that alone is over the size (then it only serves this fetch).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rustix::fs::{flock, FlockOperation};
use sha2::{Digest, Sha256};

/// Where the cache lives and how much it may hold.
#[derive(Clone, Debug)]
pub struct CacheOptions {
    pub dir: PathBuf,
    /// Bytes.
    pub capacity: u64,
}

/// Mesos's default `--fetcher_cache_size`: 2 GB.
pub const DEFAULT_CAPACITY: u64 = 2 << 30;

/// Whether the entry was there already.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Hit,
    Downloaded,
}

/// The cache entry of `uri` for `user`, opened for reading, downloading it with `download` when it is not there
/// (or waiting for the process that is downloading it).
pub fn get(
    opts: &CacheOptions,
    user: &str,
    uri: &str,
    download: impl FnOnce(&mut File) -> Result<(), String>,
) -> Result<(File, Source), String> {
    let dir = &opts.dir;
    let io_err = |what: &Path, e: io::Error| format!("fetcher cache {}: {e}", what.display());
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io_err(dir, e))?;
    let entry = dir.join(key(user, uri));
    if let Some(f) = open_used(&entry).map_err(|e| io_err(&entry, e))? {
        return Ok((f, Source::Hit));
    }
    let lock_path = entry.with_extension("lock");
    let lock = lock_file(&lock_path).map_err(|e| io_err(&lock_path, e))?;
    flock(&lock, FlockOperation::LockExclusive).map_err(|e| io_err(&lock_path, e.into()))?;
    // Whoever held the lock before us may have made it.
    if let Some(f) = open_used(&entry).map_err(|e| io_err(&entry, e))? {
        return Ok((f, Source::Hit));
    }
    let mut tmp = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(dir)
        .map_err(|e| io_err(dir, e))?;
    download(&mut tmp)?;
    tmp.sync_all().map_err(|e| io_err(&entry, e))?;
    link(&tmp, &entry).map_err(|e| io_err(&entry, e))?;
    drop(lock);
    evict(opts, &entry);
    // The file written is the entry (evicted or not): read it from the start.
    tmp.seek(SeekFrom::Start(0))
        .map_err(|e| io_err(&entry, e))?;
    Ok((tmp, Source::Downloaded))
}

/// Key: sha256 of the user and the URI, so neither can be read from the directory and one user's entry is
/// never another's.
fn key(user: &str, uri: &str) -> String {
    let mut h = Sha256::new();
    h.update(user.as_bytes());
    h.update([0]);
    h.update(uri.as_bytes());
    hex::encode(h.finalize())
}

/// The entry opened and marked as just used; None when there is none.
fn open_used(entry: &Path) -> io::Result<Option<File>> {
    match File::open(entry) {
        Ok(f) => {
            // Recency for eviction; an entry evicted meanwhile is still readable through `f`.
            let now = rustix::fs::Timestamps {
                last_access: rustix::fs::Timespec {
                    tv_sec: 0,
                    tv_nsec: rustix::fs::UTIME_NOW,
                },
                last_modification: rustix::fs::Timespec {
                    tv_sec: 0,
                    tv_nsec: rustix::fs::UTIME_NOW,
                },
            };
            rustix::fs::futimens(&f, &now)?;
            Ok(Some(f))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
}

/// Give the unnamed file its name. An entry already there (made by a process that took a lock file this one
/// did not see, see `evict`) is as good as ours.
fn link(tmp: &File, entry: &Path) -> io::Result<()> {
    match rustix::fs::linkat(
        tmp.as_fd(),
        "",
        rustix::fs::CWD,
        entry,
        rustix::fs::AtFlags::EMPTY_PATH,
    ) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::EXIST) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Remove least recently used entries until the cache fits its capacity; `added` goes last.
fn evict(opts: &CacheOptions, added: &Path) {
    let Ok(dir_lock) = lock_file(&opts.dir.join(".lock")) else {
        return;
    };
    if flock(&dir_lock, FlockOperation::LockExclusive).is_err() {
        return;
    }
    let mut entries: Vec<(std::time::SystemTime, u64, PathBuf)> = fs::read_dir(&opts.dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| is_key(&e.file_name().to_string_lossy()))
                .filter_map(|e| {
                    let m = e.metadata().ok()?;
                    Some((m.modified().ok()?, m.len(), e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut total: u64 = entries.iter().map(|(_, len, _)| len).sum();
    // Oldest first; the entry just added after all others.
    entries.sort_by_key(|(t, _, p)| (p == added, *t));
    for (_, len, path) in entries {
        if total <= opts.capacity {
            break;
        }
        // Only an entry nobody is downloading again: its lock free (a reader holds an fd and keeps reading).
        let lock_path = path.with_extension("lock");
        if let Ok(l) = lock_file(&lock_path) {
            if flock(&l, FlockOperation::NonBlockingLockExclusive).is_ok() {
                if fs::remove_file(&path).is_ok() {
                    total -= len;
                    tracing::debug!(entry = %path.display(), "fetcher cache: evicted");
                }
                let _ = fs::remove_file(&lock_path);
            }
        }
    }
}

fn is_key(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The bytes the cache holds now (entries only).
pub fn size(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| is_key(&e.file_name().to_string_lossy()))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn opts(dir: &Path, capacity: u64) -> CacheOptions {
        CacheOptions {
            dir: dir.join("cache"),
            capacity,
        }
    }

    fn fill(bytes: &'static [u8]) -> impl FnOnce(&mut File) -> Result<(), String> {
        move |f: &mut File| f.write_all(bytes).map_err(|e| e.to_string())
    }

    fn read(mut f: File) -> String {
        let mut s = String::new();
        f.read_to_string(&mut s).expect("read");
        s
    }

    #[test]
    fn a_second_fetch_of_a_uri_by_the_same_user_is_a_hit_and_other_users_have_their_own() {
        let d = tempfile::tempdir().expect("tempdir");
        let o = opts(d.path(), 1 << 20);
        let (f, s) = get(&o, "root", "http://x/a", fill(b"one")).expect("get");
        assert_eq!((read(f), s), ("one".to_string(), Source::Downloaded));
        let (f, s) = get(&o, "root", "http://x/a", |_| Err("not again".into())).expect("hit");
        assert_eq!((read(f), s), ("one".to_string(), Source::Hit));
        let (_, s) = get(&o, "nobody", "http://x/a", fill(b"two")).expect("get");
        assert_eq!(s, Source::Downloaded);
    }

    #[test]
    fn a_failed_download_leaves_no_entry() {
        let d = tempfile::tempdir().expect("tempdir");
        let o = opts(d.path(), 1 << 20);
        let err = get(&o, "root", "http://x/a", |f: &mut File| {
            f.write_all(b"half").map_err(|e| e.to_string())?;
            Err("connection reset".into())
        });
        assert_eq!(err.err().as_deref(), Some("connection reset"));
        assert_eq!(size(&o.dir), 0);
        let (f, s) = get(&o, "root", "http://x/a", fill(b"whole")).expect("get");
        assert_eq!((read(f), s), ("whole".to_string(), Source::Downloaded));
    }

    #[test]
    fn least_recently_used_entries_go_first_and_an_oversized_one_only_serves_its_fetch() {
        let d = tempfile::tempdir().expect("tempdir");
        let o = opts(d.path(), 10);
        get(&o, "u", "a", fill(b"aaaa")).expect("a");
        std::thread::sleep(std::time::Duration::from_millis(20));
        get(&o, "u", "b", fill(b"bbbb")).expect("b");
        std::thread::sleep(std::time::Duration::from_millis(20));
        // `a` used again: now `b` is the least recent.
        get(&o, "u", "a", |_| Err("a is cached".into())).expect("a hit");
        std::thread::sleep(std::time::Duration::from_millis(20));
        get(&o, "u", "c", fill(b"cccc")).expect("c");
        assert_eq!(size(&o.dir), 8);
        assert!(get(&o, "u", "b", |_| Err("b was evicted".into())).is_err());
        let (f, _) = get(&o, "u", "big", fill(b"0123456789abc")).expect("big");
        assert_eq!(read(f), "0123456789abc");
        assert!(size(&o.dir) <= 10, "{}", size(&o.dir));
    }
}
