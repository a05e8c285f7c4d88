//! `archive::load` / `archive::save` against archives written by code exactly as the tools write them: the
//! legacy and Docker ≥ 25 `docker save` layouts, the manifest.json form, OCI layout tars and directories,
//! compressed archives, and damaged ones (each failing by naming the member, with nothing registered and
//! nothing left in staging). The real-tool interplay (skopeo, umoci, running containers) is in tests/archive.rs.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ucr_fixtures::archive::{
    gzip, legacy_docker_archive, manifest_docker_archive, member_span, modern_docker_archive,
    oci_archive,
};
use ucr_fixtures::image::{tar_of, Compression, ImageBuilder, ManifestFormat, TestImage};
use ucr_registry::archive::{self, LoadOptions, Selector};
use ucr_registry::store::Store;
use ucr_registry::ImageRef;

struct Env {
    dir: tempfile::TempDir,
    store: Store,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("ucr-archive-")
            .tempdir_in("/dev/shm")
            .expect("tempdir");
        let store = Store::open(dir.path().join("store")).expect("store");
        Env { dir, store }
    }
    fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, data).expect("write archive");
        p
    }
    fn load(&self, path: &Path, opts: &LoadOptions) -> Result<Vec<String>, String> {
        archive::load(&self.store, path, opts)
            .map(|v| v.into_iter().map(|r| r.reference).collect())
            .map_err(|e| e.to_string())
    }
    fn staging_empty(&self) -> bool {
        std::fs::read_dir(self.store.root().join("staging"))
            .expect("staging")
            .next()
            .is_none()
    }
    /// Nothing registered, nothing in staging, the store consistent.
    #[track_caller]
    fn assert_clean(&self) {
        assert!(
            self.store.list_images().expect("list").is_empty(),
            "no image registered"
        );
        assert!(self.staging_empty(), "staging empty");
        let rep = self.store.check(false).expect("check");
        assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    }
}

fn small_image(marker: &str, format: ManifestFormat) -> TestImage {
    let base = tar_of(&[
        ("etc/", b"", 0o755),
        ("etc/shared", b"the same in every image\n", 0o644),
    ]);
    let own = tar_of(&[
        ("etc/", b"", 0o755),
        ("etc/marker", marker.as_bytes(), 0o644),
    ]);
    ImageBuilder::new()
        .layer_tar(base, Compression::Gzip)
        .layer_tar(own, Compression::Gzip)
        .cmd(["/bin/sh"])
        .build(format)
}

fn marker(env: &Env, reference: &str) -> String {
    let rec = env
        .store
        .get_image(reference)
        .expect("get")
        .expect("registered");
    let top = rec.layers.last().expect("layers");
    std::fs::read_to_string(env.store.layer_fs(&top.diff_id).join("etc/marker")).expect("marker")
}

const BUSYBOX: &str = "docker.io/library/busybox:latest";

#[test]
fn legacy_archive_loads_with_computed_diff_ids_and_is_not_unpacked_twice() {
    let env = Env::new();
    let img = small_image("legacy\n", ManifestFormat::DockerV2);
    let path = env.file(
        "legacy.tar",
        &legacy_docker_archive(&img, &[("busybox", "latest"), ("busybox", "1")]),
    );
    let names = env.load(&path, &LoadOptions::default()).expect("loads");
    assert_eq!(names, ["docker.io/library/busybox:1", BUSYBOX]);
    assert_eq!(marker(&env, BUSYBOX), "legacy\n");
    let rec = env.store.get_image(BUSYBOX).expect("get").expect("rec");
    // The diff_ids are the uncompressed layers' digests, as a registry pull of the same image records them.
    let want: Vec<String> = img.layers.iter().map(|l| l.diff_id.clone()).collect();
    let got: Vec<String> = rec.layers.iter().map(|l| l.diff_id.to_string()).collect();
    assert_eq!(got, want);
    let cfg: serde_json::Value =
        serde_json::from_slice(&env.store.read_blob(&rec.config_digest).expect("config"))
            .expect("json");
    assert_eq!(cfg["config"]["Cmd"][0], "/bin/sh");
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().map(Vec::len), Some(2));
    assert!(
        cfg.get("id").is_none() && cfg.get("parent").is_none(),
        "v1 fields dropped: {cfg}"
    );
    env.assert_clean_but_registered();
    // Again: the layers are the same inodes (not unpacked again).
    let inode = |e: &Env| {
        std::fs::metadata(e.store.layer_fs(&rec.layers[0].diff_id))
            .expect("fs")
            .ino()
    };
    let before = inode(&env);
    env.load(&path, &LoadOptions::default())
        .expect("loads again");
    assert_eq!(inode(&env), before);
    assert!(env.staging_empty());
}

