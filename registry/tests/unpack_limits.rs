//! The layer applier's bounds: many files and big layers (with timings), every `Limits` field,
//! decompression bombs stopped promptly, and the stream read to its end through each compression.
//! Runs as root.

use std::fs;
use std::io::{self, Read};
use std::time::Instant;

use ucr_fixtures::layers::{self as fx, E};
use ucr_registry::unpack::{
    apply_layer, decoder, ApplyStats, Compression, Limits, Mode, UnpackError,
};

use crate::common::{apply, shm};

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
