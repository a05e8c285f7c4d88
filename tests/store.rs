//! End-to-end store tests: verification failures keep nothing, kill -9 at random moments never corrupts the
//! store, prune/rmi/check/unpack work on what a real pull stored.

use std::time::{Duration, Instant};

use crate::common::Ucr;
use ucr_fixtures::image::{
    busybox_image, busybox_layer, random_files_layer, tar_of, Compression, ImageBuilder, LayerBlob,
    ManifestFormat, TestImage,
};
use ucr_fixtures::registry::Registry;

/// Rewrites layer 0's declared size in the manifest (the registry does not check sizes on push).
fn with_wrong_layer_size(mut img: TestImage) -> TestImage {
    let mut m: serde_json::Value = serde_json::from_slice(&img.manifest).expect("manifest json");
    let size = m["layers"][0]["size"].as_u64().expect("size");
    m["layers"][0]["size"] = serde_json::json!(size + 7);
    img.manifest = serde_json::to_vec(&m).expect("json");
    img.manifest_digest = ucr_fixtures::image::sha256_digest(&img.manifest);
    img
}

#[test]
fn size_mismatch_fails_and_keeps_nothing() {
    let reg = Registry::plain();
    let img = with_wrong_layer_size(busybox_image(ManifestFormat::DockerV2));
    reg.push("size", "1", &img);
    let u = Ucr::new();
    let out = u.run(&["pull", &format!("{}/size:1", reg.host)]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr.contains(&img.layers[0].digest) && out.stderr.contains("bytes"),
        "{}",
        out.stderr
    );
    u.assert_nothing_of(&img.layers[0].digest, &img.layers[0].diff_id);
}

#[test]
fn diff_id_mismatch_fails_and_keeps_nothing() {
    let reg = Registry::plain();
    let tar = busybox_layer();
    let data = ucr_fixtures::image::compress(&tar, Compression::Gzip).to_vec();
    let layer = LayerBlob {
        media_type: "application/vnd.docker.image.rootfs.diff.tar.gzip".into(),
        digest: ucr_fixtures::image::sha256_digest(&data),
        diff_id: ucr_fixtures::image::sha256_digest(b"not this layer"),
        data,
    };
    let img = ImageBuilder::new()
        .raw_layer(layer)
        .build(ManifestFormat::DockerV2);
    reg.push("diff", "1", &img);
    let u = Ucr::new();
    let out = u.run(&["pull", &format!("{}/diff:1", reg.host)]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("diff_id"), "{}", out.stderr);
    u.assert_nothing_of(&img.layers[0].digest, &img.layers[0].diff_id);
    // The real diff_id must not appear either: the unpacked tree was discarded.
    let real = ucr_fixtures::image::sha256_digest(&busybox_layer());
    u.assert_nothing_of(&img.layers[0].digest, &real);
}

#[test]
fn zstd_and_uncompressed_layers_and_whiteouts_unpack() {
    let reg = Registry::plain();
    let lower = tar_of(&[
        ("a/", b"", 0o755),
        ("a/gone", b"x", 0o644),
        ("a/kept", b"k", 0o644),
    ]);
    let upper = tar_of(&[
        ("a/", b"", 0o755),
        ("a/.wh.gone", b"", 0o644),
        ("z", b"zstd!", 0o600),
    ]);
    let img = ImageBuilder::new()
        .layer_tar(busybox_layer(), Compression::Gzip)
        .layer_tar(lower, Compression::None)
        .layer_tar(upper, Compression::Zstd)
        .build(ManifestFormat::Oci);
    reg.push("mix", "1", &img);
    let u = Ucr::new();
    u.run(&["pull", &format!("{}/mix:1", reg.host)]).ok();
    let dir = u.dir.path().join("rootfs");
    u.run(&[
        "unpack",
        &format!("{}/mix:1", reg.host),
        &dir.display().to_string(),
    ])
    .ok();
    assert!(dir.join("bin/busybox").is_file());
    assert_eq!(std::fs::read(dir.join("a/kept")).expect("kept"), b"k");
    assert!(!dir.join("a/gone").exists(), "whiteout applied");
    assert!(
        !dir.join("a/.wh.gone").exists(),
        "whiteout not materialized"
    );
    assert_eq!(std::fs::read(dir.join("z")).expect("zstd file"), b"zstd!");
    // In the store the upper layer keeps the whiteout in overlay form: a 0/0 character device.
    let diff = img.layers[2].diff_id.trim_start_matches("sha256:");
    let wh = u.store().join("layers/sha256").join(diff).join("fs/a/gone");
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let md = std::fs::symlink_metadata(&wh).expect("whiteout device");
    assert!(
        md.file_type().is_char_device() && md.rdev() == 0,
        "overlay whiteout"
    );
}