impl Env {
    #[track_caller]
    fn assert_clean_but_registered(&self) {
        assert!(self.staging_empty(), "staging empty");
        let rep = self.store.check(false).expect("check");
        assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    }
}

#[test]
fn docker25_archive_keeps_the_real_manifest_and_every_name() {
    for with_repositories in [true, false] {
        let env = Env::new();
        let img = small_image("modern\n", ManifestFormat::Oci);
        let data = modern_docker_archive(&img, BUSYBOX, "busybox:latest", with_repositories);
        let path = env.file("modern.tar", &data);
        let recs = archive::load(&env.store, &path, &LoadOptions::default()).expect("loads");
        assert_eq!(
            recs.len(),
            1,
            "one name (both annotations and RepoTags say busybox:latest)"
        );
        assert_eq!(recs[0].reference, BUSYBOX);
        assert_eq!(recs[0].manifest_digest.to_string(), img.manifest_digest);
        assert_eq!(marker(&env, BUSYBOX), "modern\n");
        env.assert_clean_but_registered();
    }
}

#[test]
fn manifest_json_archive_and_its_gzip_load() {
    let env = Env::new();
    let img = small_image("manifest-json\n", ManifestFormat::DockerV2);
    let data = manifest_docker_archive(&img, "reg.example:5000/team/app:1.2");
    for (name, bytes) in [("a.tar", data.clone()), ("a.tar.gz", gzip(&data))] {
        let path = env.file(name, &bytes);
        let names = env.load(&path, &LoadOptions::default()).expect("loads");
        assert_eq!(names, ["reg.example:5000/team/app:1.2"]);
        env.assert_clean_but_registered();
    }
    assert_eq!(
        marker(&env, "reg.example:5000/team/app:1.2"),
        "manifest-json\n"
    );
}

#[test]
fn oci_archive_with_several_images_shares_layers_and_selects_by_name() {
    let env = Env::new();
    let (a, b) = (
        small_image("a\n", ManifestFormat::Oci),
        small_image("b\n", ManifestFormat::Oci),
    );
    assert_eq!(
        a.layers[0].digest, b.layers[0].digest,
        "the base layer is shared"
    );
    let data = oci_archive(&[(&a, Some("example.com/a:1")), (&b, Some("example.com/b:1"))]);
    let path = env.file("two.tar", &data);
    // Only one image of two: by name as written.
    let only = LoadOptions {
        select: Some(Selector::Name("example.com/b:1".into())),
        ..LoadOptions::default()
    };
    assert_eq!(env.load(&path, &only).expect("loads"), ["example.com/b:1"]);
    // An image source must name one of them.
    let single = LoadOptions {
        single: true,
        ..LoadOptions::default()
    };
    let e = env.load(&path, &single).expect_err("ambiguous");
    assert!(
        e.contains("2 images") && e.contains("example.com/a:1"),
        "{e}"
    );
    let names = env
        .load(&path, &LoadOptions::default())
        .expect("loads both");
    assert_eq!(names, ["example.com/a:1", "example.com/b:1"]);
    assert_eq!(marker(&env, "example.com/a:1"), "a\n");
    assert_eq!(marker(&env, "example.com/b:1"), "b\n");
    assert_eq!(
        env.store.list_layers().expect("layers").len(),
        3,
        "shared layer stored once"
    );
    env.assert_clean_but_registered();
}

#[test]
fn unnamed_images_get_a_name_from_the_file_or_from_name() {
    let env = Env::new();
    let img = small_image("x\n", ManifestFormat::Oci);
    let path = env.file("My_Image.tar", &oci_archive(&[(&img, Some("v2"))]));
    assert_eq!(
        env.load(&path, &LoadOptions::default()).expect("loads"),
        ["localhost/my-image:v2"]
    );
    // A name the archive does not have: strict for an image source, the only image for `load --name`.
    let strict = LoadOptions {
        select: Some(Selector::Name("team/app:3".into())),
        ..LoadOptions::default()
    };
    let e = env.load(&path, &strict).expect_err("no such name");
    assert!(e.contains("no image team/app:3") && e.contains("v2"), "{e}");
    let named = LoadOptions {
        select: Some(Selector::NameOrOnly("team/app:3".into())),
        name: Some(ImageRef::parse("team/app:3").expect("ref")),
        ..LoadOptions::default()
    };
    assert_eq!(
        env.load(&path, &named).expect("loads"),
        ["docker.io/team/app:3"]
    );
}

