//! Mesos's `--image_providers`: a container whose image is of a kind the flag leaves out is refused with one
//! line naming the image and the flag, before anything of it is fetched; the kinds it names run.

use serde_json::json;
use ucr_fixtures::appc::{self as aci, AciCompression};
use ucr_fixtures::image::busybox_layer;

use crate::common::Containers;

#[test]
fn an_image_of_a_kind_left_out_of_image_providers_is_refused_by_name() {
    let c = Containers::new();
    let m = json!({
        "acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/kinds",
        "labels": [{"name": "version", "value": "1"}, {"name": "os", "value": "linux"},
                   {"name": "arch", "value": "amd64"}],
        "app": {"exec": ["/bin/echo", "appc ran"], "user": "0", "group": "0"}
    });
    let tar = aci::aci_tar(&m, &busybox_layer());
    let file = c.dir.path().join("kinds.aci");
    std::fs::write(&file, aci::compress(&tar, AciCompression::Gzip)).expect("aci");
    c.run(&["load", file.to_str().expect("utf8")]).ok();
    let appc = "appc:example.com/kinds:1";
    // Both kinds by default; the flag in any case, before the command or after it.
    let out = c
        .run(&["--image_providers", "APPC", "run", "--rm", appc])
        .ok();
    assert_eq!(out.stdout, "appc ran\n", "{}", out.all());
    let out = c.run(&["run", "--rm", "--image-providers", "docker", appc]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert_eq!(
        out.stderr.trim(),
        format!("ucr: {appc}: the appc image provider is not enabled (--image_providers=docker)")
    );
    // Refused before any registry is asked: this one does not exist.
    let docker = "127.0.0.1:9/none/such:1";
    let out = c.run(&["--image_providers=appc", "run", "--rm", docker, "true"]);
    assert_eq!(out.code, 125, "{}", out.all());
    let want = "the docker image provider is not enabled (--image_providers=appc)";
    assert!(out.stderr.trim().ends_with(want), "{}", out.all());
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.all());
    let out = c.run(&["--image_providers=appc,rkt", "run", "--rm", appc]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr.contains("unknown image provider \"rkt\""),
        "{}",
        out.all()
    );
}
