//! AppC images end to end: ACIs made by `ucr_fixtures::appc`, served by a real HTTP(S) server on loopback with
//! a CA made for the test (Python's http.server), signed by the real GnuPG; fetched by simple discovery (https
//! with `--ca-file`, plain http to a host named insecure, a local directory) and by meta discovery (a page on
//! 127.0.0.43:443 with two templates); run with the app section driving the process; hostile and mismatched
//! images refused with nothing registered; a dependency chain sharing its base; Marathon and Mesos requests.

use std::path::PathBuf;

use serde_json::{json, Value};
use ucr_fixtures::appc::{self as aci, AciCompression};
use ucr_fixtures::files::FileServer;
use ucr_fixtures::gpg::Gpg;
use ucr_fixtures::image::busybox_layer;
use ucr_fixtures::layers::{self as fx, E};
use ucr_fixtures::tls::TestCa;

use crate::common::{Containers, Run};

/// A docroot served over HTTPS and plain HTTP on 127.0.0.1, and the CA of the HTTPS certificate.
struct Site {
    dir: tempfile::TempDir,
    https: FileServer,
    http: FileServer,
    ca: PathBuf,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::Builder::new()
            .prefix("ucr-appc-site-")
            .tempdir()
            .expect("site dir");
        let ca = TestCa::new();
        let (cert, key) = ca.server_cert(&["127.0.0.1", "127.0.0.43", "localhost"]);
        let tls = dir.path().join("tls");
        std::fs::create_dir(&tls).expect("tls dir");
        let (ca_path, cert_path, key_path) = (
            tls.join("ca.pem"),
            tls.join("cert.pem"),
            tls.join("key.pem"),
        );
        std::fs::write(&ca_path, ca.cert_pem()).expect("ca");
        std::fs::write(&cert_path, cert).expect("cert");
        std::fs::write(&key_path, key).expect("key");
        let www = dir.path().join("www");
        std::fs::create_dir(&www).expect("www");
        Site {
            https: FileServer::start(&www, "127.0.0.1", 0, Some((&cert_path, &key_path))),
            http: FileServer::start(&www, "127.0.0.1", 0, None),
            ca: ca_path,
            dir,
        }
    }

    fn www(&self) -> PathBuf {
        self.dir.path().join("www")
    }

    fn ca(&self) -> &str {
        self.ca.to_str().expect("utf8")
    }

    /// Publishes an ACI of `manifest` over `rootfs` (a layer tar) for simple discovery; returns (path, id).
    fn publish(&self, manifest: &Value, rootfs: &[u8], c: AciCompression) -> (PathBuf, String) {
        let tar = aci::aci_tar(manifest, rootfs);
        let name = manifest["name"].as_str().expect("name");
        let version = manifest["labels"][0]["value"].as_str().expect("version");
        let path = aci::place(&self.www(), name, version, &aci::compress(&tar, c));
        (path, aci::aci_id(&tar))
    }
}

/// busybox plus `/msg` holding `msg`.
fn rootfs_with(files: &[(&str, &str)]) -> Vec<u8> {
    let mut tar = busybox_layer();
    // Drop the two end-of-archive blocks and append more entries.
    tar.truncate(tar.len() - 1024);
    let more: Vec<E> = files.iter().map(|(p, d)| E::file(*p, *d)).collect();
    tar.extend(fx::tar(&more));
    tar
}

fn app_manifest(name: &str, version: &str) -> Value {
    let mut m = aci::manifest(
        name,
        version,
        &[
            "/bin/sh",
            "-c",
            "cat /msg; echo \"$GREETING from $(pwd) as $(id -u):$(id -g)\"",
        ],
    );
    m["app"]["user"] = json!("nobody");
    m["app"]["group"] = json!("nogroup");
    m["app"]["workingDirectory"] = json!("/tmp");
    m["app"]["environment"] = json!([{"name": "GREETING", "value": "hello"}]);
    m
}

fn ucr(c: &Containers, prefix: &str, args: &[&str]) -> Run {
    let all = [&["--appc-simple-discovery-uri-prefix", prefix], args].concat();
    c.run(&all)
}

