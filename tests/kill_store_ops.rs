//! kill -9 of `ucr load`, `save`, `prune`, `rmi` and `store check --repair` at random moments (issue 18 item
//! 3; the pull has its own loop in tests/store.rs): after every kill the store checks clean, an image it lists
//! is whole (an offline pull of it works), and `save` never leaves a partial file under the name asked for.

use std::path::Path;
use std::time::{Duration, Instant};

use ucr_fixtures::archive::oci_archive;
use ucr_fixtures::image::{
    busybox_layer, random_files_layer, Compression, ImageBuilder, ManifestFormat,
};

use crate::common::Ucr;

const REF: &str = "example.com/kill/ops:1";

/// An OCI archive of a ~12 MB image (busybox and four layers of random files).
fn archive(dir: &Path) -> std::path::PathBuf {
    let mut b = ImageBuilder::new().layer_tar(busybox_layer(), Compression::Gzip);
    for i in 0..4 {
        b = b.layer_tar(random_files_layer(200 + i, 300, 3 << 20), Compression::Gzip);
    }
    let img = b.build(ManifestFormat::Oci);
    let p = dir.join("ops.tar");
    std::fs::write(&p, oci_archive(&[(&img, Some(REF))])).expect("archive");
    p
}

/// Runs `args` to the end (how long it takes), then `rounds` times: `setup`, start it, SIGKILL it after a
/// random part of that time, check the store.
fn kill_loop(
    u: &Ucr,
    args: &[&str],
    rounds: u32,
    setup: &dyn Fn(&Ucr),
    after: &dyn Fn(&Ucr, u32),
) -> u32 {
    setup(u);
    let t = Instant::now();
    u.run(args).ok();
    let full = t.elapsed();
    let mut x = (std::process::id() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut killed_mid = 0;
    for round in 0..rounds {
        setup(u);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = Duration::from_micros(x % (full.as_micros() as u64 + 1));
        let mut child = u
            .command(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(delay);
        if child.try_wait().expect("try_wait").is_none() {
            killed_mid += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        let out = u.run(&["store", "check"]);
        assert!(
            out.code == 0 && out.stdout.contains("0 problems"),
            "{args:?} round {round} (killed after {delay:?} of {full:?}): {}",
            out.all()
        );
        if u.run(&["inspect", REF]).code == 0 {
            u.run(&["pull", "--offline", REF]).ok();
        }
        after(u, round);
    }
    killed_mid
}

#[test]
fn kill_9_during_load_save_prune_rmi_and_repair_leaves_a_consistent_store() {
    let u = Ucr::new();
    let tar = archive(u.dir.path());
    let tar = tar.to_str().expect("utf8");
    let load = |u: &Ucr| {
        if u.run(&["inspect", REF]).code != 0 {
            u.run(&["load", tar]).ok();
        }
    };
    let cold = |u: &Ucr, round: u32| {
        if round % 2 == 1 {
            u.run(&["rmi", REF]);
            u.run(&["prune"]).ok();
        }
    };
    let mut mid = kill_loop(&u, &["load", tar], 8, &|_| {}, &cold);

    let saved = u.dir.path().join("saved.tar");
    let reference = u.dir.path().join("reference.tar");
    load(&u);
    u.run(&["save", REF, "-o", reference.to_str().expect("utf8")])
        .ok();
    let whole = std::fs::read(&reference).expect("reference");
    let check_saved = |_: &Ucr, round: u32| {
        if let Ok(got) = std::fs::read(&saved) {
            assert!(
                got == whole,
                "round {round}: save left a partial {}",
                saved.display()
            );
        }
    };
    let save_args = ["save", REF, "-o", saved.to_str().expect("utf8")];
    mid += kill_loop(&u, &save_args, 6, &load, &check_saved);

    let unreferenced = |u: &Ucr| {
        load(u);
        u.run(&["rmi", REF]).ok();
    };
    mid += kill_loop(&u, &["prune"], 6, &unreferenced, &|_, _| {});
    mid += kill_loop(&u, &["rmi", REF], 6, &load, &|_, _| {});
    mid += kill_loop(&u, &["store", "check", "--repair"], 6, &load, &|_, _| {});
    assert!(mid >= 10, "most kills landed mid-operation ({mid})");
    load(&u);
    u.assert_store_ok();
}
