//! The client MUSTs of descriptor.md, annotations.md, image-index.md, config.md and image-layout.md, one test
//! per clause (named after it): through the public checks and `manifest::parse`, and, where a clause is about
//! choosing among documents, through `archive::load` of an OCI layout built here (the layout reader follows
//! the same rules as a pull: `manifest::select` and `ImageConfig::conform` serve both).

use serde_json::{json, Value};
use ucr_fixtures::image::{busybox_builder, sha256_digest, LayerTar, ManifestFormat, TestImage};
use ucr_registry::archive::{self, LoadOptions};
use ucr_registry::conformance::{check_config, check_descriptor, check_media_type};
use ucr_registry::manifest::{self, Descriptor, ImageConfig, Parsed, OCI_INDEX, OCI_MANIFEST};
use ucr_registry::store::Store;
use ucr_registry::Digest;

fn image(label: &str) -> TestImage {
    busybox_builder()
        .label("which", label)
        .build(ManifestFormat::Oci)
}

fn entry(img: &TestImage, platform: Value) -> Value {
    json!({"mediaType": OCI_MANIFEST, "digest": img.manifest_digest, "size": img.manifest.len(),
           "platform": platform})
}

fn amd64() -> Value {
    json!({"os": "linux", "architecture": std::env::consts::ARCH.replace("x86_64", "amd64")
        .replace("aarch64", "arm64")})
}

/// An OCI layout tar: `index.json`, the blobs of `images` and the extra `blobs` (documents made here).
fn layout(index: &Value, images: &[&TestImage], blobs: &[&[u8]]) -> Vec<u8> {
    let mut t = LayerTar::new()
        .file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644)
        .file(
            "index.json",
            &serde_json::to_vec(index).expect("json"),
            0o644,
        )
        .dir("blobs", 0o755)
        .dir("blobs/sha256", 0o755);
    let mut seen = std::collections::HashSet::new();
    let docs = blobs.iter().map(|b| (sha256_digest(b), b.to_vec()));
    let all = images.iter().flat_map(|i| {
        i.blobs()
            .into_iter()
            .map(|(d, b)| (d.to_string(), b.to_vec()))
            .chain([(i.manifest_digest.clone(), i.manifest.clone())])
    });
    for (d, data) in all.chain(docs) {
        if seen.insert(d.clone()) {
            let hex = d.trim_start_matches("sha256:");
            t = t.file(&format!("blobs/sha256/{hex}"), &data, 0o644);
        }
    }
    t.finish()
}

/// Loads `tar` into a fresh store: the manifest digests of what was registered, or the error.
fn load(tar: &[u8]) -> Result<Vec<String>, String> {
    let dir = tempfile::Builder::new()
        .prefix("ucr-conf-")
        .tempdir_in("/dev/shm")
        .expect("dir");
    let store = Store::open(dir.path().join("store")).expect("store");
    let file = dir.path().join("img.tar");
    std::fs::write(&file, tar).expect("write");
    let out = archive::load(&store, &file, &LoadOptions::default()).map_err(|e| e.to_string());
    let listed = store.list_images().expect("list");
    match out {
        Ok(recs) => Ok(recs.iter().map(|r| r.manifest_digest.to_string()).collect()),
        Err(e) => {
            assert!(listed.is_empty(), "a refused load registered {listed:?}");
            Err(e)
        }
    }
}

fn index_doc(manifests: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}))
        .expect("json")
}

fn parse(doc: &Value) -> Result<Parsed, String> {
    let bytes = serde_json::to_vec(doc).expect("json");
    manifest::parse(&bytes, None, "doc")
        .map(|(_, p)| p)
        .map_err(|e| e.to_string())
}

fn manifest_doc(img: &TestImage) -> Value {
    serde_json::from_slice(&img.manifest).expect("manifest")
}