/// AppC entries of `ucr images --json`.
fn appc_images(c: &Containers) -> Vec<Value> {
    c.run(&["images", "--json"])
        .ok()
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .filter(|v| {
            v["digest"]
                .as_str()
                .is_some_and(|d| d.starts_with("sha512-"))
        })
        .collect()
}

fn appc_staging_is_empty(c: &Containers) -> bool {
    std::fs::read_dir(c.root().join("store/appc/staging"))
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

#[test]
fn simple_discovery_over_https_http_and_a_directory_runs_every_compression() {
    let site = Site::new();
    let c = Containers::new();
    let https = site.https.url(true);
    for comp in AciCompression::ALL {
        let version = format!("1.0-{comp:?}").to_lowercase();
        let m = app_manifest("example.com/bb", &version);
        site.publish(&m, &rootfs_with(&[("msg", &format!("{comp:?}\n"))]), comp);
        let image = format!("appc:example.com/bb:{version}");
        let out = ucr(&c, &https, &["run", "--rm", "--ca-file", site.ca(), &image]).ok();
        assert_eq!(
            out.stdout,
            format!("{comp:?}\nhello from /tmp as 65534:65534\n"),
            "{}",
            out.all()
        );
    }
    // Without the CA the certificate is refused, naming the host.
    let m = app_manifest("example.com/bb", "2.0");
    site.publish(&m, &rootfs_with(&[("msg", "two\n")]), AciCompression::Gzip);
    let out = ucr(&c, &https, &["run", "--rm", "appc:example.com/bb:2.0"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("127.0.0.1"), "{}", out.all());

    // Plain HTTP: the default policy there is `require`, so an unsigned image is refused...
    let http = site.http.url(false);
    let host = format!("127.0.0.1:{}", site.http.port);
    let insecure = ["--insecure-registry", host.as_str()];
    let out = ucr(
        &c,
        &http,
        &[
            &["run", "--rm"][..],
            &insecure,
            &["appc:example.com/bb:2.0"],
        ]
        .concat(),
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("no signature at") && out.stderr.lines().count() == 1,
        "{}",
        out.all()
    );
    // ... and a signed one runs once its key is trusted.
    let gpg = Gpg::new("AppC Publisher <publisher@example.com>");
    let trust = c.dir.path().join("trust");
    gpg.trust(&trust, Some("example.com"));
    let m = app_manifest("example.com/bb", "3.0");
    let (path, _) = site.publish(&m, &rootfs_with(&[("msg", "signed\n")]), AciCompression::Xz);
    gpg.sign(&path);
    let trust_flag = ["--appc-trust-dir", trust.to_str().expect("utf8")];
    let args = [
        &trust_flag[..],
        &["run", "--rm"],
        &insecure,
        &["appc:example.com/bb:3.0"],
    ]
    .concat();
    let out = ucr(&c, &http, &args).ok();
    assert!(out.stdout.starts_with("signed\n"), "{}", out.all());
    let signed: Vec<Value> = appc_images(&c)
        .into_iter()
        .filter(|i| i["reference"] == "appc:example.com/bb:3.0")
        .collect();
    assert_eq!(
        signed[0]["signed_by"].as_str(),
        Some(gpg.fingerprint().as_str()),
        "{signed:?}"
    );

    // A local directory as the prefix.
    let m = app_manifest("example.com/local", "1");
    site.publish(
        &m,
        &rootfs_with(&[("msg", "local\n")]),
        AciCompression::Bzip2,
    );
    let dir = format!("{}/", site.www().display());
    let out = ucr(&c, &dir, &["run", "--rm", "appc:example.com/local:1"]).ok();
    assert!(out.stdout.starts_with("local\n"), "{}", out.all());
    c.run(&["store", "check"]).ok();
    assert!(appc_staging_is_empty(&c));
}

#[test]
fn meta_discovery_reads_the_page_falls_back_to_the_parent_and_tries_both_templates() {
    let site = Site::new();
    // The discovery host: 127.0.0.43:443 (meta discovery asks https://NAME?ac-discovery=1, port 443).
    let pages = site.dir.path().join("pages");
    std::fs::create_dir(&pages).expect("pages");
    let tls = site.dir.path().join("tls");
    let meta = FileServer::start(
        &pages,
        "127.0.0.43",
        443,
        Some((&tls.join("cert.pem"), &tls.join("key.pem"))),
    );
    let base = site.https.url(true);
    // Nothing at /team/worker (a 404): the parent path /team has the page.
    std::fs::write(
        pages.join("team"),
        format!(
            r#"<!DOCTYPE html><html><head>
<meta name="go-import" content="x git y">
<meta name="ac-discovery" content="127.0.0.43/team {base}missing/{{name}}-{{version}}-{{os}}-{{arch}}.{{ext}}">
<meta content="127.0.0.43/team {base}acis/{{name}}-{{version}}-{{os}}-{{arch}}.{{ext}}" name="ac-discovery">
<meta name="ac-discovery-pubkeys" content="127.0.0.43/team {base}keys/team.asc">
</head><body></body></html>"#
        ),
    )
    .expect("page");
    let name = "127.0.0.43/team/worker";
    let tar = aci::aci_tar(
        &app_manifest(name, "1.0"),
        &rootfs_with(&[("msg", "meta\n")]),
    );
    aci::place(
        &site.www().join("acis"),
        name,
        "1.0",
        &aci::compress(&tar, AciCompression::Gzip),
    );
    let c = Containers::new();
    let out = c
        .run(&[
            "run",
            "--rm",
            "--ca-file",
            site.ca(),
            &format!("appc:{name}:1.0"),
        ])
        .ok();
    assert!(out.stdout.starts_with("meta\n"), "{}", out.all());
    let asked = meta.requests();
    assert!(
        asked.iter().any(|r| r == "/team/worker?ac-discovery=1"),
        "{asked:?}"
    );
    assert!(
        asked.iter().any(|r| r == "/team?ac-discovery=1"),
        "{asked:?}"
    );
    let got = site.https.requests();
    assert!(got.iter().any(|r| r.starts_with("/missing/")), "{got:?}");
}

fn raw_aci(manifest: &Value, entries: Vec<E>) -> Vec<u8> {
    let mut all = vec![
        E::file("manifest", serde_json::to_vec(manifest).expect("json")),
        E::dir("rootfs"),
    ];
    all.extend(entries);
    fx::tar(&all)
}

#[test]
fn wrong_ids_bad_signatures_and_hostile_acis_are_refused_and_nothing_is_registered() {
    let site = Site::new();
    let c = Containers::new();
    let https = site.https.url(true);
    let run = |image: &str, extra: &[&str]| {
        let args = [extra, &["run", "--rm", "--ca-file", site.ca(), image]].concat();
        ucr(&c, &https, &args)
    };
    let one_line = |out: &Run, says: &str| {
        assert_ne!(out.code, 0, "{}", out.all());
        assert!(out.stderr.contains(says), "want {says:?}: {}", out.all());
        assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.all());
    };
    let m = app_manifest("example.com/id", "1");
    let (path, id) = site.publish(&m, &rootfs_with(&[("msg", "x\n")]), AciCompression::Gzip);
    let wrong = format!("sha512-{}", "0".repeat(128));
    let out = run(&format!("appc:example.com/id:1@{wrong}"), &[]);
    one_line(&out, &wrong);
    assert!(out.stderr.contains(&id), "names both ids: {}", out.all());

    // A signature by a trusted key over other bytes.
    let gpg = Gpg::new("Signer <s@example.com>");
    let trust = c.dir.path().join("trust");
    gpg.trust(&trust, None);
    let other = site.dir.path().join("other");
    std::fs::write(&other, b"other bytes").expect("other");
    std::fs::copy(gpg.sign(&other), format!("{}.asc", path.display())).expect("asc");
    let trust_flag = ["--appc-trust-dir", trust.to_str().expect("utf8")];
    one_line(&run("appc:example.com/id:1", &trust_flag), "signature");
    // Unsigned under `require` (over HTTPS the default would be if-present).
    let m = app_manifest("example.com/unsigned", "1");
    site.publish(&m, &rootfs_with(&[]), AciCompression::Gzip);
    one_line(
        &run(
            "appc:example.com/unsigned:1",
            &["--appc-signature-policy", "require"],
        ),
        "no signature at",
    );

    let outside = site.dir.path().join("outside");
    std::fs::create_dir(&outside).expect("outside");
    let hostile: Vec<(&str, Vec<E>, &str)> = vec![
        (
            "third",
            vec![E::file("etc/passwd", "x")],
            "only `manifest` and `rootfs/`",
        ),
        (
            "dotdot",
            vec![E::file("rootfs/../../outside/x", "x")],
            "`..`",
        ),
        (
            "symlink",
            vec![
                E::symlink("rootfs/evil", outside.to_str().expect("utf8")),
                E::file("rootfs/evil/x", "x"),
            ],
            "rootfs/evil/x",
        ),
        ("device", vec![E::char_dev("rootfs/mem", 1, 1)], "device"),
    ];
    for (what, entries, says) in hostile {
        let m = app_manifest(&format!("example.com/{what}"), "1");
        let tar = raw_aci(&m, entries);
        aci::place(
            &site.www(),
            &format!("example.com/{what}"),
            "1",
            &aci::compress(&tar, AciCompression::Gzip),
        );
        one_line(&run(&format!("appc:example.com/{what}:1"), &[]), says);
    }
    assert!(
        std::fs::read_dir(&outside)
            .expect("outside")
            .next()
            .is_none(),
        "nothing written outside"
    );
    assert!(
        appc_images(&c).is_empty(),
        "nothing registered: {:?}",
        appc_images(&c)
    );
    assert!(appc_staging_is_empty(&c));
    c.run(&["store", "check"]).ok();
}

fn dep(name: &str, version: &str) -> Value {
    json!({"imageName": name, "labels": [{"name": "version", "value": version}]})
}

#[test]
fn a_three_level_chain_runs_shares_its_base_and_honours_a_path_whitelist() {
    let site = Site::new();
    let c = Containers::new();
    let https = site.https.url(true);
    let base = aci::manifest("example.com/base", "1", &["/bin/sh"]);
    site.publish(&base, &busybox_layer(), AciCompression::Gzip);
    let mut mid = aci::manifest("example.com/mid", "1", &["/bin/sh"]);
    mid["dependencies"] = json!([dep("example.com/base", "1")]);
    site.publish(
        &mid,
        &fx::tar(&[E::dir("etc"), E::file("etc/mid", "mid\n")]),
        AciCompression::Xz,
    );
    let mut top = aci::manifest(
        "example.com/top",
        "1",
        &["/bin/sh", "-c", "cat /etc/mid /top"],
    );
    top["dependencies"] = json!([dep("example.com/mid", "1")]);
    site.publish(
        &top,
        &fx::tar(&[E::file("top", "top\n")]),
        AciCompression::Bzip2,
    );
    let mut other = aci::manifest("example.com/other", "1", &["/bin/echo", "other"]);
    other["dependencies"] = json!([dep("example.com/base", "1")]);
    site.publish(
        &other,
        &fx::tar(&[E::file("other", "o")]),
        AciCompression::None,
    );
    let mut slim = aci::manifest(
        "example.com/slim",
        "1",
        &["/bin/sh", "-c", "ls /bin; cat /etc/mid"],
    );
    slim["dependencies"] = json!([dep("example.com/mid", "1")]);
    slim["pathWhitelist"] = json!([
        "/bin",
        "/bin/busybox",
        "/bin/sh",
        "/bin/ls",
        "/bin/cat",
        "/etc",
        "/etc/mid"
    ]);
    site.publish(
        &slim,
        &fx::tar(&[E::file("slim", "s")]),
        AciCompression::Gzip,
    );

    let run = |image: &str| ucr(&c, &https, &["run", "--rm", "--ca-file", site.ca(), image]);
    assert_eq!(run("appc:example.com/top:1").ok().stdout, "mid\ntop\n");
    assert_eq!(run("appc:example.com/other:1").ok().stdout, "other\n");
    let out = run("appc:example.com/slim:1").ok();
    assert_eq!(out.stdout, "busybox\ncat\nls\nsh\nmid\n", "{}", out.all());
    let images = appc_images(&c);
    let bases = images
        .iter()
        .filter(|i| i["reference"] == "appc:example.com/base:1")
        .count();
    assert_eq!((images.len(), bases), (5, 1), "{images:?}");
    let dirs = std::fs::read_dir(c.root().join("store/appc/images"))
        .expect("images")
        .count();
    assert_eq!(dirs, 5, "one store entry per image, the base shared");
    let out = c.run(&["rmi", "appc:example.com/base:1"]);
    assert!(
        out.code != 0 && out.stderr.contains("needed by"),
        "{}",
        out.all()
    );
    c.run(&["prune", "--all"]).ok();
    assert!(appc_images(&c).is_empty());
}

#[test]
fn a_marathon_app_and_a_mesos_launch_run_appc_images_unchanged() {
    let site = Site::new();
    let c = Containers::new();
    let m = app_manifest("example.com/svc", "1.0.0");
    let (_, id) = site.publish(&m, &rootfs_with(&[("msg", "svc\n")]), AciCompression::Gzip);
    let app = json!({"id": "/appc-app", "cmd": "cat /msg && echo $GREETING", "cpus": 0.1, "mem": 32,
        "container": {"type": "MESOS", "appc": {"image": "example.com/svc", "id": id,
                      "labels": {"version": "1.0.0"}, "forcePullImage": false}}});
    let file = c.dir.path().join("app.json");
    std::fs::write(&file, app.to_string()).expect("app");
    let prefix = site.https.url(true);
    let out = ucr(
        &c,
        &prefix,
        &[
            "launch",
            "--rm",
            "--ca-file",
            site.ca(),
            file.to_str().expect("utf8"),
        ],
    )
    .ok();
    assert_eq!(out.stdout, "svc\nhello\n", "{}", out.all());
    let call = json!({"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": {"value": c.id("appc")},
        "command": {"shell": false},
        "container": {"type": "MESOS", "mesos": {"image": {"type": "APPC", "appc": {
            "name": "example.com/svc", "id": id,
            "labels": {"labels": [{"key": "version", "value": "1.0.0"}, {"key": "os", "value": "linux"},
                                   {"key": "arch", "value": aci::host_arch()}]}}}}}}});
    let out = c.run_stdin(
        &[
            "--appc-simple-discovery-uri-prefix",
            &prefix,
            "launch",
            "--rm",
            "--ca-file",
            site.ca(),
            "-",
        ],
        &call.to_string(),
    );
    let out = out.ok();
    assert!(
        out.stdout.starts_with("svc\nhello from /tmp"),
        "{}",
        out.all()
    );
}

