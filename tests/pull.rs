//! End-to-end pull tests: the real `ucr` binary against Debian's real `docker-registry` (TLS from a CA made at
//! test time, htpasswd, a token server, client certificates, blob redirects to a second origin).

use crate::common::Ucr;
use ucr_fixtures::image::{busybox_image, multi_arch_index, ManifestFormat};
use ucr_fixtures::registry::{Registry, RegistryOptions, REDIRECT_PASS, REDIRECT_USER};
use ucr_fixtures::token::TokenConfig;

fn ca(reg: &Registry) -> String {
    reg.ca_pem_path
        .as_ref()
        .expect("tls registry")
        .display()
        .to_string()
}

#[test]
fn pull_by_tag_and_digest_over_tls_basic_with_ca_file() {
    let reg = Registry::tls_htpasswd("alice", "s3cret-pw");
    let img = busybox_image(ManifestFormat::DockerV2);
    let digest = reg.push("team/app", "1.2", &img);
    let u = Ucr::new();
    let r = format!("{}/team/app:1.2", reg.host);
    let out = u
        .run(&[
            "pull",
            &r,
            "--ca-file",
            &ca(&reg),
            "--creds",
            "alice:s3cret-pw",
        ])
        .ok();
    assert_eq!(
        out.stdout.lines().last(),
        Some(digest.as_str()),
        "digest printed last"
    );
    // Layers and blobs are in the store, verified.
    for l in &img.layers {
        let hex = l.digest.trim_start_matches("sha256:");
        assert!(
            u.store().join("blobs/sha256").join(hex).is_file(),
            "blob {} stored",
            l.digest
        );
        let diff = l.diff_id.trim_start_matches("sha256:");
        assert!(
            u.store()
                .join("layers/sha256")
                .join(diff)
                .join("fs")
                .is_dir(),
            "layer {} unpacked",
            l.diff_id
        );
    }
    let list = u.run(&["images"]).ok();
    assert!(
        list.stdout.contains(&format!("{}/team/app", reg.host)) && list.stdout.contains("1.2"),
        "{}",
        list.stdout
    );
    let by_digest = format!("{}/team/app@{digest}", reg.host);
    let out = u
        .run(&[
            "pull",
            &by_digest,
            "--ca-file",
            &ca(&reg),
            "--creds",
            "alice:s3cret-pw",
        ])
        .ok();
    assert_eq!(out.stdout.lines().last(), Some(digest.as_str()));
    let ins = u.run(&["inspect", &r, "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&ins.stdout).expect("inspect json");
    assert_eq!(v["digest"], digest.as_str());
    assert_eq!(v["config"]["Cmd"][0], "/bin/sh");
    assert_eq!(v["layers"].as_array().map(Vec::len), Some(img.layers.len()));
    // Neither a container nor an image: one line naming it.
    let none = u.run(&["inspect", &format!("{}/team/other:1", reg.host)]);
    assert_eq!(none.code, 125, "{}", none.all());
    let want = format!(
        "ucr: {}/team/other:1: no such container or image\n",
        reg.host
    );
    assert_eq!(none.stderr, want);
    u.assert_store_ok();
}

#[test]
fn wrong_password_is_an_authentication_error_naming_the_registry() {
    let reg = Registry::tls_htpasswd("alice", "right-password");
    reg.push("a", "t", &busybox_image(ManifestFormat::Oci));
    let u = Ucr::new();
    let out = u.run(&[
        "pull",
        &format!("{}/a:t", reg.host),
        "--ca-file",
        &ca(&reg),
        "--creds",
        "alice:wrong-password",
    ]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.starts_with("ucr: "), "{}", out.stderr);
    assert_eq!(
        out.stderr.trim().lines().count(),
        1,
        "one line: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&reg.host) && out.stderr.contains("authentication"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("wrong-password"));
    // No credentials at all: also an authentication error, not "not found".
    let out = u.run(&["pull", &format!("{}/a:t", reg.host), "--ca-file", &ca(&reg)]);
    assert_eq!(out.code, 125);
    assert!(
        out.stderr.contains("authentication") && out.stderr.contains(&reg.host),
        "{}",
        out.stderr
    );
}

#[test]
fn untrusted_certificate_is_refused_unless_trusted_or_insecure() {
    let reg = Registry::tls_htpasswd("u", "p");
    reg.push("a", "t", &busybox_image(ManifestFormat::DockerV2));
    let r = format!("{}/a:t", reg.host);
    let u = Ucr::new();
    let out = u.run(&["pull", &r, "--creds", "u:p"]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr.contains("not trusted") && out.stderr.contains(&reg.host),
        "{}",
        out.stderr
    );
    // Insecure for another host does not help.
    let out = u.run(&[
        "pull",
        &r,
        "--creds",
        "u:p",
        "--insecure-registry",
        "127.0.0.1:1",
    ]);
    assert_eq!(out.code, 125, "{}", out.all());
    // certs.d for this host does.
    let certs = u.dir.path().join("certs.d");
    let hostdir = certs.join(&reg.host);
    std::fs::create_dir_all(&hostdir).expect("mkdir");
    std::fs::write(hostdir.join("ca.crt"), reg.ca_pem().expect("ca")).expect("write");
    u.run(&[
        "pull",
        &r,
        "--creds",
        "u:p",
        "--certs-dir",
        &certs.display().to_string(),
    ])
    .ok();
    // And so does naming it insecure.
    let u2 = Ucr::new();
    u2.run(&[
        "pull",
        &r,
        "--creds",
        "u:p",
        "--insecure-registry",
        &reg.host,
    ])
    .ok();
}

#[test]
fn client_certificate_from_certs_d() {
    let reg = Registry::tls_client_auth();
    reg.push("mtls", "1", &busybox_image(ManifestFormat::Oci));
    let u = Ucr::new();
    let r = format!("{}/mtls:1", reg.host);
    let certs = u.dir.path().join("certs.d");
    let ca = reg.ca.as_ref().expect("ca");
    // CA only: the registry refuses the handshake.
    let hostdir = certs.join(&reg.host);
    std::fs::create_dir_all(&hostdir).expect("mkdir");
    std::fs::write(hostdir.join("ca.crt"), ca.cert_pem()).expect("write");
    let out = u.run(&["pull", &r, "--certs-dir", &certs.display().to_string()]);
    assert_eq!(out.code, 125, "{}", out.all());
    let (cert, key) = ca.client_cert("ucr-test-client");
    std::fs::write(hostdir.join("client.cert"), cert).expect("write");
    std::fs::write(hostdir.join("client.key"), key).expect("write");
    u.run(&["pull", &r, "--certs-dir", &certs.display().to_string()])
        .ok();
}

#[test]
fn token_auth_pull_and_token_cache() {
    let reg = Registry::token("tok-user", "tok-pass");
    let img = busybox_image(ManifestFormat::DockerV2);
    let digest = reg.push("private/app", "v1", &img);
    let ts = reg.token.as_ref().expect("token server");
    let before = ts.issued();
    let u = Ucr::new();
    let r = format!("{}/private/app:v1", reg.host);
    let out = u.run(&["pull", &r, "--creds", "tok-user:tok-pass"]).ok();
    assert_eq!(out.stdout.lines().last(), Some(digest.as_str()));
    // One token for the manifest, config and every layer: the cache works.
    assert_eq!(ts.issued() - before, 1, "tokens issued for one pull");
    let out = u.run(&["pull", &r, "--creds", "tok-user:bad"]);
    assert_eq!(out.code, 125);
    assert!(
        out.stderr.contains("authentication") && out.stderr.contains(&reg.host),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("tok-pass"));
}

#[test]
fn identity_token_from_docker_config() {
    let refresh = "refresh-token-for-ucr";
    let token = TokenConfig {
        identity_token: Some(refresh.into()),
        ..TokenConfig::new("idu", "idp")
    };
    let reg = Registry::start(RegistryOptions {
        token: Some(token),
        ..RegistryOptions::default()
    });
    reg.push("x", "1", &busybox_image(ManifestFormat::Oci));
    let u = Ucr::new();
    let image = format!("{}/x:1", reg.host);
    let cfg = reg.docker_config_json_identity_token(refresh);
    u.run(&["pull", &image, "--docker-config", &cfg]).ok();
    // A wrong refresh token is an authentication failure, not an anonymous pull.
    let bad = reg.docker_config_json_identity_token("not-the-token");
    let out = u.run(&["pull", &image, "--docker-config", &bad, "--force"]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("authentication"), "{}", out.stderr);
}

#[test]
fn plain_http_on_localhost_and_oci_and_index_select_host_platform() {
    let reg = Registry::plain();
    let oci = busybox_image(ManifestFormat::Oci);
    let d_oci = reg.push("oci", "1", &oci);
    let idx_docker = multi_arch_index(false);
    let idx_oci = multi_arch_index(true);
    reg.push_index("multi", "docker", &idx_docker);
    reg.push_index("multi", "oci", &idx_oci);
    let u = Ucr::new();
    let out = u.run(&["pull", &format!("{}/oci:1", reg.host)]).ok();
    assert_eq!(out.stdout.lines().last(), Some(d_oci.as_str()));
    for (tag, idx) in [("docker", &idx_docker), ("oci", &idx_oci)] {
        let want = idx
            .image_for("amd64")
            .expect("amd64 child")
            .manifest_digest
            .clone();
        let out = u
            .run(&[
                "pull",
                &format!("{}/multi:{tag}", reg.host),
                "--platform",
                "linux/amd64",
            ])
            .ok();
        assert_eq!(out.stdout.lines().last(), Some(want.as_str()), "{tag}");
        let arm = idx
            .image_for("arm64")
            .expect("arm64 child")
            .manifest_digest
            .clone();
        let u2 = Ucr::new();
        let out = u2
            .run(&[
                "pull",
                &format!("{}/multi:{tag}", reg.host),
                "--platform",
                "linux/arm64",
            ])
            .ok();
        assert_eq!(out.stdout.lines().last(), Some(arm.as_str()), "{tag}");
        let dir = u2.dir.path().join("unpacked");
        u2.run(&[
            "unpack",
            &format!("{}/multi:{tag}", reg.host),
            &dir.display().to_string(),
        ])
        .ok();
        assert_eq!(
            std::fs::read_to_string(dir.join("etc/arch")).expect("arch marker"),
            "arm64\n"
        );
    }
    // The host's platform by default (x86_64 CI machines).
    if cfg!(target_arch = "x86_64") {
        let want = idx_oci
            .image_for("amd64")
            .expect("amd64")
            .manifest_digest
            .clone();
        let u3 = Ucr::new();
        let out = u3.run(&["pull", &format!("{}/multi:oci", reg.host)]).ok();
        assert_eq!(out.stdout.lines().last(), Some(want.as_str()));
    }
    let out = u.run(&[
        "pull",
        &format!("{}/multi:oci", reg.host),
        "--platform",
        "linux/s390x",
    ]);
    assert_eq!(out.code, 125);
    assert!(out.stderr.contains("linux/s390x"), "{}", out.stderr);
}

#[test]
fn corrupted_blob_fails_naming_digest_and_keeps_nothing() {
    let reg = Registry::plain();
    let img = busybox_image(ManifestFormat::DockerV2);
    reg.push("c", "1", &img);
    let victim = &img.layers[0].digest;
    let path = reg.blob_path(victim);
    let mut data = std::fs::read(&path).expect("blob in registry storage");
    let mid = data.len() / 2;
    data[mid] ^= 0x40;
    std::fs::write(&path, &data).expect("corrupt");
    let u = Ucr::new();
    let out = u.run(&["pull", &format!("{}/c:1", reg.host)]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr.contains(victim.as_str()),
        "names the digest: {}",
        out.stderr
    );
    u.assert_nothing_of(victim, &img.layers[0].diff_id);
}

#[test]
fn blob_redirect_to_second_origin_carries_no_authorization() {
    let reg = Registry::tls_with_redirect();
    let img = busybox_image(ManifestFormat::Oci);
    reg.push("r", "1", &img);
    let origin = reg.origin.as_ref().expect("origin");
    origin.clear_requests();
    let u = Ucr::new();
    let creds = format!("{REDIRECT_USER}:{REDIRECT_PASS}");
    u.run(&[
        "pull",
        &format!("{}/r:1", reg.host),
        "--ca-file",
        &ca(&reg),
        "--creds",
        &creds,
    ])
    .ok();
    let reqs = origin.requests();
    assert!(
        reqs.len() >= img.layers.len(),
        "blobs were fetched from the second origin: {}",
        reqs.len()
    );
    for r in &reqs {
        assert!(
            r.header("authorization").is_none(),
            "Authorization leaked to {}: {:?}",
            r.path,
            r.headers
        );
    }
}

#[test]
fn credential_helper_in_path_is_used() {
    let reg = Registry::tls_htpasswd("helper-user", "helper-secret");
    reg.push("h", "1", &busybox_image(ManifestFormat::DockerV2));
    let u = Ucr::new();
    let bin = u.dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let log = u.dir.path().join("helper.log");
    let helper = bin.join("docker-credential-ucrtest");
    let script = format!(
        "#!/bin/sh\nread server\necho \"$1 $server\" >> {}\nif [ \"$server\" = \"{}\" ]; then\n  echo '{{\"ServerURL\":\"'$server'\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}}'\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
        log.display(),
        reg.host
    );
    std::fs::write(&helper, script).expect("helper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let cfg = format!(r#"{{"credHelpers":{{"{}":"ucrtest"}}}}"#, reg.host);
    let docker_dir = u.home().join(".docker");
    std::fs::create_dir_all(&docker_dir).expect("mkdir");
    std::fs::write(docker_dir.join("config.json"), cfg).expect("config");
    let mut u = u;
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    u.env.push(("PATH".into(), path));
    let out = u
        .run(&[
            "pull",
            &format!("{}/h:1", reg.host),
            "--ca-file",
            &ca(&reg),
            "--log-level",
            "trace",
        ])
        .ok();
    let called = std::fs::read_to_string(&log).expect("helper was run");
    assert!(called.contains(&format!("get {}", reg.host)), "{called}");
    assert!(
        !out.all().contains("helper-secret"),
        "secret leaked into output"
    );
}

#[test]
fn credentials_never_appear_in_output_even_at_trace() {
    let reg = Registry::tls_htpasswd("leaky", "Pa55-never-print");
    reg.push("l", "1", &busybox_image(ManifestFormat::DockerV2));
    let u = Ucr::new();
    let r = format!("{}/l:1", reg.host);
    for creds in ["leaky:Pa55-never-print", "leaky:Pa55-never-printX"] {
        let out = u.run(&[
            "pull",
            &r,
            "--ca-file",
            &ca(&reg),
            "--creds",
            creds,
            "--log-level",
            "trace",
            "--json",
        ]);
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(creds);
        assert!(!out.all().contains("Pa55-never-print"), "{}", out.all());
        assert!(!out.all().contains(&b64), "base64 credentials leaked");
    }
}

#[test]
fn warm_pull_reuses_layers_and_force_refetches_manifest_only() {
    let reg = Registry::tls_with_redirect();
    let img = busybox_image(ManifestFormat::DockerV2);
    reg.push("w", "1", &img);
    let origin = reg.origin.as_ref().expect("origin");
    let u = Ucr::new();
    let creds = format!("{REDIRECT_USER}:{REDIRECT_PASS}");
    let r = format!("{}/w:1", reg.host);
    u.run(&["pull", &r, "--ca-file", &ca(&reg), "--creds", &creds])
        .ok();
    origin.clear_requests();
    u.run(&["pull", &r, "--ca-file", &ca(&reg), "--creds", &creds])
        .ok();
    u.run(&[
        "pull",
        &r,
        "--ca-file",
        &ca(&reg),
        "--creds",
        &creds,
        "--force",
    ])
    .ok();
    assert_eq!(origin.requests().len(), 0, "no blob fetched again");
}

#[test]
fn broken_blob_download_resumes_with_range() {
    let reg = Registry::plain();
    let img = busybox_image(ManifestFormat::DockerV2);
    let digest = reg.push("flaky", "1", &img);
    // The busybox layer is ~1 MB compressed: cutting the first connection after 200 kB breaks it mid-blob.
    let proxy = ucr_fixtures::proxy::FlakyProxy::start(&reg.host, 200_000);
    let u = Ucr::new();
    let out = u
        .run(&[
            "pull",
            &format!("{}/flaky:1", proxy.addr),
            "--max-concurrent-downloads",
            "1",
        ])
        .ok();
    assert_eq!(out.stdout.lines().last(), Some(digest.as_str()));
    assert_eq!(proxy.cuts(), 1, "the download was cut once");
    let heads = proxy.request_heads();
    assert!(
        heads
            .iter()
            .any(|h| h.to_ascii_lowercase().contains("\r\nrange: bytes=")),
        "a Range request resumed the blob: {heads:#?}"
    );
    u.assert_store_ok();
}

#[test]
fn https_proxy_and_no_proxy_are_honoured() {
    let reg = Registry::tls_htpasswd("p", "q");
    reg.push("px", "1", &busybox_image(ManifestFormat::Oci));
    let proxy = ucr_fixtures::proxy::ConnectProxy::start();
    let mut u = Ucr::new();
    u.env.push(("HTTPS_PROXY".into(), proxy.url.clone()));
    let r = format!("{}/px:1", reg.host);
    u.run(&["pull", &r, "--ca-file", &ca(&reg), "--creds", "p:q"])
        .ok();
    assert!(
        proxy.tunnels().iter().any(|t| t == &reg.host),
        "went through the proxy: {:?}",
        proxy.tunnels()
    );
    let before = proxy.tunnels().len();
    let mut u2 = Ucr::new();
    u2.env.push(("HTTPS_PROXY".into(), proxy.url.clone()));
    u2.env.push(("NO_PROXY".into(), "127.0.0.1".into()));
    u2.run(&["pull", &r, "--ca-file", &ca(&reg), "--creds", "p:q"])
        .ok();
    assert_eq!(proxy.tunnels().len(), before, "NO_PROXY bypasses the proxy");
}

#[test]
fn docker_hub_images_come_from_the_mirror() {
    let mirror = Registry::plain();
    let img = busybox_image(ManifestFormat::DockerV2);
    let digest = mirror.push("library/busybox", "latest", &img);
    let u = Ucr::new();
    let out = u
        .run(&[
            "pull",
            "busybox",
            "--registry-mirror",
            &format!("http://{}", mirror.host),
        ])
        .ok();
    assert_eq!(out.stdout.lines().last(), Some(digest.as_str()));
    let list = u.run(&["images", "--json"]).ok();
    assert!(
        list.stdout.contains("docker.io/library/busybox:latest"),
        "{}",
        list.stdout
    );
}

#[test]
fn server_errors_are_retried_with_backoff_then_reported() {
    let reg = Registry::plain();
    let img = busybox_image(ManifestFormat::Oci);
    let digest = reg.push("retry", "1", &img);
    // One 503 eats the TLS probe, two more hit real requests: within the retry budget.
    let proxy = ucr_fixtures::proxy::FailingProxy::start(&reg.host, 3);
    let u = Ucr::new();
    let out = u.run(&["pull", &format!("{}/retry:1", proxy.addr)]).ok();
    assert_eq!(out.stdout.lines().last(), Some(digest.as_str()));
    assert_eq!(proxy.failed(), 3);
    // A registry that keeps failing: a clear error with the status, after the retries.
    let down = ucr_fixtures::proxy::FailingProxy::start(&reg.host, 1000);
    let out = u.run(&["pull", &format!("{}/retry:1", down.addr), "--force"]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr.contains("503") && out.stderr.contains(&down.addr),
        "{}",
        out.stderr
    );
    assert!(down.failed() >= 5, "retried: {}", down.failed());
}

/// A registry whose name does not resolve fails at once with one plain line, not after four retries with
/// coloured WARN lines. Run in a network namespace of its own (no interface up, no resolver reachable), so
/// the lookup fails here and no query leaves the machine.
#[test]
fn a_name_that_does_not_resolve_fails_at_once_in_one_plain_line() {
    let u = crate::common::Ucr::new();
    let started = std::time::Instant::now();
    let out = std::process::Command::new("unshare")
        .arg("--net")
        .arg("--")
        .arg(crate::common::UCR)
        .arg("--root")
        .arg(u.root())
        .args([
            "--log-level",
            "info",
            "pull",
            "no-such-registry.invalid/team/app:1",
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", u.home())
        .output()
        .expect("unshare");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("cannot resolve no-such-registry.invalid"),
        "{stderr}"
    );
    assert!(!stderr.contains("retrying"), "no retries: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no ANSI codes in a pipe: {stderr:?}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "at once"
    );
}
