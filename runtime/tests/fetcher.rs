//! The fetcher's `extract` over real files: every archive format Mesos's fetcher takes lands in the sandbox
//! with its modes, and a hostile archive (`..`, an absolute name, a symlink out) writes nothing outside it.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ucr_fixtures::image::LayerTar;
use ucr_runtime::fetcher::fetch_uris;
use ucr_runtime::spec::UriSpec;

fn uri(path: &Path) -> UriSpec {
    UriSpec {
        value: path.display().to_string(),
        extract: true,
        executable: false,
        cache: false,
        output_file: None,
    }
}

fn tls() -> ucr_runtime::fetcher::FetchOptions {
    ucr_runtime::fetcher::FetchOptions::default()
}

fn tar() -> Vec<u8> {
    LayerTar::new()
        .dir("dir", 0o755)
        .file("dir/a.txt", b"A", 0o644)
        .file("run.sh", b"#!/bin/sh\n", 0o755)
        .finish()
}

fn compress(name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if name.ends_with("gz") {
        let mut e = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
        e.write_all(data).expect("gz");
        e.finish().expect("gz");
    } else if name.ends_with("bz2") {
        let mut e = bzip2::write::BzEncoder::new(&mut out, bzip2::Compression::fast());
        e.write_all(data).expect("bz2");
        e.finish().expect("bz2");
    } else if name.ends_with("xz") {
        let mut e = liblzma::write::XzEncoder::new(&mut out, 1);
        e.write_all(data).expect("xz");
        e.finish().expect("xz");
    } else {
        out = data.to_vec();
    }
    out
}

/// `(name, is_dir, is_symlink, mode, data)` entries as a zip.
fn zip(entries: &[(&str, bool, bool, u32, &[u8])]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, dir, link, mode, data) in entries {
        let o = SimpleFileOptions::default().unix_permissions(*mode);
        if *dir {
            w.add_directory(*name, o).expect("zip dir");
        } else if *link {
            let target = std::str::from_utf8(data).expect("utf-8");
            w.add_symlink(*name, target, o).expect("zip link");
        } else {
            w.start_file(*name, o).expect("zip file");
            w.write_all(data).expect("zip data");
        }
    }
    w.finish().expect("zip").into_inner()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn every_archive_format_extracts_with_its_modes() {
    let files = tempfile::tempdir().expect("tempdir");
    let names = [
        "a.tar",
        "a.tar.gz",
        "a.tgz",
        "a.tar.bz2",
        "a.tbz2",
        "a.tar.xz",
        "a.txz",
    ];
    let mut archives: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|n| (n.to_string(), compress(n, &tar())))
        .collect();
    archives.push((
        "a.zip".into(),
        zip(&[
            ("dir/", true, false, 0o755, b""),
            ("dir/a.txt", false, false, 0o644, b"A"),
            ("run.sh", false, false, 0o755, b"#!/bin/sh\n"),
            ("dir/link", false, true, 0o777, b"a.txt"),
        ]),
    ));
    for (name, bytes) in archives {
        let src = files.path().join(&name);
        std::fs::write(&src, bytes).expect("write");
        let sandbox = tempfile::tempdir().expect("sandbox");
        fetch_uris("x", &[uri(&src)], sandbox.path(), &tls())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let s = sandbox.path();
        assert_eq!(
            std::fs::read(s.join("dir/a.txt")).ok(),
            Some(b"A".to_vec()),
            "{name}"
        );
        assert_eq!(mode(&s.join("run.sh")), 0o755, "{name}");
        assert!(
            s.join(&name).is_file(),
            "{name}: the archive itself stays, as Mesos leaves it"
        );
        if name.ends_with(".zip") {
            let link = std::fs::read_link(s.join("dir/link")).expect("a symlink");
            assert_eq!(link, Path::new("a.txt"));
        }
    }
    // A single gzip'd file becomes the file without `.gz`.
    let src = files.path().join("notes.txt.gz");
    std::fs::write(&src, compress("gz", b"hello\n")).expect("write");
    let sandbox = tempfile::tempdir().expect("sandbox");
    fetch_uris("x", &[uri(&src)], sandbox.path(), &tls()).expect("gz");
    assert_eq!(
        std::fs::read_to_string(sandbox.path().join("notes.txt")).ok(),
        Some("hello\n".into())
    );
    // Not extracted when the URI says so.
    let mut plain = uri(&files.path().join("a.zip"));
    plain.extract = false;
    let sandbox = tempfile::tempdir().expect("sandbox");
    fetch_uris("x", &[plain], sandbox.path(), &tls()).expect("no extract");
    assert!(!sandbox.path().join("run.sh").exists());
}

#[test]
fn hostile_archives_write_nothing_outside_the_sandbox() {
    let files = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("outside");
    let out = outside.path().display().to_string();
    let hostile_zips = [
        (
            "dotdot.zip",
            zip(&[("../escape.txt", false, false, 0o644, b"x")]),
        ),
        (
            "deep.zip",
            zip(&[("a/../../escape.txt", false, false, 0o644, b"x")]),
        ),
        (
            "abs.zip",
            zip(&[(&format!("{out}/abs.txt"), false, false, 0o644, b"x")]),
        ),
        (
            "link.zip",
            zip(&[
                ("ln", false, true, 0o777, out.as_bytes()),
                ("ln/pwned", false, false, 0o644, b"x"),
            ]),
        ),
    ];
    let link_tar = LayerTar::new()
        .symlink("ln", &out)
        .file("ln/pwned", b"x", 0o644)
        .finish();
    let mut all: Vec<(String, Vec<u8>)> = hostile_zips
        .into_iter()
        .map(|(n, b)| (n.to_string(), b))
        .collect();
    all.push(("link.tar.xz".into(), compress("xz", &link_tar)));
    all.push(("link.tar.bz2".into(), compress("bz2", &link_tar)));
    for (name, bytes) in all {
        let src = files.path().join(&name);
        std::fs::write(&src, bytes).expect("write");
        let parent = tempfile::tempdir().expect("parent");
        let sandbox = parent.path().join("sandbox");
        std::fs::create_dir(&sandbox).expect("mkdir");
        // Refused or confined: either way nothing lands outside.
        let r = fetch_uris("x", &[uri(&src)], &sandbox, &tls());
        let escaped: Vec<_> = std::fs::read_dir(outside.path())
            .expect("outside")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            escaped.is_empty(),
            "{name}: wrote {escaped:?} outside ({r:?})"
        );
        let beside: Vec<_> = std::fs::read_dir(parent.path())
            .expect("parent")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(
            beside,
            ["sandbox"],
            "{name}: wrote beside the sandbox ({r:?})"
        );
        if name.contains("dotdot") || name.contains("deep") {
            let Err(e) = r else {
                panic!("{name}: a name leaving the sandbox must be refused");
            };
            let e = e.to_string();
            assert!(e.contains("leaves the sandbox"), "{name}: {e}");
        }
    }
}