#[test]
fn a_loaded_aci_runs_offline_inspects_and_saves_back_byte_for_byte() {
    let c = Containers::new();
    let m = app_manifest("example.com/offline", "1");
    let tar = aci::aci_tar(&m, &rootfs_with(&[("msg", "offline\n")]));
    let file = c.dir.path().join("offline.aci");
    std::fs::write(&file, aci::compress(&tar, AciCompression::Xz)).expect("aci");
    let out = c.run(&["load", file.to_str().expect("utf8")]).ok();
    let id = aci::aci_id(&tar);
    assert!(out.stdout.contains(&id), "{}", out.all());
    // No prefix, no network: the store has it.
    let out = c.run(&["run", "--rm", "appc:example.com/offline:1"]).ok();
    assert!(out.stdout.starts_with("offline\n"), "{}", out.all());
    let out = c.run(&["inspect", &id[..40]]).ok();
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["manifest"]["name"], "example.com/offline");
    let saved = c.dir.path().join("saved.aci");
    c.run(&[
        "save",
        "appc:example.com/offline:1",
        "-o",
        saved.to_str().expect("utf8"),
    ])
    .ok();
    assert_eq!(
        std::fs::read(&saved).expect("saved"),
        std::fs::read(&file).expect("file")
    );
    c.run(&["rmi", "appc:example.com/offline:1"]).ok();
    assert!(appc_images(&c).is_empty());
    let out = c.run(&["load", saved.to_str().expect("utf8")]).ok();
    assert!(
        out.stdout.contains(&id),
        "the same id after a round trip: {}",
        out.all()
    );
}

