//! AppC: names, image manifests, discovery-page templates, and whole ACI tars through the applier's ACI form.
#![no_main]
use ucr_registry::appc::{manifest::ImageManifest, AppcName};
use ucr_registry::unpack::{apply_aci, Limits};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = AppcName::parse(s);
    }
    let _ = ImageManifest::parse(data, "fuzz");
    let base = tempfile::Builder::new()
        .prefix("ucr-fuzz-aci-")
        .tempdir_in("/dev/shm")
        .expect("tmpfs dir");
    let root = base.path().join("rootfs");
    std::fs::create_dir(&root).expect("root");
    let limits = Limits {
        max_total_bytes: 16 << 20,
        ..Limits::default()
    };
    let _ = apply_aci(data, &root, &limits);
    assert_eq!(
        std::fs::read_dir(base.path()).expect("base").count(),
        1,
        "nothing beside the rootfs"
    );
});
