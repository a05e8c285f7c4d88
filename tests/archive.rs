//! End-to-end offline images: the real `ucr` binary, as root, with real skopeo and umoci.
//! - pull from the TLS fixture registry → `save` → `load` into an empty root → `run`, with the registry gone;
//!   skopeo and umoci read what `save` wrote;
//! - archives written by `skopeo copy … docker-archive:` / `oci-archive:` / `oci:` load and run, also used
//!   directly as `docker-archive:PATH`, `oci-archive:PATH[:REF]`, `oci:DIR:REF`;
//! - `--docker_registry DIR` with a legacy and a Docker ≥ 25 archive (written by code, as docker wrote them),
//!   found by every spelling of the name; `pull --offline`; the fallback to a registry only when allowed;
//! - damaged archives fail with one line naming the member, and leave the store clean.

use std::path::Path;
use std::process::Command;

use crate::common::{Containers, Run, Ucr, CMD_TIMEOUT};
use ucr_fixtures::archive::{
    gzip, legacy_docker_archive, member_span, modern_docker_archive, oci_archive,
};
use ucr_fixtures::image::{
    busybox_builder, busybox_image, busybox_layer, tar_of, Compression, ImageBuilder,
    ManifestFormat, TestImage, UCR_RELEASE,
};
use ucr_fixtures::registry::Registry;

const USER: &str = "alice";
const PASS: &str = "s3cret-pw";

fn tls_registry() -> Registry {
    Registry::tls_htpasswd(USER, PASS)
}

fn ca(reg: &Registry) -> String {
    reg.ca_pem_path
        .as_ref()
        .expect("tls registry")
        .display()
        .to_string()
}

fn ucr(c: &Ucr, args: &[&str]) -> Run {
    c.run_for(args, CMD_TIMEOUT)
}

/// `skopeo ARGS` against `reg` (its CA in a cert dir, its credentials); panics with skopeo's output on failure.
#[track_caller]
fn skopeo(reg: &Registry, work: &Path, args: &[&str]) {
    let certs = work.join("skopeo-certs");
    std::fs::create_dir_all(&certs).expect("certs dir");
    std::fs::copy(reg.ca_pem_path.as_ref().expect("tls"), certs.join("ca.crt")).expect("ca.crt");
    let mut cmd = Command::new("skopeo");
    cmd.arg("--insecure-policy").arg(args[0]);
    if args[0] == "copy" {
        cmd.args([
            "--src-cert-dir",
            &certs.display().to_string(),
            "--src-creds",
            &format!("{USER}:{PASS}"),
        ]);
    }
    let out = cmd.args(&args[1..]).output().expect("run skopeo");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The stderr lines that are not progress (`Pulling …`, `Loading …`).
fn error_lines(out: &Run) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| !l.starts_with("Pulling ") && !l.starts_with("Loading "))
        .collect()
}

#[track_caller]
fn assert_one_line_error(out: &Run, what: &[&str]) {
    assert_eq!(out.code, 125, "{}", out.all());
    let lines = error_lines(out);
    assert_eq!(lines.len(), 1, "one error line: {:?}", out.stderr);
    for w in what {
        assert!(
            lines[0].starts_with("ucr: ") && lines[0].contains(w),
            "error naming {w:?}: {:?}",
            lines[0]
        );
    }
}

/// busybox plus one layer with `/etc/variant` = `name`: images that share their first two layers.
fn variant(name: &str, format: ManifestFormat) -> TestImage {
    busybox_builder()
        .layer_tar(
            tar_of(&[
                ("etc/", b"", 0o755),
                ("etc/variant", name.as_bytes(), 0o644),
            ]),
            Compression::Gzip,
        )
        .build(format)
}

fn tar_names(path: &Path) -> Vec<String> {
    let data = std::fs::read(path).expect("read tar");
    let mut a = tar::Archive::new(&data[..]);
    a.entries()
        .expect("tar")
        .map(|e| {
            e.expect("entry")
                .path()
                .expect("path")
                .display()
                .to_string()
        })
        .collect()
}