#[test]
fn oci_layout_directory_loads_and_cannot_be_escaped() {
    let env = Env::new();
    let img = small_image("dir\n", ManifestFormat::Oci);
    let layout = env.dir.path().join("layout");
    std::fs::create_dir(&layout).expect("mkdir");
    tar::Archive::new(&oci_archive(&[(&img, Some("example.com/dir:1"))])[..])
        .unpack(&layout)
        .expect("unpack layout");
    assert_eq!(
        env.load(&layout, &LoadOptions::default()).expect("loads"),
        ["example.com/dir:1"]
    );
    // A blob replaced by a symlink out of the layout resolves inside it (RESOLVE_IN_ROOT): nothing outside is
    // read, and the member is reported missing.
    let env2 = Env::new();
    let hex = img.layers[1].digest.trim_start_matches("sha256:");
    let blob = layout.join("blobs/sha256").join(hex);
    let outside = env.dir.path().join("outside");
    std::fs::copy(&blob, &outside).expect("copy");
    std::fs::remove_file(&blob).expect("rm");
    std::os::unix::fs::symlink(&outside, &blob).expect("symlink");
    let e = env2
        .load(&layout, &LoadOptions::default())
        .expect_err("escape refused");
    assert!(e.contains(&format!("member blobs/sha256/{hex}")), "{e}");
    env2.assert_clean();
}

#[test]
fn tampered_blob_fails_naming_the_member_and_leaves_nothing() {
    let img = small_image("t\n", ManifestFormat::Oci);
    let mut data = oci_archive(&[(&img, Some("example.com/t:1"))]);
    let hex = img.layers[0]
        .digest
        .trim_start_matches("sha256:")
        .to_string();
    let (start, size) = member_span(&data, &format!("blobs/sha256/{hex}")).expect("member");
    data[start + size / 2] ^= 0x55;
    let env = Env::new();
    let path = env.file("tampered.tar", &data);
    let e = env
        .load(&path, &LoadOptions::default())
        .expect_err("tampered");
    assert!(
        e.starts_with(&format!(
            "load {}: member blobs/sha256/{hex}: digest mismatch",
            path.display()
        )),
        "{e}"
    );
    assert!(!e.contains('\n'), "one line: {e}");
    env.assert_clean();
    // Nothing of any layer is kept: the good layer too waits for the whole archive to verify.
    assert!(env.store.list_layers().expect("layers").is_empty());
}

#[test]
fn tampered_docker_layer_fails_on_its_diff_id() {
    let img = small_image("d\n", ManifestFormat::DockerV2);
    let data = manifest_docker_archive(&img, "busybox:latest");
    let member = format!(
        "{}.tar",
        img.layers[1].diff_id.trim_start_matches("sha256:")
    );
    let (start, _) = member_span(&data, &member).expect("member");
    let env = Env::new();
    // In a file's content (after the headers of `etc/` and `etc/marker`): the tar still parses; in a header:
    // it does not. Either way the error is the digest.
    for at in [1024, 512] {
        let mut data = data.clone();
        data[start + at] ^= 0x01;
        let path = env.file("tampered.tar", &data);
        let e = env
            .load(&path, &LoadOptions::default())
            .expect_err("tampered");
        assert!(
            e.contains(&format!("member {member}: digest mismatch")),
            "{e}"
        );
        env.assert_clean();
    }
}

#[test]
fn truncated_archives_fail_naming_the_member() {
    let img = small_image("cut\n", ManifestFormat::Oci);
    let data = oci_archive(&[(&img, Some("example.com/cut:1"))]);
    let hex = img.layers[0]
        .digest
        .trim_start_matches("sha256:")
        .to_string();
    let (start, size) = member_span(&data, &format!("blobs/sha256/{hex}")).expect("member");
    let env = Env::new();
    let cut = env.file("cut.tar", &data[..start + size / 2]);
    let e = env
        .load(&cut, &LoadOptions::default())
        .expect_err("truncated");
    assert!(
        e.contains(&format!("member blobs/sha256/{hex}: truncated")),
        "{e}"
    );
    env.assert_clean();
    // Compressed and cut: the inflater notices.
    let gz = gzip(&data);
    let cut = env.file("cut.tar.gz", &gz[..gz.len() / 2]);
    let e = env
        .load(&cut, &LoadOptions::default())
        .expect_err("truncated gzip");
    assert!(
        e.contains("cut.tar.gz") && e.contains("decompressing"),
        "{e}"
    );
    env.assert_clean();
    // Not an archive at all.
    let junk = env.file("junk.tar", b"hello, I am not a tar file at all, sorry");
    let e = env.load(&junk, &LoadOptions::default()).expect_err("junk");
    assert!(
        e.contains("junk.tar") && e.contains("not a tar archive"),
        "{e}"
    );
    env.assert_clean();
    // Binary noise: the tar parser quotes the header's bytes, which must not reach the one-line error.
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..8192)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let e = env
        .load(&env.file("noise.tar", &noise), &LoadOptions::default())
        .expect_err("noise");
    assert!(
        e.contains("noise.tar") && e.contains("not a tar archive"),
        "{e}"
    );
    assert!(
        e.chars()
            .all(|c| !c.is_control() && c != char::REPLACEMENT_CHARACTER),
        "{e:?}"
    );
    env.assert_clean();
}

