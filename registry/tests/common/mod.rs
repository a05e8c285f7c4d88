//! Helpers shared by the `unpack_*` tests: a tempdir on /dev/shm, applying layers, and exact-tree
//! assertions (one line per inode: type, mode, owner, mtime, content or target, xattrs).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use ucr_fixtures::layers as fx;
use ucr_registry::unpack::{apply_layer, ApplyStats, Limits, Mode, UnpackError};

pub fn shm() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ucr-unpack-")
        .tempdir_in("/dev/shm")
        .expect("tempdir in /dev/shm")
}

pub fn apply(tar: &[u8], root: &Path, mode: Mode) -> Result<ApplyStats, UnpackError> {
    apply_layer(tar, root, mode, &Limits::default())
}

pub fn apply_all(layers: &[Vec<u8>], root: &Path, mode: Mode) {
    for l in layers {
        apply(l, root, mode).expect("layer applies");
    }
}

pub fn xattrs(p: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut names = vec![0u8; 64 << 10];
    let n = rustix::fs::llistxattr(p, &mut names[..]).expect("llistxattr");
    let mut out = BTreeMap::new();
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let mut v = vec![0u8; 64 << 10];
        let len = rustix::fs::lgetxattr(p, name, &mut v[..]).expect("lgetxattr");
        out.insert(
            String::from_utf8_lossy(name).into_owned(),
            v[..len].to_vec(),
        );
    }
    out
}

/// One line describing an inode: type, mode, owner, and (files, symlinks) mtime and content/target.
/// Directory mtimes are left out (implied directories get the current time); see `dir_times`.
pub fn desc(p: &Path) -> String {
    let m = fs::symlink_metadata(p).expect("lstat");
    let ft = m.file_type();
    let (perm, own) = (m.mode() & 0o7777, format!("{}:{}", m.uid(), m.gid()));
    let mut s = if ft.is_dir() {
        format!("d {perm:04o} {own}")
    } else if ft.is_file() {
        let c = fs::read(p).expect("read");
        let mut s = format!(
            "f {perm:04o} {own} @{} {:?}",
            m.mtime(),
            String::from_utf8_lossy(&c)
        );
        if m.nlink() > 1 {
            write!(s, " nlink={}", m.nlink()).expect("fmt");
        }
        s
    } else if ft.is_symlink() {
        let t = fs::read_link(p).expect("readlink");
        format!("l {own} @{} -> {}", m.mtime(), t.display())
    } else {
        let k = if ft.is_char_device() {
            'c'
        } else if ft.is_block_device() {
            'b'
        } else {
            'p'
        };
        let (maj, min) = (rustix::fs::major(m.rdev()), rustix::fs::minor(m.rdev()));
        format!("{k} {perm:04o} {own} {maj}:{min}")
    };
    for (k, v) in xattrs(p) {
        write!(s, " {k}={}", String::from_utf8_lossy(&v).escape_debug()).expect("fmt");
    }
    s
}

/// Every path under `root` (relative, `""` for the root itself) with its description.
pub fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(dir).expect("read_dir") {
            let p = e.expect("dirent").path();
            let rel = p
                .strip_prefix(root)
                .expect("under root")
                .to_string_lossy()
                .into_owned();
            out.insert(rel, desc(&p));
            if fs::symlink_metadata(&p).expect("lstat").is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Asserts the tree under `root` is exactly `want` (the root itself not included).
pub fn assert_tree(root: &Path, want: &[(&str, &str)]) {
    let want: BTreeMap<String, String> = want
        .iter()
        .map(|(p, d)| (p.to_string(), d.to_string()))
        .collect();
    let got = tree(root);
    if got != want {
        let mut msg = String::new();
        for (p, d) in &got {
            if want.get(p) != Some(d) {
                writeln!(msg, "  got  {p}: {d}").expect("fmt");
            }
        }
        for (p, d) in &want {
            if got.get(p) != Some(d) {
                writeln!(msg, "  want {p}: {d}").expect("fmt");
            }
        }
        panic!("tree under {} differs:\n{msg}", root.display());
    }
}

pub const T: u64 = fx::MTIME;

pub fn f(content: &str) -> String {
    format!("f 0644 0:0 @{T} {content:?}")
}

pub const D: &str = "d 0755 0:0";
pub const WH: &str = "c 0000 0:0 0:0";
