//! The client MUSTs of the OCI image-spec and Docker's manifest v2 schema 2, one test per clause (named after
//! it), through the public checks (`conformance`) and, for the archive side, through `archive::load` of an OCI
//! layout; the compression clauses (RFC 8878 zstd frames, gzip members) through the layer decoder.

use std::io::Read;

use ucr_registry::conformance::{check_descriptor, check_document, check_image};
use ucr_registry::manifest::{Descriptor, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use ucr_registry::unpack::{decoder, Compression};
use ucr_registry::Digest;

fn desc(mt: &str, data: &[u8]) -> Descriptor {
    Descriptor {
        media_type: mt.into(),
        digest: Digest::sha256_of(data),
        size: data.len() as u64,
        urls: Vec::new(),
        data: None,
        annotations: None,
        artifact_type: None,
    }
}

const OCI_CFG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

#[test]
fn index_md_and_manifest_md_a_document_readable_as_both_is_refused_cve_2021_41190() {
    for own in [None, Some(OCI_INDEX), Some(OCI_MANIFEST)] {
        let e = check_document(own, None, true, true).expect_err("ambiguous");
        assert!(e.contains("CVE-2021-41190"), "{e}");
    }
    assert!(check_document(None, None, true, false).is_ok());
    assert!(check_document(None, None, false, true).is_ok());
}

#[test]
fn manifest_md_media_type_must_be_a_manifest_type_and_match_the_content_type() {
    let e = check_document(
        Some("application/vnd.oci.image.layer.v1.tar"),
        None,
        false,
        true,
    )
    .expect_err("x");
    assert!(e.contains("not a manifest or an index type"), "{e}");
    let e = check_document(Some(OCI_MANIFEST), Some(DOCKER_MANIFEST), false, true).expect_err("x");
    assert!(e.contains("served as"), "{e}");
    let e = check_document(Some(OCI_INDEX), None, false, true).expect_err("index with layers");
    assert!(e.contains("an index"), "{e}");
    assert!(check_document(Some(OCI_MANIFEST), Some("application/json"), false, true).is_ok());
    assert!(check_document(
        Some(OCI_MANIFEST),
        Some(&format!("{OCI_MANIFEST}; charset=utf-8")),
        false,
        true
    )
    .is_ok());
}

#[test]
fn config_md_a_config_must_have_a_config_media_type_and_artifacts_are_not_runnable() {
    let layer = desc(OCI_GZ, b"l");
    let cases = [
        (desc(OCI_GZ, b"c"), None, "layer media type"),
        (
            desc("application/vnd.oci.empty.v1+json", b"{}"),
            None,
            "empty descriptor",
        ),
        (
            desc("application/vnd.cncf.helm.config.v1+json", b"c"),
            None,
            "artifact",
        ),
        (
            desc(OCI_CFG, b"c"),
            Some("application/vnd.example.sbom"),
            "artifactType",
        ),
    ];
    for (config, artifact, says) in cases {
        let e = check_image(
            OCI_MANIFEST,
            artifact,
            &config,
            std::slice::from_ref(&layer),
        )
        .expect_err(says);
        assert!(e.contains(says), "{says}: {e}");
    }
    assert!(check_image(OCI_MANIFEST, None, &desc(OCI_CFG, b"c"), &[layer]).is_ok());
}

#[test]
fn layer_md_an_unknown_layer_media_type_is_refused_never_guessed() {
    let cfg = desc(OCI_CFG, b"c");
    for mt in [
        "application/vnd.oci.image.layer.v1.tar+lz4",
        "application/octet-stream",
        "",
    ] {
        let e = check_image(OCI_MANIFEST, None, &cfg, &[desc(mt, b"l")]).expect_err(mt);
        assert!(e.contains("not a layer type"), "{e}");
    }
    for mt in [
        "application/vnd.oci.image.layer.v1.tar",
        OCI_GZ,
        "application/vnd.oci.image.layer.v1.tar+zstd",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    ] {
        assert!(
            check_image(OCI_MANIFEST, None, &cfg, &[desc(mt, b"l")]).is_ok(),
            "{mt}"
        );
    }
}

#[test]
fn schema2_layers_of_a_docker_manifest_are_docker_layer_types() {
    let cfg = desc("application/vnd.docker.container.image.v1+json", b"c");
    let e = check_image(DOCKER_MANIFEST, None, &cfg, &[desc(OCI_GZ, b"l")]).expect_err("oci layer");
    assert!(e.contains("non-Docker layer type"), "{e}");
    let ok = desc("application/vnd.docker.image.rootfs.diff.tar.gzip", b"l");
    assert!(check_image(DOCKER_MANIFEST, None, &cfg, &[ok]).is_ok());
}

#[test]
fn descriptor_md_embedded_data_must_match_digest_and_size() {
    use base64::Engine as _;
    let mut d = desc(OCI_CFG, b"{}");
    d.data = Some(base64::engine::general_purpose::STANDARD.encode(b"{}"));
    assert!(check_descriptor(&d, "config").is_ok());
    d.data = Some(base64::engine::general_purpose::STANDARD.encode(b"{ }"));
    let e = check_descriptor(&d, "config").expect_err("size");
    assert!(e.contains("holds 3 bytes"), "{e}");
    d.size = 3;
    let e = check_descriptor(&d, "config").expect_err("digest");
    assert!(e.contains("does not hash"), "{e}");
    d.data = Some("***".into());
    assert!(check_descriptor(&d, "config")
        .expect_err("b64")
        .contains("base64"));
}

#[test]
fn descriptor_md_urls_are_http_without_credentials() {
    let mut d = desc(OCI_GZ, b"l");
    d.urls = vec!["https://user:pw@cdn.example.com/l".into()];
    assert!(check_descriptor(&d, "layers[0]")
        .expect_err("creds")
        .contains("credentials"));
    d.urls = vec!["file:///etc/passwd".into()];
    assert!(check_descriptor(&d, "layers[0]")
        .expect_err("scheme")
        .contains("only http"));
    d.urls = vec!["https://cdn.example.com/l".into()];
    assert!(check_descriptor(&d, "layers[0]").is_ok());
}

fn zstd_frame(data: &[u8]) -> Vec<u8> {
    ucr_fixtures::layers::zstd(data)
}

fn skippable(nibble: u8, len: u32) -> Vec<u8> {
    let mut v = vec![0x50 | nibble, 0x2a, 0x4d, 0x18];
    v.extend_from_slice(&len.to_le_bytes());
    v.extend(std::iter::repeat_n(0xab, len as usize));
    v
}

fn decode(stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    decoder(stream, Compression::sniff(stream))
        .expect("decoder")
        .read_to_end(&mut out)
        .expect("decode");
    out
}

#[test]
fn rfc8878_zstd_frames_and_skippable_frames_anywhere() {
    let (a, b) = (zstd_frame(b"hello "), zstd_frame(b"world"));
    for stream in [
        [a.clone(), b.clone()].concat(),
        [skippable(0, 12), a.clone(), b.clone()].concat(),
        [a.clone(), skippable(7, 0), b.clone()].concat(),
        [a.clone(), b.clone(), skippable(15, 3)].concat(),
    ] {
        assert_eq!(Compression::sniff(&stream), Compression::Zstd);
        assert_eq!(decode(&stream), b"hello world");
    }
}

#[test]
fn rfc1952_gzip_members_are_all_read() {
    let member = |d: &[u8]| ucr_fixtures::layers::gzip(d);
    let stream = [member(b"one "), member(b"two")].concat();
    assert_eq!(decode(&stream), b"one two");
}

/// The same rules for `ucr load`: an OCI layout whose manifest is also an index, or whose layer type is
/// unknown, is refused naming the member, and nothing is registered.
#[test]
fn the_layout_reader_applies_the_same_clauses() {
    use ucr_fixtures::archive::oci_archive;
    use ucr_fixtures::image::{busybox_image, sha256_digest, ManifestFormat};
    use ucr_registry::archive::{self, LoadOptions};
    type Change = fn(&mut serde_json::Value);
    let changes: [(&str, Change); 2] = [
        ("CVE-2021-41190", |m| m["manifests"] = serde_json::json!([])),
        ("not a layer type", |m| {
            m["layers"][0]["mediaType"] = serde_json::json!("application/vnd.example.layer+lz4")
        }),
    ];
    for (says, change) in changes {
        let mut img = busybox_image(ManifestFormat::Oci);
        let mut m: serde_json::Value = serde_json::from_slice(&img.manifest).expect("manifest");
        change(&mut m);
        img.manifest = serde_json::to_vec(&m).expect("json");
        img.manifest_digest = sha256_digest(&img.manifest);
        let dir = tempfile::Builder::new()
            .prefix("ucr-conf-")
            .tempdir_in("/dev/shm")
            .expect("dir");
        let store = ucr_registry::store::Store::open(dir.path().join("store")).expect("store");
        let file = dir.path().join("img.tar");
        std::fs::write(&file, oci_archive(&[(&img, Some("example.com/c:1"))])).expect("write");
        let e = archive::load(&store, &file, &LoadOptions::default())
            .expect_err(says)
            .to_string();
        assert!(
            e.contains(says) && e.contains("blobs/sha256/"),
            "{says}: {e}"
        );
        assert!(store.list_images().expect("list").is_empty());
    }
}

#[test]
fn descriptor_md_digests_are_registered_algorithms_with_exact_lowercase_hex() {
    let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert!(format!("sha256:{hex}").parse::<Digest>().is_ok());
    for bad in [
        format!("md5:{hex}"),
        format!("sha256:{}", hex.to_uppercase()),
        format!("sha256:{}", &hex[1..]),
        format!("sha256+b64u:{hex}"),
        hex.to_string(),
        format!("sha512:{hex}"),
    ] {
        assert!(bad.parse::<Digest>().is_err(), "{bad}");
    }
}
