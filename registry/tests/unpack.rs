//! The layer applier against crafted and hostile layers (fixtures::layers). Runs as root: it creates
//! device nodes, sets owners and trusted.* xattrs, and mounts overlayfs to check the two whiteout forms.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Instant;

use ucr_fixtures::layers::{self as fx, E};
use ucr_registry::unpack::{
    apply_layer, decoder, ApplyStats, Compression, Limits, Mode, UnpackError,
};

fn shm() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ucr-unpack-")
        .tempdir_in("/dev/shm")
        .expect("tempdir in /dev/shm")
}

fn apply(tar: &[u8], root: &Path, mode: Mode) -> Result<ApplyStats, UnpackError> {
    apply_layer(tar, root, mode, &Limits::default())
}

fn apply_all(layers: &[Vec<u8>], root: &Path, mode: Mode) {
    for l in layers {
        apply(l, root, mode).expect("layer applies");
    }
}

fn xattrs(p: &Path) -> BTreeMap<String, Vec<u8>> {
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
fn desc(p: &Path) -> String {
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
fn tree(root: &Path) -> BTreeMap<String, String> {
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
fn assert_tree(root: &Path, want: &[(&str, &str)]) {
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

const T: u64 = fx::MTIME;

fn f(content: &str) -> String {
    format!("f 0644 0:0 @{T} {content:?}")
}

const D: &str = "d 0755 0:0";
const WH: &str = "c 0000 0:0 0:0";

#[test]
fn whiteouts_merge_and_overlay() {
    let layers = fx::whiteout_layers();
    let m = shm();
    apply_all(&layers, m.path(), Mode::Merge);
    assert_tree(
        m.path(),
        &[
            ("a", D),
            ("a/c", &f("c")),
            ("a/new", &f("n")),
            ("keep", &f("k")),
        ],
    );

    let o = shm();
    apply(&layers[1], o.path(), Mode::Overlay).expect("applies");
    assert_tree(
        o.path(),
        &[("a", D), ("a/b", WH), ("a/d", WH), ("a/new", &f("n"))],
    );
}

#[test]
fn opaque_merge_and_overlay() {
    let layers = fx::opaque_layers();
    let m = shm();
    apply_all(&layers, m.path(), Mode::Merge);
    assert_tree(
        m.path(),
        &[
            ("o", D),
            ("o/early", &f("e")),
            ("o/sub", D),
            ("o/sub/w", &f("w")),
            ("other", D),
            ("other/z", &f("z")),
        ],
    );

    let o = shm();
    apply(&layers[1], o.path(), Mode::Overlay).expect("applies");
    let opaque = format!("{D} trusted.overlay.opaque=y");
    assert_tree(
        o.path(),
        &[
            ("o", &opaque),
            ("o/early", &f("e")),
            ("o/sub", D),
            ("o/sub/w", &f("w")),
        ],
    );
}

#[test]
fn file_dir_replacement_across_layers() {
    let layers = fx::replace_layers();
    let m = shm();
    apply_all(&layers, m.path(), Mode::Merge);
    assert_tree(
        m.path(),
        &[("f", D), ("f/child", &f("child")), ("d", &f("now a file"))],
    );
}

/// Each multi-layer fixture in overlay form, mounted with overlayfs, must show exactly the merged form.
#[test]
fn overlay_form_mounts_to_the_merged_form() {
    let cases = [
        fx::whiteout_layers(),
        fx::opaque_layers(),
        fx::replace_layers(),
        vec![
            fx::tar(&[E::file("a/x", "lower"), E::file("b/y", "lower")]),
            fx::whiteout_same_layer(),
        ],
    ];
    for layers in cases {
        let merged = shm();
        apply_all(&layers, merged.path(), Mode::Merge);
        let dirs: Vec<_> = layers
            .iter()
            .map(|l| {
                let d = shm();
                apply(l, d.path(), Mode::Overlay).expect("applies");
                d
            })
            .collect();
        let lower: Vec<String> = dirs
            .iter()
            .rev()
            .map(|d| d.path().display().to_string())
            .collect();
        let mnt = shm();
        let opts = std::ffi::CString::new(format!("lowerdir={}", lower.join(":"))).expect("no NUL");
        rustix::mount::mount(
            "overlay",
            mnt.path(),
            "overlay",
            rustix::mount::MountFlags::RDONLY,
            opts.as_c_str(),
        )
        .expect("mount overlayfs (needs root)");
        let seen = tree(mnt.path());
        rustix::mount::unmount(mnt.path(), rustix::mount::UnmountFlags::DETACH).expect("umount");
        assert_eq!(
            seen,
            tree(merged.path()),
            "overlay view vs merged for layers {lower:?}"
        );
    }
}

#[test]
fn whiteout_keeps_entries_of_the_same_layer() {
    for mode in [Mode::Merge, Mode::Overlay] {
        let r = shm();
        apply(&fx::whiteout_same_layer(), r.path(), mode).expect("applies");
        assert_tree(
            r.path(),
            &[("a", D), ("a/x", &f("x")), ("b", D), ("b/y", &f("y"))],
        );
    }
}

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
fn dotdot_and_absolute_names_are_clamped() {
    let r = shm();
    apply(&fx::dotdot_names(), r.path(), Mode::Overlay).expect("applies");
    assert_tree(
        r.path(),
        &[
            ("escaped", &f("1")),
            ("b", &f("2")),
            ("c", D),
            ("c/d", &f("3")),
        ],
    );
    let r = shm();
    apply(&fx::absolute_names(), r.path(), Mode::Overlay).expect("applies");
    assert_tree(
        r.path(),
        &[
            ("abs", D),
            ("abs/file", &f("1")),
            ("etc", D),
            ("etc/passwd", &f("root:x:0:0::/:/bin/sh\n")),
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
fn aufs_metadata_is_skipped() {
    let tar = fx::tar(&[
        E::dir(".wh..wh.plnk"),
        E::file(".wh..wh.plnk/1234.5678", "hardlink stash"),
        E::file(".wh..wh.aufs", ""),
        E::dir("a/.wh..wh.orph"),
        E::file("b", "b"),
    ]);
    for mode in [Mode::Overlay, Mode::Merge] {
        let r = shm();
        apply(&tar, r.path(), mode).expect("applies");
        assert_tree(r.path(), &[("b", &f("b"))]);
    }
}

#[test]
fn smuggled_pax_record_is_refused() {
    let r = shm();
    let err = apply(&fx::pax_smuggle(), r.path(), Mode::Overlay).expect_err("must refuse");
    assert!(
        matches!(&err, UnpackError::BadEntry { why, .. } if why.contains("ambiguous")),
        "{err}"
    );
    assert!(!r.path().join("evil").exists());
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
fn twenty_thousand_tiny_files() {
    let tar = fx::many_files(20_000);
    let r = shm();
    let t = Instant::now();
    let st = apply(&tar, r.path(), Mode::Overlay).expect("applies");
    println!(
        "timing: 20,000-file layer ({} KiB tar) applied in {:?}",
        tar.len() >> 10,
        t.elapsed()
    );
    assert_eq!(st.entries, 20_020);
    let mut n = 0;
    for d in fs::read_dir(r.path()).expect("read_dir") {
        n += fs::read_dir(d.expect("dirent").path())
            .expect("read_dir")
            .count();
    }
    assert_eq!(n, 20_000);
    assert_eq!(
        fs::read(r.path().join("d19/f19999")).expect("last file"),
        b"d19/f19999"
    );
}

#[test]
fn big_layer_timing() {
    let tar = fx::big_layer(200 << 20, 1 << 20);
    let r = shm();
    let t = Instant::now();
    let st = apply(&tar, r.path(), Mode::Overlay).expect("applies");
    let el = t.elapsed();
    println!(
        "timing: 200 MB layer ({} files) applied in {el:?} ({:.0} MB/s)",
        st.entries,
        st.bytes as f64 / el.as_secs_f64() / 1e6
    );
    assert_eq!(st.bytes, 200 << 20);
}

#[test]
fn the_root_is_only_ever_a_directory() {
    for tar in [
        fx::root_symlink(),
        fx::root_file(),
        fx::root_dotdot_symlink(),
    ] {
        let r = shm();
        let err = apply(&tar, r.path(), Mode::Merge).expect_err("must refuse");
        assert!(
            matches!(&err, UnpackError::BadEntry { why, .. } if why.contains("root")),
            "{err}"
        );
        assert!(fs::symlink_metadata(r.path()).expect("lstat").is_dir());
        assert_tree(r.path(), &[]);
    }
    let r = shm();
    apply(&fx::root_dir_meta(), r.path(), Mode::Overlay).expect("applies");
    let m = fs::symlink_metadata(r.path()).expect("lstat");
    assert_eq!(
        (m.mode() & 0o7777, m.uid(), m.gid(), m.mtime()),
        (0o700, 1, 1, 1000)
    );
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

#[test]
fn unsupported_types_and_broken_streams_are_errors() {
    let r = shm();
    let err = apply(&fx::unsupported_type(), r.path(), Mode::Overlay).expect_err("refused");
    assert!(
        err.to_string().contains("`label`") && err.to_string().contains("`V`"),
        "{err}"
    );

    let mut tar = fx::tar(&[E::file("f", vec![b'x'; 4000])]);
    tar.truncate(2048);
    let err = apply(&tar, shm().path(), Mode::Overlay).expect_err("truncated");
    assert!(err.to_string().contains("`f`"), "{err}");

    let mut tar = fx::tar(&[E::file("f", "x")]);
    tar[0] = b'g'; // the checksum no longer matches
    let err = apply(&tar, shm().path(), Mode::Overlay).expect_err("bad checksum");
    assert!(matches!(err, UnpackError::Stream { .. }), "{err}");
}

fn limit_of(r: Result<ApplyStats, UnpackError>) -> (&'static str, u64) {
    match r {
        Err(UnpackError::LimitExceeded { what, limit, .. }) => (what, limit),
        other => panic!("expected a limit error, got {other:?}"),
    }
}

#[test]
fn limits_are_enforced() {
    let lim = |f: fn(&mut Limits)| {
        let mut l = Limits::default();
        f(&mut l);
        l
    };
    let run = |tar: &[u8], l: &Limits| apply_layer(tar, shm().path(), Mode::Overlay, l);
    assert_eq!(
        limit_of(run(&fx::many_files(100), &lim(|l| l.max_entries = 50))),
        ("entries", 50)
    );
    let (long, _) = fx::long_names();
    assert_eq!(
        limit_of(run(&long, &lim(|l| l.max_path_len = 120))),
        ("path length", 120)
    );
    assert_eq!(
        limit_of(run(&fx::huge_pax(10 << 20), &Limits::default())),
        ("metadata bytes per entry", 1 << 20)
    );
    assert_eq!(
        limit_of(run(&fx::huge_gnu_name(3 << 20), &Limits::default())),
        ("metadata bytes per entry", 1 << 20)
    );
    assert_eq!(
        limit_of(run(&fx::huge_pax(2000), &lim(|l| l.max_pax_bytes = 1000))),
        ("metadata bytes per entry", 1000)
    );
    let merge = |tar: &[u8], l: &Limits| apply_layer(tar, shm().path(), Mode::Merge, l);
    assert_eq!(
        limit_of(merge(
            &fx::many_files(2000),
            &lim(|l| l.max_tracked_bytes = 100_000)
        )),
        ("tracked path bytes", 100_000)
    );
    assert!(merge(
        &fx::many_files(2000),
        &lim(|l| l.max_tracked_bytes = 300_000)
    )
    .is_ok());
    let big_xattr = fx::tar(&[E::file("x", "x").xattr("user.big", vec![b'v'; 5000])]);
    assert_eq!(
        limit_of(run(&big_xattr, &lim(|l| l.max_xattr_bytes = 4096))),
        ("xattr bytes per entry", 4096)
    );
    assert_eq!(
        limit_of(run(
            &fx::big_layer(1 << 20, 1 << 16),
            &lim(|l| l.max_total_bytes = 500_000)
        )),
        ("total bytes", 500_000)
    );
    assert_eq!(
        limit_of(run(
            &fx::trailing_garbage(10_000),
            &lim(|l| l.max_total_bytes = 5_000)
        )),
        ("total bytes", 5_000)
    );
    assert!(run(&fx::many_files(100), &lim(|l| l.max_entries = 105)).is_ok());
}

/// Counts the bytes pulled through it.
struct Counting<R>(R, u64);
impl<R: Read> Read for Counting<R> {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        let n = self.0.read(b)?;
        self.1 += n as u64;
        Ok(n)
    }
}

#[test]
fn decompression_bombs_stop_promptly() {
    let limits = Limits {
        max_total_bytes: 100 << 20,
        ..Limits::default()
    };
    for (name, bomb) in [
        ("zeros", fx::gzip_zeros(10 << 30)),
        ("declared file", fx::gzip_tar_bomb(10 << 30)),
    ] {
        let t = Instant::now();
        let mut inflated = Counting(decoder(bomb, Compression::Gzip).expect("decoder"), 0);
        let (what, limit) = limit_of(apply_layer(
            &mut inflated,
            shm().path(),
            Mode::Overlay,
            &limits,
        ));
        println!(
            "timing: 10 GiB gzip bomb ({name}) stopped after {} MiB in {:?}",
            inflated.1 >> 20,
            t.elapsed()
        );
        assert_eq!((what, limit), ("total bytes", 100 << 20));
        assert!(inflated.1 <= (101 << 20), "read {} bytes", inflated.1);
        assert!(t.elapsed().as_secs() < 20, "took {:?}", t.elapsed());
    }
}

#[test]
fn the_stream_is_consumed_to_eof_and_compressions_decode() {
    let tar = fx::trailing_garbage(70_000);
    let mut c = Counting(&tar[..], 0);
    apply_layer(&mut c, shm().path(), Mode::Overlay, &Limits::default()).expect("applies");
    assert_eq!(c.1, tar.len() as u64);

    let layer = fx::many_files(300);
    let mut multi = fx::gzip(&layer[..layer.len() / 2]);
    multi.extend(fx::gzip(&layer[layer.len() / 2..])); // two gzip members, as pigz writes
    for (blob, c) in [
        (multi, Compression::Gzip),
        (fx::zstd(&layer), Compression::Zstd),
        (layer.clone(), Compression::None),
    ] {
        assert_eq!(Compression::sniff(&blob), c);
        let r = shm();
        let mut compressed = Counting(&blob[..], 0);
        let st = apply_layer(
            decoder(&mut compressed, c).expect("decoder"),
            r.path(),
            Mode::Merge,
            &Limits::default(),
        )
        .expect("applies");
        assert_eq!(
            compressed.1,
            blob.len() as u64,
            "{c:?} blob not read to its end"
        );
        assert_eq!(st.entries, 301);
        assert_eq!(
            fs::read(r.path().join("d00/f00299")).expect("read"),
            b"d00/f00299"
        );
    }
}

#[test]
fn existing_entries_are_replaced_never_written_through() {
    let outside = tempfile::tempdir().expect("tempdir");
    let canary = outside.path().join("canary");
    fs::write(&canary, "canary").expect("write");
    let r = shm();
    let lower = fx::tar(&[
        E::symlink("victim", canary.to_str().expect("utf8")),
        E::file("a", "a"),
        E::hardlink("b", "a"),
        E::dir("dir"),
        E::file("dir/x", "x"),
    ]);
    apply(&lower, r.path(), Mode::Merge).expect("lower applies");
    let upper = fx::tar(&[
        E::file("victim", "new"),
        E::file("a", "new a"),
        E::file("dir", "no longer a dir"),
    ]);
    apply(&upper, r.path(), Mode::Merge).expect("upper applies");
    assert_eq!(fs::read(&canary).expect("read"), b"canary");
    assert_tree(
        r.path(),
        &[
            ("victim", &f("new")),
            ("a", &f("new a")),
            ("b", &f("a")),
            ("dir", &f("no longer a dir")),
        ],
    );
}

#[test]
fn whiteout_removes_a_tree_deeper_than_path_max() {
    use rustix::fs::{mkdirat, openat, Mode as M, OFlags};
    let r = shm();
    fs::create_dir(r.path().join("deep")).expect("mkdir");
    let mut fd = openat(
        rustix::fs::CWD,
        r.path().join("deep").as_path(),
        OFlags::DIRECTORY,
        M::empty(),
    )
    .expect("open");
    for _ in 0..3000 {
        mkdirat(&fd, "dd", M::from_raw_mode(0o755)).expect("mkdirat");
        fs::write(
            format!(
                "/proc/self/fd/{}/file",
                std::os::fd::AsRawFd::as_raw_fd(&fd)
            ),
            "x",
        )
        .expect("write");
        fd = openat(&fd, "dd", OFlags::DIRECTORY, M::empty()).expect("openat");
    }
    drop(fd);
    apply(&fx::tar(&[E::whiteout("", "deep")]), r.path(), Mode::Merge).expect("applies");
    assert_tree(r.path(), &[]);
}

/// Snapshot of everything under `dir` except `skip`, with each entry's mtime, plus `dir` itself.
fn canary_state(dir: &Path, skip: &Path) -> BTreeMap<String, String> {
    let mut all = tree(dir);
    all.retain(|p, _| !dir.join(p).starts_with(skip));
    for (p, d) in all.iter_mut() {
        let m = fs::symlink_metadata(dir.join(p)).expect("lstat");
        write!(d, " mtime={}.{}", m.mtime(), m.mtime_nsec()).expect("fmt");
    }
    let m = fs::symlink_metadata(dir).expect("lstat");
    all.insert(
        ".".into(),
        format!("{} mtime={}.{}", desc(dir), m.mtime(), m.mtime_nsec()),
    );
    all
}

/// A hostile layer: whether it applies on top of `plant`, whether it must apply (or be refused), and
/// where inside the root its payload must then be.
struct Case {
    name: &'static str,
    planted: bool,
    tar: Vec<u8>,
    /// Whether it applies in overlay and in merge mode.
    applies: [bool; 2],
    lands: Option<String>,
}

impl Case {
    fn only_in_merge(self) -> Case {
        Case {
            applies: [false, self.applies[1]],
            ..self
        }
    }
}

fn case(name: &'static str, tar: Vec<u8>, applies: bool, lands: Option<String>) -> Case {
    Case {
        name,
        planted: false,
        tar,
        applies: [applies; 2],
        lands,
    }
}

fn planted(name: &'static str, tar: Vec<u8>, applies: bool, lands: Option<String>) -> Case {
    Case {
        planted: true,
        ..case(name, tar, applies, lands)
    }
}

#[test]
fn hostile_layers_never_touch_anything_outside_the_root() {
    let base = shm();
    let outside = tempfile::tempdir().expect("tempdir in /tmp");
    let out = outside.path().to_str().expect("utf8").to_string();
    let shm_base = base.path().to_str().expect("utf8").to_string();
    fs::write(outside.path().join("canary"), "outside canary").expect("write");
    fs::create_dir(outside.path().join("sub")).expect("mkdir");
    fs::write(base.path().join("canary"), "parent canary").expect("write");
    fs::create_dir(base.path().join("sibling")).expect("mkdir");
    fs::write(base.path().join("sibling/file"), "sibling canary").expect("write");
    let root = base.path().join("root");
    let at = |p: &str| Some(p.trim_start_matches('/').to_string());

    let cases = vec![
        case(
            "symlink_escape_abs",
            fx::symlink_escape_abs(&out),
            false,
            None,
        ),
        case(
            "symlink_escape_rel",
            fx::symlink_escape_rel(&out),
            false,
            None,
        ),
        case(
            "symlink_escape_inside",
            fx::symlink_escape_inside(&out),
            true,
            at(&format!("{out}/x")),
        ),
        case("hardlink_escape", fx::hardlink_escape(), false, None),
        case(
            "hardlink_escape_abs",
            fx::hardlink_escape_abs(),
            false,
            None,
        ),
        case(
            "hardlink_escape_inside",
            fx::hardlink_escape_inside(),
            true,
            at("l2"),
        ),
        case("dotdot_names", fx::dotdot_names(), true, at("escaped")),
        case(
            "absolute_names",
            fx::absolute_names(),
            true,
            at("etc/passwd"),
        ),
        case("root_symlink", fx::root_symlink(), false, None),
        case("root_file", fx::root_file(), false, None),
        case(
            "root_dotdot_symlink",
            fx::root_dotdot_symlink(),
            false,
            None,
        ),
        case("symlinks", fx::symlinks(), true, at("g")),
        case("pax_smuggle", fx::pax_smuggle(), false, None),
        case(
            "abs_into_outside",
            fx::tar(&[E::file(format!("{out}/pwned"), "x")]),
            true,
            at(&format!("{out}/pwned")),
        ),
        case(
            "dotdot_sibling",
            fx::tar(&[
                E::file("../sibling/pwned", "x"),
                E::file("../../canary", "x"),
            ]),
            true,
            at("sibling/pwned"),
        ),
        case(
            "link_to_sibling",
            fx::tar(&[E::symlink("s", "../sibling"), E::file("s/pwned", "x")]),
            false,
            None,
        ),
        case(
            "hardlink_to_parent_canary",
            fx::tar(&[E::hardlink("h", "../canary")]),
            false,
            None,
        ),
        case(
            "hardlink_to_shm_canary",
            fx::tar(&[E::hardlink("h", format!("{shm_base}/canary"))]),
            false,
            None,
        ),
        case(
            "hardlink_to_outside_canary",
            fx::tar(&[E::hardlink("h", format!("{out}/canary"))]),
            false,
            None,
        ),
        case(
            "whiteout_dotdot",
            fx::tar(&[E::whiteout("", "..")]),
            false,
            None,
        ),
        case(
            "whiteout_up_sibling",
            fx::tar(&[E::whiteout("..", "sibling"), E::whiteout("../..", "canary")]),
            true,
            None,
        ),
        case(
            "opaque_up",
            fx::tar(&[E::opaque(".."), E::opaque("../sibling")]),
            true,
            at("sibling"),
        ),
        case(
            "chained_links",
            fx::tar(&[
                E::symlink("a", "b/../../.."),
                E::dir("b"),
                E::symlink("c", "a/../.."),
                E::file("c/sibling/pwned", "x"),
            ]),
            true,
            at("sibling/pwned"),
        ),
        // On top of a lower "rootfs" that already holds symlinks pointing outside.
        planted(
            "replace_symlink_to_canary",
            fx::tar(&[E::file("victim", "replaced")]),
            true,
            at("victim"),
        ),
        planted(
            "file_under_outdir",
            fx::tar(&[E::file("outdir/pwned", "x")]),
            false,
            None,
        ),
        planted(
            "dir_under_outdir",
            fx::tar(&[E::dir("outdir/sub")]),
            false,
            None,
        ),
        planted(
            "whiteout_in_outdir",
            fx::tar(&[
                E::whiteout("outdir", "canary"),
                E::whiteout("outdir", "sub"),
            ]),
            true,
            None,
        )
        .only_in_merge(),
        planted(
            "opaque_outdir",
            fx::tar(&[E::opaque("outdir")]),
            false,
            None,
        ),
        planted(
            "file_under_up",
            fx::tar(&[E::file("up/sibling/pwned", "x")]),
            true,
            at("sibling/pwned"),
        ),
        planted(
            "hardlink_through_outdir",
            fx::tar(&[E::hardlink("hl", "outdir/canary")]),
            false,
            None,
        ),
        planted(
            "hardlink_through_shmdir",
            fx::tar(&[E::hardlink("hl", "shmdir/sibling/file")]),
            false,
            None,
        ),
        planted(
            "hardlink_to_victim_symlink",
            fx::tar(&[E::hardlink("hl", "victim")]),
            true,
            at("hl"),
        ),
        planted(
            "symlink_over_outdir_then_file",
            fx::tar(&[E::symlink("outdir", "/"), E::file("outdir/pwned", "x")]),
            true,
            at("pwned"),
        ),
        planted("opaque_up", fx::tar(&[E::opaque("up")]), true, None),
    ];
    let plant = fx::tar(&[
        E::symlink("victim", format!("{out}/canary")),
        E::symlink("outdir", &out),
        E::symlink("shmdir", &shm_base),
        E::symlink("up", "../../../../.."),
    ]);
    // The root exists before the snapshot and is only emptied between layers, so the parent's own mtime
    // is part of what must not change.
    fs::create_dir(&root).expect("mkdir root");
    let state = || {
        (
            canary_state(base.path(), &root),
            canary_state(outside.path(), Path::new("/nonexistent")),
        )
    };
    let before = state();
    for mode in [Mode::Overlay, Mode::Merge] {
        for c in &cases {
            if c.planted {
                apply(&plant, &root, mode).expect("plant applies");
            }
            let res = apply(&c.tar, &root, mode);
            println!(
                "{} ({mode:?}): {}",
                c.name,
                res.as_ref()
                    .map(|_| "applied".to_string())
                    .unwrap_or_else(|e| e.to_string())
            );
            assert_eq!(
                before,
                state(),
                "layer {} ({mode:?}) changed something outside the root",
                c.name
            );
            assert_eq!(
                res.is_ok(),
                c.applies[usize::from(mode == Mode::Merge)],
                "layer {} ({mode:?}): {res:?}",
                c.name
            );
            if let Some(p) = &c.lands {
                assert!(
                    fs::symlink_metadata(root.join(p)).is_ok(),
                    "layer {} ({mode:?}): no {p} in the root",
                    c.name
                );
            }
            for e in fs::read_dir(&root).expect("read_dir") {
                let p = e.expect("dirent").path();
                if fs::symlink_metadata(&p).expect("lstat").is_dir() {
                    fs::remove_dir_all(&p).expect("cleanup");
                } else {
                    fs::remove_file(&p).expect("cleanup");
                }
            }
        }
    }
}

#[test]
fn errors_name_the_entry_and_the_host_path() {
    let r = shm();
    let err = apply(&fx::hardlink_escape(), r.path(), Mode::Overlay).expect_err("no target");
    let msg = err.to_string();
    assert!(
        msg.starts_with("layer entry `l1`") || msg.contains("`../../etc/passwd`"),
        "{msg}"
    );
    match err {
        UnpackError::Io { host, .. } => assert_eq!(host, r.path().join("etc/passwd")),
        other => panic!("expected Io, got {other:?}"),
    }
    let err = apply(
        &fx::symlink_escape_abs("/tmp/nowhere"),
        r.path(),
        Mode::Overlay,
    )
    .expect_err("dangling");
    assert!(
        err.to_string().contains("evil/x") && err.to_string().contains("symlink"),
        "{err}"
    );
}