#[test]
fn descriptor_md_media_types_follow_rfc6838_naming() {
    for ok in [
        OCI_MANIFEST,
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "text/plain; charset=utf-8",
        "application/x.y-z#1!$&^_",
    ] {
        assert!(check_media_type(ok, "mediaType").is_ok(), "{ok}");
    }
    let long = format!("application/{}", "a".repeat(128));
    for bad in [
        "",
        "application",
        "application/",
        "/json",
        "appl ication/json",
        "a/.b",
        &long,
    ] {
        let e = check_media_type(bad, "mediaType").expect_err(bad);
        assert!(e.contains("RFC 6838"), "{e}");
    }
    let mut d: Descriptor = serde_json::from_value(json!({
        "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256_digest(b""), "size": 0}))
    .expect("descriptor");
    d.artifact_type = Some("not a type".into());
    let e = check_descriptor(&d, "layers[0]").expect_err("artifactType");
    assert!(e.contains("layers[0].artifactType"), "{e}");
}

#[test]
fn descriptor_md_size_must_not_be_negative() {
    let mut m = manifest_doc(&image("a"));
    m["layers"][0]["size"] = json!(-1);
    let e = parse(&m).err().expect("negative size");
    assert!(e.contains("invalid JSON"), "{e}");
}

#[test]
fn annotations_md_a_map_of_strings_unknown_keys_ignored() {
    let base = manifest_doc(&image("a"));
    for (at, value, ok) in [
        (
            "/annotations",
            json!({"com.example.unknown": "v", "e": ""}),
            true,
        ),
        ("/annotations", json!({}), true),
        ("/annotations", json!({"n": 1}), false),
        ("/annotations", json!(["k"]), false),
        ("/config/annotations", json!({"n": true}), false),
        (
            "/layers/0/annotations",
            json!({"org.opencontainers.image.title": "x"}),
            true,
        ),
    ] {
        let mut m = base.clone();
        let (parent, key) = at.rsplit_once('/').expect("path");
        let target = if parent.is_empty() {
            &mut m
        } else {
            m.pointer_mut(parent).expect("parent")
        };
        target[key] = value.clone();
        assert_eq!(parse(&m).is_ok(), ok, "{at} = {value}");
    }
}

#[test]
fn descriptor_md_and_config_md_unknown_properties_are_ignored() {
    let mut m = manifest_doc(&image("a"));
    m["com.example.extension"] = json!({"any": ["thing"]});
    m["config"]["x-unknown"] = json!(1);
    m["subject"] = m["config"].clone();
    assert!(parse(&m).is_ok());
    let img = image("a");
    let mut c = img.config_json();
    c["x-implementation-specific"] = json!({"deep": [1, 2]});
    let bytes = serde_json::to_vec(&c).expect("json");
    let parsed = ImageConfig::parse(&bytes, &Digest::sha256_of(&bytes)).expect("config");
    assert!(parsed.conform(img.layers.len()).is_ok());
}

#[test]
fn manifest_md_and_image_index_md_schema_version_must_be_2() {
    for doc in [
        manifest_doc(&image("a")),
        json!({"mediaType": OCI_INDEX, "manifests": []}),
    ] {
        for v in [json!(3), json!(0)] {
            let mut d = doc.clone();
            d["schemaVersion"] = v;
            let e = parse(&d).err().expect("schemaVersion");
            assert!(e.contains("schemaVersion"), "{e}");
        }
    }
}

#[test]
fn image_index_md_manifests_must_be_present_and_may_be_empty() {
    let empty = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []});
    assert!(matches!(parse(&empty), Ok(Parsed::Index(e)) if e.is_empty()));
    let e = parse(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX}))
        .err()
        .expect("no manifests");
    assert!(e.contains("neither `manifests`"), "{e}");
}

#[test]
fn image_index_md_an_index_with_an_artifact_type_is_not_a_runnable_image() {
    let doc = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [],
                     "artifactType": "application/vnd.example.sbom"});
    let e = parse(&doc).err().expect("artifact index");
    assert!(e.contains("an index of an artifact"), "{e}");
}