#[test]
fn pull_save_load_run_round_trip_and_skopeo_umoci_read_the_save() {
    let reg = tls_registry();
    let (one, two) = (
        variant("one", ManifestFormat::Oci),
        variant("two", ManifestFormat::DockerV2),
    );
    let d1 = reg.push("rt/app", "1", &one);
    reg.push("rt/app", "2", &two);
    let (r1, r2) = (
        format!("{}/rt/app:1", reg.host),
        format!("{}/rt/app:2", reg.host),
    );
    let src = Ucr::new();
    for r in [&r1, &r2] {
        ucr(
            &src,
            &[
                "pull",
                r,
                "--ca-file",
                &ca(&reg),
                "--creds",
                &format!("{USER}:{PASS}"),
            ],
        )
        .ok();
    }
    let out = src.dir.path().join("both.tar");
    ucr(&src, &["save", &r1, &r2, "-o", &out.display().to_string()]).ok();
    let names = tar_names(&out);
    assert_eq!(&names[..2], ["oci-layout", "index.json"], "{names:?}");
    let shared = format!(
        "blobs/sha256/{}",
        one.layers[0].digest.trim_start_matches("sha256:")
    );
    assert_eq!(
        names.iter().filter(|n| **n == shared).count(),
        1,
        "busybox layer once: {names:?}"
    );
    // 2 manifests + 2 configs + 4 distinct layers (busybox, release, two variants).
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("blobs/sha256/") && n.len() > 20)
            .count(),
        8
    );

    // The peers read it: skopeo inspects each image by its name, copies one into an OCI dir umoci unpacks.
    let work = src.dir.path();
    let oa = format!("oci-archive:{}:{r1}", out.display());
    let inspect = Command::new("skopeo")
        .args(["inspect", &oa])
        .output()
        .expect("skopeo");
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("inspect json");
    assert_eq!(v["Digest"], d1.as_str());
    let layout = work.join("layout");
    skopeo(
        &reg,
        work,
        &["copy", &oa, &format!("oci:{}:x", layout.display())],
    );
    let bundle = work.join("bundle");
    let umoci = Command::new("umoci")
        .args([
            "unpack",
            "--image",
            &format!("{}:x", layout.display()),
            &bundle.display().to_string(),
        ])
        .output()
        .expect("umoci");
    assert!(
        umoci.status.success(),
        "{}",
        String::from_utf8_lossy(&umoci.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/etc/variant")).expect("variant"),
        "one"
    );

    // Into an empty root, with the registry gone: nothing can come from the network.
    drop(reg);
    let c = Containers::new();
    let loaded = ucr(&c, &["load", &out.display().to_string()]).ok();
    assert!(
        loaded.stdout.contains(&r1) && loaded.stdout.contains(&r2),
        "{}",
        loaded.stdout
    );
    for (r, want) in [(&r1, "one"), (&r2, "two")] {
        let run = ucr(&c, &["run", "--rm", r, "cat", "/etc/variant"]);
        assert_eq!((run.code, run.stdout.as_str()), (0, want), "{}", run.all());
    }
    let ins = ucr(&c, &["inspect", &r1, "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&ins.stdout).expect("inspect");
    assert_eq!(
        v["digest"],
        d1.as_str(),
        "the registry's manifest digest survives save and load"
    );
    c.assert_store_ok();
}

#[test]
fn skopeo_archives_load_and_run_also_as_image_references() {
    let reg = tls_registry();
    reg.push("sk/bb", "1", &busybox_image(ManifestFormat::DockerV2));
    let src = format!("docker://{}/sk/bb:1", reg.host);
    let c = Containers::new();
    let work = c.dir.path().to_path_buf();
    let (da, oa, od) = (work.join("da.tar"), work.join("oa.tar"), work.join("od"));
    skopeo(
        &reg,
        &work,
        &[
            "copy",
            &src,
            &format!("docker-archive:{}:local/bb:da", da.display()),
        ],
    );
    skopeo(
        &reg,
        &work,
        &[
            "copy",
            &src,
            &format!("oci-archive:{}:local/bb:oa", oa.display()),
        ],
    );
    skopeo(
        &reg,
        &work,
        &["copy", &src, &format!("oci:{}:tagged", od.display())],
    );
    drop(reg);

    let loaded = ucr(&c, &["load", &da.display().to_string()]).ok();
    assert!(
        loaded.stdout.contains("docker.io/local/bb:da"),
        "{}",
        loaded.stdout
    );
    let run = ucr(
        &c,
        &["run", "--rm", "local/bb:da", "echo", "from docker-archive"],
    );
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "from docker-archive\n"),
        "{}",
        run.all()
    );
    let loaded = ucr(&c, &["load", &oa.display().to_string()]).ok();
    assert!(
        loaded.stdout.contains("docker.io/local/bb:oa"),
        "{}",
        loaded.stdout
    );

    // The files themselves as image references, for run and pull.
    let refs = [
        format!("docker-archive:{}", da.display()),
        format!("oci-archive:{}", oa.display()),
        format!("oci-archive:{}:local/bb:oa", oa.display()),
        format!("oci:{}:tagged", od.display()),
    ];
    for r in &refs {
        let run = ucr(&c, &["run", "--rm", r, "cat", "/etc/ucr-release"]);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (0, UCR_RELEASE),
            "{r}: {}",
            run.all()
        );
    }
    let pulled = ucr(&c, &["pull", &refs[3]]).ok();
    assert!(
        pulled.stdout.trim().starts_with("sha256:"),
        "{}",
        pulled.stdout
    );
    // `oci:DIR:tagged` has only a bare tag for a name: it is recorded under one made from the directory.
    let images = ucr(&c, &["images"]).ok();
    assert!(images.stdout.contains("localhost/od"), "{}", images.stdout);
    // A name the archive does not have is an error listing what it has; so is an archive that is not there.
    let wrong = ucr(
        &c,
        &[
            "run",
            "--rm",
            &format!("oci-archive:{}:local/bb:nope", oa.display()),
            "true",
        ],
    );
    assert_one_line_error(
        &wrong,
        &["no image local/bb:nope", "(it holds: local/bb:oa)"],
    );
    let missing = ucr(
        &c,
        &[
            "run",
            "--rm",
            &format!("oci-archive:{}/nope.tar", work.display()),
            "true",
        ],
    );
    assert_one_line_error(&missing, &["nope.tar"]);
    c.assert_store_ok();
}