#[test]
fn rmi_prune_check_repair_and_offline() {
    let reg = Registry::plain();
    let a = busybox_image(ManifestFormat::DockerV2);
    let b = ImageBuilder::new()
        .layer_tar(busybox_layer(), Compression::Gzip)
        .layer_tar(random_files_layer(7, 50, 300_000), Compression::Gzip)
        .build(ManifestFormat::DockerV2);
    reg.push("a", "1", &a);
    reg.push("b", "1", &b);
    let u = Ucr::new();
    let (ra, rb) = (format!("{}/a:1", reg.host), format!("{}/b:1", reg.host));
    u.run(&["pull", &ra]).ok();
    u.run(&["pull", &rb]).ok();
    // --offline needs no registry for a complete image, and refuses an absent one.
    u.run(&["pull", "--offline", &ra]).ok();
    let out = u.run(&["pull", "--offline", &format!("{}/absent:1", reg.host)]);
    assert_eq!(out.code, 125);
    u.run(&["rmi", &rb]).ok();
    let out = u.run(&["rmi", &rb]);
    assert_eq!(out.code, 125, "second rmi: {}", out.all());
    let out = u.run(&["prune"]).ok();
    let freed: u64 = out
        .stdout
        .split('(')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("bytes freed");
    assert!(
        freed > 300_000,
        "prune freed the unique layer: {}",
        out.stdout
    );
    let busybox_diff = b.layers[0].diff_id.trim_start_matches("sha256:");
    assert!(
        u.store().join("layers/sha256").join(busybox_diff).is_dir(),
        "shared layer kept"
    );
    let unique = b.layers[1].diff_id.trim_start_matches("sha256:");
    assert!(
        !u.store().join("layers/sha256").join(unique).exists(),
        "unique layer removed"
    );
    // Corrupt a stored blob: check names it, repair drops it, the next pull fetches it again.
    let victim = a.layers[1].digest.trim_start_matches("sha256:");
    let p = u.store().join("blobs/sha256").join(victim);
    let mut data = std::fs::read(&p).expect("stored blob");
    data[0] ^= 1;
    std::fs::write(&p, data).expect("corrupt");
    let out = u.run(&["store", "check"]);
    assert_eq!(out.code, 1, "{}", out.all());
    assert!(out.stdout.contains(victim), "{}", out.stdout);
    u.run(&["store", "check", "--repair"]).ok();
    u.assert_store_ok();
    u.run(&["pull", &ra]).ok();
    u.assert_store_ok();
}