#[test]
fn save_writes_one_layout_that_loads_back_with_the_same_digests() {
    let env = Env::new();
    let (a, b) = (
        small_image("a\n", ManifestFormat::Oci),
        small_image("b\n", ManifestFormat::DockerV2),
    );
    let data = oci_archive(&[(&a, Some("example.com/a:1")), (&b, Some("example.com/b:1"))]);
    env.load(&env.file("in.tar", &data), &LoadOptions::default())
        .expect("loads");
    let out = env.dir.path().join("out.tar");
    archive::save(
        &env.store,
        &["example.com/a:1".into(), "example.com/b:1".into()],
        &out,
    )
    .expect("saves");
    let saved = std::fs::read(&out).expect("read");
    let mut names = Vec::new();
    for e in tar::Archive::new(&saved[..]).entries().expect("tar") {
        names.push(
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string(),
        );
    }
    assert_eq!(&names[..2], ["oci-layout", "index.json"]);
    let shared = format!(
        "blobs/sha256/{}",
        a.layers[0].digest.trim_start_matches("sha256:")
    );
    assert_eq!(
        names.iter().filter(|n| **n == shared).count(),
        1,
        "shared layer once: {names:?}"
    );
    let env2 = Env::new();
    let recs = archive::load(&env2.store, &out, &LoadOptions::default()).expect("loads back");
    let digests: Vec<String> = recs.iter().map(|r| r.manifest_digest.to_string()).collect();
    assert_eq!(
        digests,
        [a.manifest_digest.clone(), b.manifest_digest.clone()]
    );
    // An unknown image is an error naming it, and no file is left behind.
    let bad = env.dir.path().join("bad.tar");
    let e = archive::save(&env.store, &["nope:1".into()], &bad).expect_err("unknown");
    assert!(e.to_string().contains("nope:1") && !bad.exists(), "{e}");
}

#[test]
fn a_stored_layer_in_another_compression_is_only_hashed_for_its_blob() {
    let env = Env::new();
    let gz = small_image("c\n", ManifestFormat::Oci);
    env.load(
        &env.file("gz.tar", &oci_archive(&[(&gz, Some("example.com/gz:1"))])),
        &LoadOptions::default(),
    )
    .expect("loads gzip");
    let layer_fs = env
        .store
        .layer_fs(&gz.layers[0].diff_id.parse().expect("digest"));
    let inode = std::fs::metadata(&layer_fs).expect("fs").ino();
    // The same layers, uncompressed (Docker ≥ 25's classic store): new blobs, the same diff_ids.
    let tars: Vec<Vec<u8>> = gz
        .layers
        .iter()
        .map(|l| ucr_fixtures::archive::layer_tar_bytes(&l.data))
        .collect();
    let plain = tars
        .iter()
        .fold(ImageBuilder::new(), |b, t| {
            b.layer_tar(t.clone(), Compression::None)
        })
        .cmd(["/bin/sh"])
        .build(ManifestFormat::Oci);
    let data = modern_docker_archive(&plain, "example.com/plain:1", "example.com/plain:1", true);
    assert_eq!(
        env.load(&env.file("plain.tar", &data), &LoadOptions::default())
            .expect("loads"),
        ["example.com/plain:1"]
    );
    assert_eq!(
        std::fs::metadata(&layer_fs).expect("fs").ino(),
        inode,
        "not unpacked again"
    );
    for l in &plain.layers {
        assert!(
            env.store.has_blob(&l.digest.parse().expect("digest")),
            "blob {} stored",
            l.digest
        );
    }
    env.assert_clean_but_registered();
}