/// A busybox image with uncompressed layers, as Docker ≥ 25's classic store saves them.
fn busybox_uncompressed() -> TestImage {
    ImageBuilder::new()
        .layer_tar(busybox_layer(), Compression::None)
        .layer_tar(
            tar_of(&[
                ("etc/", b"", 0o755),
                ("etc/ucr-release", UCR_RELEASE.as_bytes(), 0o644),
            ]),
            Compression::None,
        )
        .cmd(["/bin/sh"])
        .build(ManifestFormat::Oci)
}

fn write(path: &Path, data: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, data).expect("write");
}

#[test]
fn docker_registry_dir_finds_legacy_and_modern_archives_by_every_spelling() {
    let base = Ucr::new();
    let legacy_dir = base.dir.path().join("legacy");
    let modern_dir = base.dir.path().join("modern");
    // Mesos naming: the short name as the file; and the full normalized name, in subdirectories.
    write(
        &legacy_dir.join("busybox.tar"),
        &legacy_docker_archive(
            &busybox_image(ManifestFormat::DockerV2),
            &[("busybox", "latest")],
        ),
    );
    write(
        &modern_dir.join("docker.io/library/busybox:latest.tar"),
        &modern_docker_archive(
            &busybox_uncompressed(),
            "docker.io/library/busybox:latest",
            "busybox:latest",
            false,
        ),
    );
    let spellings = [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
    ];
    for dir in [&legacy_dir, &modern_dir] {
        let d = dir.display().to_string();
        let mut digests = Vec::new();
        for s in spellings {
            // A fresh store each time: the file must be found, not a record.
            let u = Ucr::new();
            let out = ucr(&u, &["--docker_registry", &d, "pull", "--offline", s]).ok();
            digests.push(out.stdout.trim().to_string());
            let rec = ucr(&u, &["images", "--json"]).ok();
            assert!(
                rec.stdout.contains("\"docker.io/library/busybox:latest\""),
                "{}",
                rec.stdout
            );
            u.assert_store_ok();
        }
        assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
        let c = Containers::new();
        for s in spellings {
            // The flag after the command, and in its `--docker-registry=` spelling, works the same.
            let run = ucr(
                &c,
                &[
                    "run",
                    "--rm",
                    &format!("--docker-registry={d}"),
                    s,
                    "cat",
                    "/etc/ucr-release",
                ],
            );
            assert_eq!(
                (run.code, run.stdout.as_str()),
                (0, UCR_RELEASE),
                "{s} from {d}: {}",
                run.all()
            );
        }
    }
    // Not in the directory: only looked up there (Mesos), an error listing where it looked.
    let u = Ucr::new();
    let d = legacy_dir.display().to_string();
    let out = ucr(&u, &["--docker_registry", &d, "pull", "alpine:3"]);
    assert_one_line_error(&out, &["alpine:3", "--docker_registry", "alpine:3.tar"]);
    // --offline never reaches a registry.
    let out = ucr(&u, &["pull", "--offline", "alpine:3"]);
    assert_one_line_error(&out, &["alpine:3", "--offline"]);
}

