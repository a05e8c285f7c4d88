//! The agent's content negotiation as libprocess's (MESOS-AGENT-API.md §1.1): `Accept` with q-values, and
//! answers of 1 KiB or more gzipped for a client that accepts gzip, with curl as the client.

use super::support::{Agent, Answer};

/// A call with extra curl `args` (headers, `--compressed`).
fn call_with(a: &Agent, args: &[&str], body: &str) -> Answer {
    let mut all = vec!["-H", "Content-Type: application/json"];
    all.extend_from_slice(args);
    all.extend(["--data-binary", body, "http://agent/api/v1"]);
    a.curl(&all)
}

/// The ids GET_CONTAINERS lists (what else it says, its statistics, changes from call to call).
fn ids(a: &Answer) -> Vec<String> {
    let mut ids: Vec<String> = a.json()["get_containers"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["container_id"]["value"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[test]
fn accept_q_values_and_gzipped_answers_as_libprocess() {
    let a = Agent::start(&[]);
    a.wait_ready();
    // Containers enough for GET_CONTAINERS to answer more than 1 KiB.
    for n in 0..4 {
        let id = a.c.id(&format!("gzip-{n}"));
        let launch = format!(
            r#"{{"type":"LAUNCH_CONTAINER","launch_container":{{"container_id":{{"value":"{id}"}},"command":{{"value":"sleep 300"}}}}}}"#
        );
        let l = a.call(&launch);
        assert_eq!(l.status, 200, "{}", l.body);
    }
    let listed = r#"{"type":"GET_CONTAINERS","get_containers":{"show_standalone":true}}"#;
    let plain = a.call(listed);
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert!(
        plain.body.len() >= 1024,
        "long enough to gzip: {}",
        plain.body
    );
    assert_eq!(ids(&plain).len(), 4, "{}", plain.body);
    assert!(
        !plain.headers.contains("content-encoding"),
        "{}",
        plain.headers
    );

    // curl asks for gzip and inflates what comes: the same answer.
    let zipped = call_with(&a, &["--compressed"], listed);
    assert_eq!(zipped.status, 200, "{}", zipped.body);
    assert!(
        zipped.headers.contains("content-encoding: gzip"),
        "{}",
        zipped.headers
    );
    assert_eq!(ids(&zipped), ids(&plain));
    // The bytes on the wire are gzip's (its magic), fewer than the JSON's.
    let raw = std::process::Command::new("curl")
        .arg("--unix-socket")
        .arg(a.socket())
        .args([
            "-s",
            "-H",
            "Content-Type: application/json",
            "-H",
            "Accept-Encoding: gzip",
        ])
        .args(["--data-binary", listed, "http://agent/api/v1"])
        .output()
        .expect("curl");
    assert_eq!(raw.stdout.get(..2), Some(&[0x1f, 0x8b][..]));
    assert!(raw.stdout.len() < plain.body.len());

    // Refused by q=0, or only offered as something else: as it is.
    for refused in ["gzip;q=0", "identity", "*;q=0", ""] {
        let header = format!("Accept-Encoding: {refused}");
        let r = call_with(&a, &["-H", &header], listed);
        assert_eq!(r.status, 200, "{refused}");
        assert!(
            !r.headers.contains("content-encoding"),
            "{refused}: {}",
            r.headers
        );
        assert_eq!(ids(&r), ids(&plain), "{refused}");
    }
    // A short answer goes as it is.
    let health = call_with(&a, &["--compressed"], r#"{"type":"GET_HEALTH"}"#);
    assert_eq!(health.status, 200);
    assert!(
        !health.headers.contains("content-encoding"),
        "{}",
        health.headers
    );
    assert_eq!(health.json()["get_health"]["healthy"], true);

    // Accept: the first entry that names JSON decides, by its q.
    for (accept, status) in [
        ("application/json;q=0", 406),
        ("application/json;q=0, */*", 406),
        ("*/*;q=0", 406),
        ("application/json;q=0.5", 200),
        ("text/html, */*;q=0.1", 200),
        ("application/*", 200),
    ] {
        let header = format!("Accept: {accept}");
        let r = call_with(&a, &["-H", &header], r#"{"type":"GET_HEALTH"}"#);
        assert_eq!(r.status, status, "{accept}: {}", r.body);
    }
    // A stream needs its type named with a q above 0.
    let w = r#"{"type":"ATTACH_CONTAINER_OUTPUT","attach_container_output":{"container_id":{"value":"x"}}}"#;
    let r = call_with(
        &a,
        &["-H", "Accept: application/recordio;q=0, application/json"],
        w,
    );
    assert_eq!(r.status, 406, "{}", r.body);
}
