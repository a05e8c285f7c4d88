//! The fetcher through `ucr launch`, against a real HTTPS server on loopback (Debian's docker-registry with a
//! certificate from a CA made for the test): https is verified with the same `--ca-file` as registries, only
//! HTTP 200 succeeds, a scheme ucr does not fetch is one line naming it, and a stalled download fails after
//! `--fetcher_stall_timeout`. URIs with `cache: true` go through the fetcher cache: one download for many
//! concurrent launches, per user, within its size.

use std::time::Duration;

use serde_json::json;
use ucr_fixtures::image::{busybox_image, ManifestFormat};
use ucr_fixtures::origin::Origin;
use ucr_fixtures::registry::{Registry, RegistryOptions};

use crate::common::{busybox_registry, Containers, Run, CMD_TIMEOUT};

fn launch(c: &Containers, image: &str, uri: &str, extra: &[&str]) -> Run {
    let call = json!({"type": "LAUNCH_CONTAINER", "launch_container": {
        "container_id": {"value": c.id("fetch")},
        "command": {
            "value": "grep -q schemaVersion $MESOS_SANDBOX/m.json && echo got",
            "uris": [{"value": uri, "output_file": "m.json", "extract": false}]
        },
        "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}}}
    }});
    let args = [&["launch", "--rm"], extra, &["-"]].concat();
    c.run_stdin(&args, &call.to_string())
}

#[test]
fn https_uris_are_verified_with_the_ca_file_and_only_200_succeeds() {
    let (_reg, image) = busybox_registry();
    let https = Registry::start(RegistryOptions {
        tls: true,
        ..RegistryOptions::default()
    });
    https.push("files", "1", &busybox_image(ManifestFormat::DockerV2));
    let ca = https.ca_pem_path.clone().expect("a CA");
    let ca = ca.to_str().expect("utf-8");
    let url = format!("https://{}/v2/files/manifests/1", https.host);
    let c = Containers::new();

    let out = launch(&c, &image, &url, &[]);
    assert_ne!(out.code, 0, "an unknown CA is refused: {}", out.all());
    assert!(out.stderr.contains(&url), "names the URI: {}", out.all());

    let out = launch(&c, &image, &url, &["--ca-file", ca]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "got\n"),
        "{}",
        out.all()
    );

    let missing = format!("https://{}/v2/files/manifests/nope", https.host);
    let out = launch(&c, &image, &missing, &["--ca-file", ca]);
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(out.stderr.contains("HTTP 404"), "{}", out.all());

    let out = launch(&c, &image, "hdfs://namenode/data/m.json", &[]);
    assert_ne!(out.code, 0, "{}", out.all());
    let err: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("Pulling"))
        .collect();
    assert!(
        err.len() == 1 && err[0].contains("hdfs://"),
        "{}",
        out.all()
    );
}

/// A server that answers 200 and then sends nothing more: the download fails after `--fetcher_stall_timeout`,
/// saying so, instead of holding the launch.
#[test]
fn a_stalled_download_fails_after_the_stall_timeout() {
    use std::io::{Read, Write};
    let (_reg, image) = busybox_registry();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let mut req = [0u8; 4096];
        let _ = s.read(&mut req);
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
        let _ = s.flush();
        // Hold the connection open, sending nothing, until the client gives up.
        let _ = s.set_read_timeout(Some(std::time::Duration::from_secs(20)));
        let _ = s.read(&mut req);
    });
    let c = Containers::new();
    let url = format!("http://127.0.0.1:{port}/data.bin");
    let t0 = std::time::Instant::now();
    let out = launch(&c, &image, &url, &["--fetcher-stall-timeout", "1secs"]);
    let took = t0.elapsed();
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("stalled") && out.stderr.contains("fetcher_stall_timeout"),
        "{}",
        out.all()
    );
    assert!(
        took < std::time::Duration::from_secs(15),
        "gave up after {took:?}"
    );
    server.join().expect("server");
}

/// `count` launches at once of a task that checks the fetched file's size, `cache: true`; their outputs.
fn launch_cached(
    c: &Containers,
    image: &str,
    url: &str,
    user: Option<&str>,
    count: usize,
    extra: &[&str],
) -> Vec<Run> {
    let dir = tempfile::tempdir().expect("tempdir");
    let spawned: Vec<_> = (0..count)
        .map(|i| {
            let mut call = json!({"type": "LAUNCH_CONTAINER", "launch_container": {
                "container_id": {"value": c.id("cache")},
                "command": {
                    "value": "echo $(wc -c < $MESOS_SANDBOX/big.bin)",
                    "uris": [{"value": url, "cache": true, "extract": false}]
                },
                "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}}}
            }});
            if let Some(u) = user {
                call["launch_container"]["command"]["user"] = json!(u);
            }
            let file = dir.path().join(format!("{i}.json"));
            std::fs::write(&file, call.to_string()).expect("write call");
            let file = file.to_string_lossy().into_owned();
            c.spawn(&[extra, &["launch", "--rm", &file]].concat())
        })
        .collect();
    spawned
        .into_iter()
        .map(|s| s.wait_for(Duration::from_secs(300)))
        .collect()
}