/// index.md: "An encountered mediaType that is unknown to the implementation MUST NOT generate an error";
/// a nested index SHOULD be supported; "the first matching entry SHOULD be used".
#[test]
fn image_index_md_unknown_entry_types_are_skipped_nested_indexes_followed_first_match_used() {
    let (a, b) = (image("a"), image("b"));
    let unknown = json!({"mediaType": "application/vnd.example.future.manifest.v9+json",
        "digest": a.manifest_digest, "size": a.manifest.len(), "platform": amd64()});
    let inner = index_doc(vec![unknown, entry(&b, amd64()), entry(&a, amd64())]);
    let top = json!({"schemaVersion": 2, "manifests": [{"mediaType": OCI_INDEX,
        "digest": sha256_digest(&inner), "size": inner.len(),
        "annotations": {"org.opencontainers.image.ref.name": "example.com/nested:1"}}]});
    let got = load(&layout(&top, &[&a, &b], &[&inner])).expect("load");
    assert_eq!(got, vec![b.manifest_digest.clone()]);
}

/// Docker schema 2 lists: `features` names CPU features the image needs; index.md: `os.version` MAY be
/// ignored (it is, on Linux), an entry needing `os.features` is not for this host.
#[test]
fn schema2_list_cpu_features_and_index_md_os_version_and_os_features() {
    let (a, b, c) = (image("a"), image("b"), image("c"));
    let mut needs_cpu = amd64();
    needs_cpu["features"] = json!(["no-such-cpu-feature"]);
    let mut needs_os = amd64();
    needs_os["os.features"] = json!(["win32k"]);
    let mut versioned = amd64();
    versioned["os.version"] = json!("6.1.0");
    let inner = index_doc(vec![
        entry(&a, needs_cpu),
        entry(&b, needs_os),
        entry(&c, versioned),
    ]);
    let top = json!({"schemaVersion": 2, "manifests": [{"mediaType": OCI_INDEX,
        "digest": sha256_digest(&inner), "size": inner.len()}]});
    let got = load(&layout(&top, &[&a, &b, &c], &[&inner])).expect("load");
    assert_eq!(got, vec![c.manifest_digest.clone()]);
}

#[test]
fn config_md_os_architecture_and_rootfs_type_layers_are_required() {
    assert!(check_config("linux", "amd64", "layers", 2, 2).is_ok());
    for (os, arch, kind, ids, says) in [
        ("", "amd64", "layers", 1, "required"),
        ("linux", "", "layers", 1, "required"),
        ("windows", "amd64", "layers", 1, "Linux images"),
        ("linux", "amd64", "snapshots", 1, "rootfs.type"),
        ("linux", "amd64", "", 1, "rootfs.type"),
        ("linux", "amd64", "layers", 2, "diff_ids"),
    ] {
        let e = check_config(os, arch, kind, ids, 1).expect_err(says);
        assert!(e.contains(says), "{says}: {e}");
    }
}

/// The config rules through `ucr load`: "Implementations MUST generate an error if they encounter a unknown
/// value [of rootfs.type] while verifying or unpacking an image".
#[test]
fn config_md_the_layout_reader_refuses_an_unknown_rootfs_type() {
    let good = image("a");
    let mut config = good.config_json();
    config["rootfs"]["type"] = json!("layers+future");
    let config = serde_json::to_vec(&config).expect("json");
    let mut m = manifest_doc(&good);
    m["config"]["digest"] = json!(sha256_digest(&config));
    m["config"]["size"] = json!(config.len());
    let m = serde_json::to_vec(&m).expect("json");
    let top = json!({"schemaVersion": 2, "manifests": [{"mediaType": OCI_MANIFEST,
        "digest": sha256_digest(&m), "size": m.len()}]});
    let e = load(&layout(&top, &[&good], &[&config, &m])).expect_err("rootfs.type");
    assert!(
        e.contains("rootfs.type") && e.contains("blobs/sha256/"),
        "{e}"
    );
}

#[test]
fn image_layout_md_index_json_must_be_an_image_index() {
    let a = image("a");
    let e = load(&layout(&manifest_doc(&a), &[&a], &[])).expect_err("index.json a manifest");
    assert!(e.contains("index.json"), "{e}");
    let e = load(&layout(&json!({"manifests": []}), &[], &[])).expect_err("no schemaVersion");
    assert!(
        e.contains("index.json") && e.contains("schemaVersion"),
        "{e}"
    );
}
