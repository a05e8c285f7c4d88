//! The confined layer applier (and its PAX/tar header reader) over arbitrary tar bytes, in both forms, into
//! a fresh directory on tmpfs. Whatever the bytes, nothing may appear outside that directory.
#![no_main]
use ucr_registry::unpack::{apply_layer, Limits, Mode};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let base = tempfile::Builder::new()
        .prefix("ucr-fuzz-")
        .tempdir_in("/dev/shm")
        .expect("tmpfs dir");
    let root = base.path().join("root");
    std::fs::create_dir(&root).expect("root");
    let mode = if data.first().is_some_and(|b| b & 1 == 1) {
        Mode::Merge
    } else {
        Mode::Overlay
    };
    let limits = Limits {
        max_total_bytes: 16 << 20,
        ..Limits::default()
    };
    let _ = apply_layer(data, &root, mode, &limits);
    let outside: Vec<_> = std::fs::read_dir(base.path())
        .expect("base")
        .flatten()
        .collect();
    assert_eq!(
        outside.len(),
        1,
        "something was written beside the root: {outside:?}"
    );
});
