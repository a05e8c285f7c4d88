//! ACIs through the one pass and into the AppC store: every compression the spec allows, the id being the
//! sha512 of the tar, the store's lookups, and hostile ACIs refused with nothing left outside staging.

use std::fs;

use ucr_fixtures::appc::{self as aci, AciCompression};
use ucr_fixtures::image::busybox_layer;
use ucr_fixtures::layers::{self as fx, E};
use ucr_registry::appc::ingest::ingest;
use ucr_registry::appc::store::{AppcStore, ImageRecord};
use ucr_registry::appc::AppcName;
use ucr_registry::unpack::Limits;

use crate::common::shm;

fn record(id: &str) -> ImageRecord {
    ImageRecord {
        id: id.to_string(),
        source: "test".into(),
        size: 0,
        compression: "gzip".into(),
        signed_by: None,
        fetched_at: 1,
    }
}

#[test]
fn every_compression_gives_the_tar_sha512_and_a_findable_image() {
    let dir = shm();
    let store = AppcStore::open(dir.path().join("appc")).expect("store");
    let m = aci::manifest("example.com/bb", "1.0.0", &["/bin/sh"]);
    let tar = aci::aci_tar(&m, &busybox_layer());
    let want = aci::aci_id(&tar);
    for c in AciCompression::ALL {
        let bytes = aci::compress(&tar, c);
        let st = store.staging().expect("staging");
        let got = ingest(bytes.as_slice(), st.path(), "bb", &Limits::default())
            .unwrap_or_else(|e| panic!("{c:?}: {e}"));
        assert_eq!(got.id, want, "{c:?}");
        assert_eq!(got.size, bytes.len() as u64);
        assert_eq!(fs::read(st.path().join("image.aci")).expect("aci"), bytes);
        assert!(st.path().join("rootfs/bin/busybox").is_file());
        assert_eq!(got.manifest.name, "example.com/bb");
        store.commit(st, &record(&got.id)).expect("commit");
    }
    let img = store
        .find(&AppcName::parse("example.com/bb:1.0.0").expect("name"))
        .expect("find")
        .expect("found");
    assert_eq!(img.id(), want);
    assert_eq!(img.reference(), "appc:example.com/bb:1.0.0");
    assert!(store
        .find(&AppcName::parse("example.com/bb:2").expect("name"))
        .expect("find")
        .is_none());
    let pinned = AppcName::parse(&format!("example.com/other@{}", &want[..50])).expect("name");
    assert_eq!(
        store.find(&pinned).expect("find").map(|i| i.record.id),
        Some(want.clone())
    );
    assert!(store.check(false).expect("check").is_empty());
    assert!(store.remove(&want).expect("rm"));
    assert!(store.get(&want).expect("get").is_none());
    assert!(fs::read_dir(store.root().join("staging"))
        .expect("staging")
        .next()
        .is_none());
}

fn raw_aci(rootfs_entries: Vec<E>) -> Vec<u8> {
    let m = serde_json::to_vec(&aci::manifest("example.com/evil", "1", &["/x"])).expect("json");
    let mut entries = vec![E::file("manifest", m), E::dir("rootfs")];
    entries.extend(rootfs_entries);
    fx::tar(&entries)
}

#[test]
fn hostile_acis_are_refused_and_write_nothing_outside_staging() {
    let dir = shm();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).expect("outside");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "third top-level entry",
            raw_aci(vec![E::file("etc/passwd", "x")]),
            "only `manifest`",
        ),
        (
            "traversal",
            raw_aci(vec![E::file("rootfs/../../outside/x", "x")]),
            "`..`",
        ),
        (
            "device node",
            raw_aci(vec![E::block_dev("rootfs/sda", 8, 0)]),
            "device",
        ),
        (
            "symlink escape",
            raw_aci(vec![
                E::symlink("rootfs/evil", outside.to_str().expect("utf8")),
                E::file("rootfs/evil/x", "x"),
            ]),
            "rootfs/evil/x",
        ),
        (
            "hardlink out",
            raw_aci(vec![E::hardlink("rootfs/h", "manifest")]),
            "inside `rootfs/`",
        ),
        (
            "duplicate",
            raw_aci(vec![E::file("rootfs/a", "1"), E::file("rootfs/a", "2")]),
            "duplicate",
        ),
        ("no manifest", fx::tar(&[E::dir("rootfs")]), "no manifest"),
        (
            "bad manifest",
            fx::tar(&[E::file(
                "manifest",
                r#"{"acKind":"ImageManifest","acVersion":"1","name":"UP"}"#,
            )]),
            "name `UP`",
        ),
    ];
    let store = AppcStore::open(dir.path().join("appc")).expect("store");
    for (what, tar, says) in cases {
        let st = store.staging().expect("staging");
        let e = ingest(tar.as_slice(), st.path(), "evil", &Limits::default())
            .expect_err(what)
            .to_string();
        assert!(e.contains(says), "{what}: {e}");
        assert!(!e.contains('\n'), "{what}: one line: {e}");
    }
    assert!(fs::read_dir(&outside).expect("outside").next().is_none());
    assert!(store.list().expect("list").is_empty());
    assert!(fs::read_dir(store.root().join("staging"))
        .expect("staging")
        .next()
        .is_none());
}
