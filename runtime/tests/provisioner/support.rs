//! The provisioner suite's harness: a private provisioner root and layers on tmpfs, built with the real
//! layer applier from fixture tars, and views of trees, layers and mounts to assert on.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use ucr_registry::unpack::{apply_layer, Limits, Mode};
use ucr_runtime::provisioner::{self, Backend};

/// One test's world: `<tmp>/provisioner` (the backend's root), `<tmp>/layers/NNN` (layer dirs in
/// overlay form, as the store keeps them) and room for canaries next to them.
pub struct Env {
    pub backend: Box<dyn Backend>,
    pub root: PathBuf,
    n: usize,
    // Last: dropped after `Drop::drop` has destroyed what the test made.
    pub tmp: TempDir,
}

impl Env {
    pub fn new(backend: &str) -> Env {
        let tmp = tempfile::Builder::new()
            .prefix("ucr-prov-")
            .tempdir_in("/dev/shm")
            .expect("tempdir on tmpfs");
        let root = tmp.path().join("provisioner");
        let backend = provisioner::select(Some(backend), &root, &tmp.path().join("store"))
            .expect("select backend");
        Env {
            backend,
            root,
            n: 0,
            tmp,
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// Applies `tar` as a new layer under `<tmp>/layers` and returns its directory.
    pub fn layer(&mut self, tar: &[u8]) -> PathBuf {
        let base = self.path("layers");
        self.layer_in(&base, tar)
    }

    /// Applies `tar` as a new layer in a new directory under `base`.
    pub fn layer_in(&mut self, base: &Path, tar: &[u8]) -> PathBuf {
        let dir = base.join(format!("{:03}", self.n));
        self.n += 1;
        fs::create_dir_all(&dir).expect("layer dir");
        apply_layer(tar, &dir, Mode::Overlay, &Limits::default())
            .unwrap_or_else(|e| panic!("applying layer into {}: {e}", dir.display()));
        dir
    }

    pub fn layers(&mut self, tars: &[Vec<u8>]) -> Vec<PathBuf> {
        tars.iter().map(|t| self.layer(t)).collect()
    }

    #[track_caller]
    pub fn provision(&self, id: &str, layers: &[PathBuf]) -> PathBuf {
        self.backend
            .provision(id, layers)
            .unwrap_or_else(|e| panic!("provision {id:?} with {}: {e}", self.backend.name()))
    }

    #[track_caller]
    pub fn destroy(&self, id: &str) {
        self.backend
            .destroy(id)
            .unwrap_or_else(|e| panic!("destroy {id:?}: {e}"));
    }

    pub fn list(&self) -> Vec<String> {
        self.backend.list().expect("list")
    }
}

impl Drop for Env {
    /// Destroys whatever the test provisioned, passed or failed, so no mount outlives it; anything still
    /// mounted under the tempdir afterwards is detached before the tempdir is removed.
    fn drop(&mut self) {
        for id in self.backend.list().unwrap_or_default() {
            if let Err(e) = self.backend.destroy(&id) {
                eprintln!("cleanup: destroy {id}: {e}");
            }
        }
        for m in mounts_under(self.tmp.path()) {
            let _ = rustix::mount::unmount(&m, rustix::mount::UnmountFlags::DETACH);
        }
    }
}

/// Mount points of this mount namespace (from `/proc/self/mountinfo`, unescaped).
pub fn mounts() -> Vec<PathBuf> {
    let info = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(u8::is_ascii_digit) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn is_mounted(p: &Path) -> bool {
    mounts().iter().any(|m| m == p)
}

pub fn mounts_under(p: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = mounts().into_iter().filter(|m| m.starts_with(p)).collect();
    v.reverse(); // most recent first
    v
}

#[track_caller]
pub fn read(p: impl AsRef<Path>) -> String {
    let p = p.as_ref();
    fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

/// Every path under `root` (relative, sorted, not following symlinks), directories with a trailing `/`.
pub fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut work = vec![PathBuf::new()];
    while let Some(rel) = work.pop() {
        let rd = fs::read_dir(root.join(&rel))
            .unwrap_or_else(|e| panic!("read_dir {}: {e}", root.join(&rel).display()));
        for ent in rd {
            let ent = ent.expect("dir entry");
            let r = rel.join(ent.file_name());
            if ent.file_type().expect("file type").is_dir() {
                out.push(format!("{}/", r.display()));
                work.push(r);
            } else {
                out.push(r.display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A full description of every entry under `root` (type, mode, owner, size, times, content, link
/// target, xattrs): equal snapshots mean nothing changed.
pub fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for rel in tree(root) {
        let p = root.join(rel.trim_end_matches('/'));
        let m = fs::symlink_metadata(&p).expect("lstat");
        let ft = m.file_type();
        let body = if ft.is_file() {
            format!("{:?}", fs::read(&p).expect("read"))
        } else if ft.is_symlink() {
            fs::read_link(&p).expect("readlink").display().to_string()
        } else if ft.is_char_device() || ft.is_block_device() {
            format!("dev {}", m.rdev())
        } else {
            String::new()
        };
        let desc = format!(
            "mode={:o} uid={} gid={} size={} mtime={}.{} ino={} nlink={} xattrs={:?} {body}",
            m.mode(),
            m.uid(),
            m.gid(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ino(),
            m.nlink(),
            if ft.is_symlink() {
                Vec::new()
            } else {
                xattrs(&p)
            },
        );
        out.insert(rel, desc);
    }
    out
}

/// `(name, value)` of every xattr of `p` (following a final symlink), sorted.
pub fn xattrs(p: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names = vec![0u8; 65536];
    let n = rustix::fs::listxattr(p, &mut names[..]).expect("listxattr");
    let mut out: Vec<(String, Vec<u8>)> = names[..n]
        .split(|&b| b == 0)
        .filter(|n| !n.is_empty())
        .map(|name| {
            let mut v = vec![0u8; 65536];
            let len = rustix::fs::getxattr(p, name, &mut v[..]).expect("getxattr");
            v.truncate(len);
            (String::from_utf8_lossy(name).into_owned(), v)
        })
        .collect();
    out.sort();
    out
}

pub fn xattr(p: &Path, name: &str) -> Option<Vec<u8>> {
    xattrs(p)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}