#[test]
fn the_agent_launches_an_appc_image_and_pruning_keeps_what_a_live_container_stands_on() {
    let site = Site::new();
    let base = aci::manifest("example.com/base", "1", &["/bin/sh"]);
    site.publish(&base, &busybox_layer(), AciCompression::Gzip);
    let mut app = app_manifest("example.com/svc", "1");
    app["dependencies"] = json!([dep("example.com/base", "1")]);
    site.publish(
        &app,
        &fx::tar(&[E::file("msg", "agent\n")]),
        AciCompression::Gzip,
    );
    let prefix = site.https.url(true);
    let a = crate::agent::support::Agent::start(&[
        "--appc-simple-discovery-uri-prefix",
        &prefix,
        "--ca-file",
        site.ca(),
    ]);
    // `ucr pull` of the same store first: the agent then finds it there.
    let out =
        a.c.run(&[
            "--appc-simple-discovery-uri-prefix",
            &prefix,
            "pull",
            "--ca-file",
            site.ca(),
            "appc:example.com/svc:1",
        ])
        .ok();
    assert!(out.stdout.trim().starts_with("sha512-"), "{}", out.all());
    let id = a.c.id("appc-agent");
    let call = json!({"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": {"value": id},
        "command": {"shell": true, "value": "cat /msg; sleep 1000"},
        "container": {"type": "MESOS", "mesos": {"image": {"type": "APPC", "appc": {
            "name": "example.com/svc", "labels": {"labels": [{"key": "version", "value": "1"}]}}}}}}});
    let ans = a.call(&call.to_string());
    assert_eq!(ans.status, 200, "{}", ans.body);
    a.c.wait_running(&id);
    let ans = a.call(r#"{"type":"PRUNE_IMAGES"}"#);
    assert_eq!(ans.status, 200, "{}", ans.body);
    assert_eq!(
        appc_images(&a.c).len(),
        2,
        "the image and its base stay while the container runs"
    );
    let kill = json!({"type": "KILL_CONTAINER", "kill_container": {"container_id": {"value": id}}});
    assert_eq!(a.call(&kill.to_string()).status, 200);
    let ans = a.wait(&id);
    assert_eq!(ans.status, 200, "{}", ans.body);
    let ans = a.call(r#"{"type":"PRUNE_IMAGES"}"#);
    assert_eq!(ans.status, 200, "{}", ans.body);
    assert!(appc_images(&a.c).is_empty(), "{:?}", appc_images(&a.c));
}

#[test]
fn the_copy_backend_provisions_a_dependency_chain_too() {
    let site = Site::new();
    let c = Containers::new();
    let base = aci::manifest("example.com/base", "1", &["/bin/sh"]);
    site.publish(&base, &busybox_layer(), AciCompression::Gzip);
    let mut top = aci::manifest("example.com/top", "1", &["/bin/cat", "/top"]);
    top["dependencies"] = json!([dep("example.com/base", "1")]);
    site.publish(
        &top,
        &fx::tar(&[E::file("top", "copied\n")]),
        AciCompression::Gzip,
    );
    let prefix = site.https.url(true);
    let out = c
        .run(&[
            "--appc-simple-discovery-uri-prefix",
            &prefix,
            "--image-provisioner-backend",
            "copy",
            "run",
            "--rm",
            "--ca-file",
            site.ca(),
            "appc:example.com/top:1",
        ])
        .ok();
    assert_eq!(out.stdout, "copied\n", "{}", out.all());
}
