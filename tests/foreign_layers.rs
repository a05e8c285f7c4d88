//! Foreign layers (descriptor `urls`, Docker's `foreign.diff.tar.gzip`): the registry holds the manifest but
//! not the layer, which lives on another server. Fetched from its URL only with `--foreign-layers` (they are
//! how Windows base images were distributed and a way to make a client fetch from anywhere: opt-in, never
//! with the registry's credentials); without it the pull fails naming the digest and keeps nothing.

use serde_json::json;
use ucr_fixtures::files::FileServer;
use ucr_fixtures::image::{busybox_builder, tar_of, Compression, ManifestFormat};
use ucr_fixtures::registry::Registry;

use crate::common::Ucr;

const FOREIGN: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

#[test]
fn a_foreign_layer_is_fetched_from_its_url_only_when_allowed() {
    let full = busybox_builder()
        .layer_tar(
            tar_of(&[("foreign/hello", b"from afar\n", 0o644)]),
            Compression::Gzip,
        )
        .build(ManifestFormat::DockerV2);
    let layer = full.layers.last().expect("layer").clone();
    let www = tempfile::tempdir().expect("www");
    let files = FileServer::start(www.path(), "127.0.0.1", 0, None);
    let url = format!("{}layer.tgz", files.url(false));

    // The same image, its last layer foreign: in the manifest with its URL, not pushed to the registry.
    let mut m: serde_json::Value = serde_json::from_slice(&full.manifest).expect("manifest");
    let last = m["layers"].as_array().expect("layers").len() - 1;
    m["layers"][last]["mediaType"] = json!(FOREIGN);
    m["layers"][last]["urls"] = json!([url]);
    let mut img = full.clone();
    img.layers.pop();
    img.manifest = serde_json::to_vec(&m).expect("json");
    img.manifest_digest = ucr_fixtures::image::sha256_digest(&img.manifest);
    let reg = Registry::plain();
    reg.push("win", "1", &img);
    let image = format!("{}/win:1", reg.host);

    let u = Ucr::new();
    let out = u.run(&["pull", &image]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr.contains(&layer.digest),
        "names the digest: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--foreign-layers"),
        "says how: {}",
        out.stderr
    );
    assert!(files.requests().is_empty(), "fetched without the opt-in");
    u.assert_nothing_of(&layer.digest, &layer.diff_id);

    // schema 2: content from `urls` "must be verified against the digest and size".
    std::fs::write(
        www.path().join("layer.tgz"),
        ucr_fixtures::archive::gzip(b"not the layer"),
    )
    .expect("w");
    let out = u.run(&["pull", "--foreign-layers", &image]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr.contains(&layer.digest),
        "names the digest: {}",
        out.stderr
    );
    u.assert_nothing_of(&layer.digest, &layer.diff_id);

    std::fs::write(www.path().join("layer.tgz"), &layer.data).expect("blob");
    let before = files.requests().len();
    let out = u.run(&["pull", "--foreign-layers", &image]).ok();
    assert_eq!(
        out.stdout.lines().last(),
        Some(img.manifest_digest.as_str())
    );
    assert_eq!(files.requests()[before..], ["/layer.tgz".to_string()]);
    let dir = u.dir.path().join("unpacked");
    u.run(&["unpack", &image, &dir.display().to_string()]).ok();
    assert_eq!(
        std::fs::read_to_string(dir.join("foreign/hello")).expect("the foreign layer's file"),
        "from afar\n"
    );
    u.run(&["store", "check"]).ok();
}