#[test]
fn concurrent_launches_of_one_cached_uri_download_it_once_and_per_user() {
    let (_reg, image) = busybox_registry();
    let files = tempfile::tempdir().expect("tempdir");
    let size = 50 << 20;
    let data: Vec<u8> = (0..size)
        .map(|i: usize| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(files.path().join("big.bin"), &data).expect("write");
    let origin = Origin::start(files.path(), "127.0.0.1");
    let url = format!("{}/big.bin", origin.base_url());
    let downloads = || {
        origin
            .requests()
            .iter()
            .filter(|r| r.path == "/big.bin" && r.method == "GET")
            .count()
    };
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], Duration::from_secs(120))
        .ok();

    for out in launch_cached(&c, &image, &url, None, 20, &[]) {
        assert_eq!(
            (out.code, out.stdout.trim()),
            (0, "52428800"),
            "{}",
            out.all()
        );
    }
    assert_eq!(downloads(), 1, "20 launches, one download");
    let cache = c.root().join("fetch-cache");
    let entries = std::fs::read_dir(&cache).expect("cache dir").flatten();
    assert_eq!(entries.filter(|e| e.file_name().len() == 64).count(), 1);

    // Another user has its own entry: one more download, then hits.
    for out in launch_cached(&c, &image, &url, Some("nobody"), 2, &[]) {
        assert_eq!(
            (out.code, out.stdout.trim()),
            (0, "52428800"),
            "{}",
            out.all()
        );
    }
    assert_eq!(downloads(), 2, "one per user");

    // A cache made smaller keeps what it has until something is added; then the least recently used entries go
    // to make room, and a file larger than the whole cache only serves its own fetch.
    let small = ["--fetcher-cache-size", "10MB"];
    let other = format!("{url}?v=2");
    for u in [&other, &url] {
        for out in launch_cached(&c, &image, u, None, 1, &small) {
            assert_eq!(
                (out.code, out.stdout.trim()),
                (0, "52428800"),
                "{}",
                out.all()
            );
        }
    }
    assert_eq!(
        downloads(),
        4,
        "both evicted: {:?}",
        origin.requests().len()
    );
    let held: u64 = std::fs::read_dir(&cache)
        .expect("cache dir")
        .flatten()
        .filter(|e| e.file_name().len() == 64)
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();
    assert!(held <= 10 << 20, "the cache holds {held} bytes");
}

#[test]
fn ucr_fetch_is_the_tasks_fetcher_on_its_own() {
    let c = Containers::new();
    let src = tempfile::tempdir().expect("tempdir");
    let data = src.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("a.txt"), "a\n").expect("write");
    let tgz = src.path().join("app.tar.gz");
    let made = std::process::Command::new("tar")
        .arg("czf")
        .arg(&tgz)
        .arg("-C")
        .arg(&data)
        .arg(".")
        .status()
        .expect("tar");
    assert!(made.success());
    let into = src.path().join("into");
    let into_s = into.to_string_lossy().into_owned();
    let uri = format!("file://{}", tgz.display());
    let out = c
        .run_for(
            &["fetch", "--json", "--extract", "--into", &into_s, &uri],
            CMD_TIMEOUT,
        )
        .ok();
    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON event per line"))
        .collect();
    assert_eq!(events[0]["event"], "done", "{}", out.stdout);
    assert_eq!(events[0]["from"], "local", "{}", out.stdout);
    assert_eq!(events[1]["event"], "extracted", "{}", out.stdout);
    assert_eq!(
        std::fs::read_to_string(into.join("a.txt")).expect("a.txt"),
        "a\n"
    );
    assert!(
        into.join("app.tar.gz").is_file(),
        "the archive stays, as Mesos's"
    );

    let out = c.run_for(
        &["fetch", "--into", &into_s, "s3://bucket/key"],
        CMD_TIMEOUT,
    );
    assert_ne!(out.code, 0);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert!(
        lines.len() == 1 && lines[0].contains("s3://"),
        "{}",
        out.all()
    );
}
