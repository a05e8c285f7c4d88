//! The pull under registry faults (issue 18 item 2), through `ucr_fixtures::faults::FaultProxy` in front of
//! Debian's real `docker-registry`. Each fault either lets the pull complete (resuming with Range where the
//! registry allows it) or fails it with one line naming the host and the blob, within the bound each test
//! states; after each, `store check` is clean and a second pull works (the lock was released).

use std::time::{Duration, Instant};

use ucr_fixtures::faults::{Fault, FaultProxy, Silent};
use ucr_fixtures::image::{
    busybox_layer, random_files_layer, Compression, ImageBuilder, ManifestFormat,
};
use ucr_fixtures::registry::Registry;

use crate::common::{Run, Ucr};

/// busybox and two layers of ~1 MiB random files, on a plain-HTTP registry.
fn registry() -> Registry {
    let reg = Registry::plain();
    let mut b = ImageBuilder::new().layer_tar(busybox_layer(), Compression::Gzip);
    for i in 0..2 {
        b = b.layer_tar(random_files_layer(500 + i, 50, 1 << 20), Compression::Gzip);
    }
    reg.push("faulty", "1", &b.build(ManifestFormat::Oci));
    reg
}

struct Case {
    reg: Registry,
    proxy: FaultProxy,
    u: Ucr,
}

fn case(fault: Fault) -> Case {
    let reg = registry();
    let proxy = FaultProxy::start(&reg.host, fault);
    Case {
        reg,
        proxy,
        u: Ucr::new(),
    }
}

impl Case {
    fn pull(&self, extra: &[&str]) -> (Run, Duration) {
        let image = format!("{}/faulty:1", self.proxy.host);
        let t = Instant::now();
        let out = self.u.run(&[&["pull", &image][..], extra].concat());
        (out, t.elapsed())
    }

    /// `store check` clean, and a pull straight from the registry works.
    fn after(&self) {
        self.u.assert_store_ok();
        self.u
            .run(&["pull", &format!("{}/faulty:1", self.reg.host)])
            .ok();
        self.u.assert_store_ok();
    }
}

/// The pull failed with one error line naming `host` and `says`; any line before it is one plain retry line.
#[track_caller]
fn failed_in_one_line(out: &Run, host: &str, says: &str) {
    assert_ne!(out.code, 0, "{}", out.all());
    let lines: Vec<&str> = out.stderr.trim_end().lines().collect();
    let (err, before) = lines.split_last().expect("an error line");
    assert!(err.starts_with("ucr: "), "{}", out.all());
    assert!(
        err.contains(host) && err.contains(says),
        "want {host} and {says:?}: {err}"
    );
    for l in before {
        assert!(
            l.contains("WARN") && l.contains("retrying"),
            "only retry lines before: {l}"
        );
        assert!(!l.contains('\u{1b}'), "plain: {l:?}");
    }
}

#[test]
fn a_reset_mid_blob_resumes_with_range() {
    let c = case(Fault::Reset { after: 200_000 });
    c.pull(&[]).0.ok();
    assert!(
        c.proxy
            .requests()
            .iter()
            .any(|r| r.contains("bytes=200000-")),
        "{:?}",
        c.proxy.requests()
    );
    c.after();
}

#[test]
fn a_burst_of_503s_is_retried() {
    let c = case(Fault::ServerErrors { count: 3 });
    c.pull(&[]).0.ok();
    c.after();
}

#[test]
fn a_429_is_retried_after_its_retry_after() {
    let c = case(Fault::TooMany {
        count: 1,
        retry_after: 2,
    });
    let (out, took) = c.pull(&[]);
    out.ok();
    assert!(
        took >= Duration::from_secs(2),
        "waited the Retry-After: {took:?}"
    );
    c.after();
}

#[test]
fn a_429_asking_for_an_hour_fails_at_once() {
    let c = case(Fault::TooMany {
        count: 1,
        retry_after: 3600,
    });
    let (out, took) = c.pull(&[]);
    failed_in_one_line(
        &out,
        &c.proxy.host,
        "429 Too Many Requests (retry after 3600 s)",
    );
    assert!(
        out.stderr.contains("/blobs/sha256:"),
        "names the blob: {}",
        out.stderr
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    c.after();
}

#[test]
fn a_stall_resumes_after_the_stall_timeout() {
    let c = case(Fault::Stall { after: 100_000 });
    let (out, took) = c.pull(&["--stall-timeout", "2secs"]);
    out.ok();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(20),
        "{took:?}"
    );
    c.after();
}

#[test]
fn a_content_length_shorter_than_the_blob_is_resumed() {
    let c = case(Fault::ShortLength { missing: 5000 });
    c.pull(&[]).0.ok();
    assert!(
        c.proxy.requests().iter().any(|r| r.contains("bytes=")),
        "{:?}",
        c.proxy.requests()
    );
    c.after();
}

#[test]
fn a_body_longer_than_the_blob_fails_naming_the_blob() {
    let c = case(Fault::Longer { extra: 100 });
    let (out, _) = c.pull(&[]);
    failed_in_one_line(&out, "sha256:", "more than");
    // The fault was the first blob's only: the same pull through the proxy now works.
    c.pull(&[]).0.ok();
    c.after();
}

#[test]
fn a_trickle_is_ended_by_the_pull_timeout() {
    let c = case(Fault::Trickle);
    let (out, took) = c.pull(&["--pull-timeout", "3secs"]);
    failed_in_one_line(&out, &c.proxy.host, "did not finish within 3 s");
    assert!(took < Duration::from_secs(8), "{took:?}");
    c.after();
}

#[test]
fn a_redirect_loop_fails_naming_the_blob() {
    let c = case(Fault::RedirectLoop);
    let (out, took) = c.pull(&[]);
    failed_in_one_line(&out, &c.proxy.host, "too many redirects");
    assert!(out.stderr.contains("/blobs/sha256:"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("retrying"),
        "a loop is not retried: {}",
        out.stderr
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    c.after();
}

#[test]
fn a_tls_handshake_that_never_finishes_fails_within_the_stall_timeout_and_retries() {
    let silent = Silent::start();
    let u = Ucr::new();
    let t = Instant::now();
    let out = u.run(&[
        "pull",
        &format!("{}/x:1", silent.host),
        "--stall-timeout",
        "1secs",
    ]);
    let took = t.elapsed();
    failed_in_one_line(&out, &silent.host, "");
    // Five attempts of at most 1 s each, with backoff between them.
    assert!(took < Duration::from_secs(12), "{took:?}");
    u.assert_store_ok();
}