/// kill -9 of `ucr pull` at random moments, 20+ times: the store stays usable, `store check` is clean each
/// time, and the final pull succeeds.
#[test]
fn kill_9_during_pull_never_corrupts_the_store() {
    let reg = Registry::plain();
    let mut builder = ImageBuilder::new().layer_tar(busybox_layer(), Compression::Gzip);
    for i in 0..4 {
        builder = builder.layer_tar(random_files_layer(100 + i, 400, 3 << 20), Compression::Gzip);
    }
    let img = builder.build(ManifestFormat::Oci);
    reg.push("kill", "1", &img);
    let r = format!("{}/kill:1", reg.host);
    // How long an undisturbed pull takes here, to spread the kills over it.
    let probe = Ucr::new();
    let t = Instant::now();
    probe.run(&["pull", &r]).ok();
    let full = t.elapsed();
    let u = Ucr::new();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(7);
    let mut x = (seed as u64) | 1;
    eprintln!("kill -9 loop: full pull {full:?}, seed {seed}");
    let mut killed_mid_pull = 0;
    for round in 0..24 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Uniform over most of a full pull (process start included).
        let delay = Duration::from_micros(x % (full.as_micros() as u64 * 9 / 10 + 1));
        let mut child = std::process::Command::new(crate::common::UCR)
            .arg("--root")
            .arg(u.root())
            .args(["pull", &r, "--quiet"])
            .env_clear()
            .env("HOME", u.home())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(delay);
        let finished = child.try_wait().expect("try_wait").is_some();
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if !finished {
            killed_mid_pull += 1;
        }
        let out = u.run(&["store", "check"]);
        assert_eq!(
            out.code,
            0,
            "round {round} (killed after {delay:?}): {}",
            out.all()
        );
        assert!(
            out.stdout.contains("0 problems"),
            "round {round}: {}",
            out.stdout
        );
        // A complete image record must never point at something missing.
        if u.run(&["inspect", &r]).code == 0 {
            u.run(&["pull", "--offline", &r]).ok();
        }
        // Start over after a completed pull so the next kill lands in a cold pull again; after an interrupted
        // one, keep what was committed so the next pull also runs from a partial store.
        if finished || round % 3 == 2 {
            u.run(&["rmi", &r]);
            u.run(&["prune"]).ok();
        }
    }
    assert!(
        killed_mid_pull >= 10,
        "most kills landed mid-pull ({killed_mid_pull})"
    );
    let out = u.run(&["pull", &r]).ok();
    assert_eq!(
        out.stdout.lines().last(),
        Some(img.manifest_digest.as_str())
    );
    u.assert_store_ok();
    assert!(!u.store_entries().iter().any(|e| e.starts_with("staging/")));
}

/// `rmi` of an image racing a launch from it. The launch holds the store's lock from finding the image until it
/// has recorded that it uses it, and `rmi` asks who uses images while it holds the lock exclusively, so either
/// `rmi` refuses (in use) or the launch finds the image gone and pulls it again. Whichever, the container's image
/// is never removed under it: a `prune` afterwards leaves its rootfs whole.
#[test]
fn rmi_racing_a_launch_never_removes_the_image_under_the_container() {
    use crate::common::{busybox_registry, Containers, CMD_TIMEOUT};
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    for round in 0..24u64 {
        let out = c.run_for(&["pull", "-q", &image], CMD_TIMEOUT);
        assert_eq!(out.code, 0, "{}", out.all());
        let id = c.id(&format!("race{round}"));
        let run = c.spawn(&["run", "-d", "--name", &id, &image, "sleep", "600"]);
        // Each round's rmi comes at another moment of the launch.
        std::thread::sleep(Duration::from_millis(round % 4));
        let rmi = c.run_for(&["rmi", &image], CMD_TIMEOUT);
        let run = run.wait_for(CMD_TIMEOUT);
        assert_eq!(run.code, 0, "round {round}: {}", run.all());
        let out = c.run_for(&["prune"], CMD_TIMEOUT);
        assert_eq!(out.code, 0, "{}", out.all());
        let out = c.run_for(&["exec", &id, "ls", "/bin/sleep"], CMD_TIMEOUT);
        assert_eq!(
            out.code,
            0,
            "round {round}: the container's rootfs after the rmi ({}) and a prune: {}",
            rmi.all(),
            out.all()
        );
        c.run_for(&["rm", "--force", &id], CMD_TIMEOUT);
    }
}