#[test]
fn docker_registry_fallback_pulls_only_when_allowed_and_a_url_is_a_registry() {
    let reg = tls_registry();
    reg.push("fb/app", "1", &busybox_image(ManifestFormat::Oci));
    let image = format!("{}/fb/app:1", reg.host);
    let u = Ucr::new();
    let empty = u.dir.path().join("empty-dir");
    std::fs::create_dir(&empty).expect("mkdir");
    let d = empty.display().to_string();
    let creds = format!("{USER}:{PASS}");
    let base = [
        "--docker_registry",
        &d,
        "pull",
        &image,
        "--ca-file",
        &ca(&reg),
        "--creds",
        &creds,
    ];
    let out = ucr(&u, &base);
    assert_one_line_error(&out, &["--docker_registry", "fallback"]);
    let mut with = base.to_vec();
    with.insert(2, "--docker_registry_fallback");
    let out = ucr(&u, &with).ok();
    assert!(out.stdout.trim().starts_with("sha256:"), "{}", out.stdout);
    u.assert_store_ok();
    // A registry as --docker_registry replaces Docker Hub for names without a registry (Mesos).
    let remote = format!("--docker_registry=https://{}", reg.host);
    let out = ucr(
        &u,
        &[
            &remote,
            "pull",
            "fb/app:1",
            "--ca-file",
            &ca(&reg),
            "--creds",
            &creds,
        ],
    )
    .ok();
    assert!(out.stdout.trim().starts_with("sha256:"), "{}", out.stdout);
    let images = ucr(&u, &["images"]).ok();
    assert!(
        images.stdout.contains(&format!("{}/fb/app", reg.host)),
        "{}",
        images.stdout
    );
}

fn blob_member(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

/// `load` of `data` as `name` fails with one line naming `what`; nothing registered, nothing staged, the
/// store consistent; `run` of the same file fails the same way.
#[track_caller]
fn assert_load_fails(name: &str, data: &[u8], what: &[&str]) {
    let c = Containers::new();
    let path = c.dir.path().join(name);
    std::fs::write(&path, data).expect("write");
    let p = path.display().to_string();
    let out = ucr(&c, &["load", &p]);
    let mut want = vec![format!("load {p}: ")];
    want.extend(what.iter().map(|w| w.to_string()));
    assert_one_line_error(&out, &want.iter().map(String::as_str).collect::<Vec<_>>());
    let run = ucr(&c, &["run", "--rm", &format!("oci-archive:{p}"), "true"]);
    assert_one_line_error(&run, what);
    let entries = c.store_entries();
    assert!(
        !entries
            .iter()
            .any(|e| e.starts_with("images/") || e.starts_with("staging/")),
        "no image record, staging empty: {entries:?}"
    );
    c.assert_store_ok();
    assert_eq!(ucr(&c, &["images", "--json"]).ok().stdout, "");
}

#[test]
fn damaged_archives_fail_naming_the_member_and_leave_the_store_clean() {
    let img = busybox_image(ManifestFormat::Oci);
    let good = oci_archive(&[(&img, Some("example.com/bb:1"))]);
    let layer = blob_member(&img.layers[0].digest);
    let (start, size) = member_span(&good, &layer).expect("layer member");

    let mut tampered = good.clone();
    tampered[start + size / 2] ^= 0x20;
    assert_load_fails(
        "tampered.tar",
        &tampered,
        &[&format!("member {layer}: digest mismatch")],
    );

    assert_load_fails(
        "truncated.tar",
        &good[..start + size / 3],
        &[&format!("member {layer}: truncated")],
    );

    let manifest = blob_member(&img.manifest_digest);
    let (mstart, _) = member_span(&good, &manifest).expect("manifest member");
    let mut bad_manifest = good.clone();
    bad_manifest[mstart + 3] ^= 0x01;
    assert_load_fails(
        "manifest.tar",
        &bad_manifest,
        &[&format!("member {manifest}: digest mismatch")],
    );

    let gz = gzip(&good);
    assert_load_fails("cut.tar.gz", &gz[..gz.len() / 2], &["decompressing"]);
}
