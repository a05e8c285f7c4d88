//! The layer applier against crafted layers (fixtures::layers), asserting the exact tree it leaves: links,
//! devices, set-id bits, owners, times, xattrs, long names and sparse files. Runs as root: it creates
//! device nodes, sets owners and xattrs.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use ucr_fixtures::layers::{self as fx, E};
use ucr_registry::unpack::Mode;

use crate::common::{apply, assert_tree, f, shm, xattrs, D, T};

#[test]
fn hardlinks_share_one_inode() {
    let r = shm();
    apply(&fx::hardlinks(), r.path(), Mode::Overlay).expect("applies");
    let l = format!("f 0644 0:0 @{T} \"shared\" nlink=4");
    assert_tree(
        r.path(),
        &[("a", &l), ("b", &l), ("dir", D), ("dir/c", &l), ("abs", &l)],
    );
    let ino = |p: &str| fs::symlink_metadata(r.path().join(p)).expect("lstat").ino();
    assert!(["b", "dir/c", "abs"].iter().all(|p| ino(p) == ino("a")));
}

#[test]
fn symlinks_are_stored_verbatim_and_resolve_inside() {
    let r = shm();
    apply(&fx::symlinks(), r.path(), Mode::Overlay).expect("applies");
    let l = |t: &str| format!("l 0:0 @{T} -> {t}");
    assert_tree(
        r.path(),
        &[
            ("abs", &l("/etc/passwd")),
            ("rel", &l("../x")),
            ("d", D),
            ("dirlink", &l("d")),
            ("d/f", &f("via link")),
            ("up", &l("../../..")),
            ("g", &f("clamped")),
        ],
    );
}

#[test]
fn devices_and_fifos() {
    let r = shm();
    apply(&fx::devices(), r.path(), Mode::Overlay).expect("applies");
    assert_tree(
        r.path(),
        &[
            ("dev", D),
            ("dev/null", "c 0666 0:0 1:3"),
            ("dev/loop9", "b 0660 0:6 7:9"),
            ("run", D),
            ("run/fifo", "p 0600 0:0 0:0"),
        ],
    );
    assert_eq!(
        fs::symlink_metadata(r.path().join("dev/null"))
            .expect("lstat")
            .mtime() as u64,
        T
    );
}

#[test]
fn setid_bits_owners_and_times() {
    let r = shm();
    apply(&fx::setid(), r.path(), Mode::Overlay).expect("applies");
    assert_tree(
        r.path(),
        &[
            ("bin", D),
            ("bin/su", &format!("f 4755 0:0 @{T} \"su\"")),
            ("bin/wall", &format!("f 2755 0:5 @{T} \"wall\"")),
            ("tmp", "d 1777 0:0"),
            ("home", D),
            ("home/u", "d 0700 1000:1000"),
            ("home/u/f", "f 0640 1000:1000 @1234 \"f\""),
        ],
    );
}

#[test]
fn xattrs_from_pax_records() {
    let r = shm();
    apply(&fx::xattrs(), r.path(), Mode::Overlay).expect("applies");
    let ping = r.path().join("bin/ping");
    let got = xattrs(&ping);
    assert_eq!(
        got.get("security.capability").map(Vec::as_slice),
        Some(&fx::CAP_VALUE[..])
    );
    assert_eq!(
        got.get("user.comment").map(Vec::as_slice),
        Some(&b"hello"[..])
    );
    assert_eq!(
        xattrs(&r.path().join("d")),
        BTreeMap::from([("user.dir".to_string(), b"1".to_vec())])
    );
    assert!(xattrs(&r.path().join("bin/sym")).is_empty());
    let nano = fs::symlink_metadata(r.path().join("nano")).expect("lstat");
    assert_eq!(
        (nano.mtime(), nano.mtime_nsec(), nano.atime_nsec()),
        (1_600_000_000, 500_000_000, 500_000_000)
    );
}

#[test]
fn repeated_xattr_records_last_wins_and_non_file_data_is_skipped() {
    let r = shm();
    let tar = fx::tar(&[
        E::dir("./").mode(0o755).kind(b'5').size(0),
        E {
            data: vec![b'r'; 700],
            ..E::dir("./")
        },
        E {
            data: vec![b'd'; 1500],
            ..E::dir("d")
        },
        E {
            data: vec![b's'; 10],
            ..E::symlink("d/s", "x")
        },
        E::file("d/f", "f")
            .xattr("user.a", "1")
            .xattr("user.a", "2"),
    ]);
    apply(&tar, r.path(), Mode::Overlay).expect("applies");
    assert_tree(
        r.path(),
        &[
            ("d", D),
            ("d/s", &format!("l 0:0 @{T} -> x")),
            ("d/f", &format!("{} user.a=2", f("f"))),
        ],
    );
}

#[test]
fn long_names_and_deep_paths() {
    let r = shm();
    let (tar, deep) = fx::long_names();
    assert!(deep.len() > 2900, "deep path is {} bytes", deep.len());
    apply(&tar, r.path(), Mode::Overlay).expect("applies");
    let gnu = format!("gnu-{}", "g".repeat(146));
    let pax = format!("pax-{}", "p".repeat(196));
    assert_eq!(
        fs::read(r.path().join(&gnu)).expect("gnu long name"),
        b"gnu"
    );
    assert_eq!(
        fs::read(r.path().join(&pax)).expect("pax long name"),
        b"pax"
    );
    assert_eq!(
        fs::read_link(r.path().join("link-pax")).expect("readlink"),
        Path::new(&pax)
    );
    assert_eq!(
        fs::read_link(r.path().join("link-gnu")).expect("readlink"),
        Path::new(&gnu)
    );
    assert_eq!(fs::read(r.path().join(&deep)).expect("deep file"), b"deep");
}

#[test]
fn dir_times_are_restored_after_their_contents() {
    let r = shm();
    apply(&fx::dir_times(), r.path(), Mode::Overlay).expect("applies");
    let mt = |p: &str| {
        fs::symlink_metadata(r.path().join(p))
            .expect("lstat")
            .mtime()
    };
    assert_eq!((mt("d"), mt("d/sub")), (1000, 2000));
}

#[test]
fn gnu_sparse_files_are_expanded() {
    let r = shm();
    apply(&fx::gnu_sparse(), r.path(), Mode::Overlay).expect("applies");
    let data = fs::read(r.path().join("sparse")).expect("read");
    assert_eq!(data.len(), 1 << 20);
    assert!(
        data[..512].iter().all(|&b| b == b'A')
            && data[data.len() - 512..].iter().all(|&b| b == b'B')
    );
    assert!(data[512..data.len() - 512].iter().all(|&b| b == 0));
}
