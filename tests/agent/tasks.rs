//! The agent with what tasks bring beyond a command: URIs downloaded in a launch through the agent (its
//! blocking threads run the fetcher's own runtime), and the health of a health-checked container in
//! GET_CONTAINERS, the one a Marathon app launched by the CLI runs with.

use serde_json::json;
use ucr_fixtures::origin::Origin;

use super::support::{busybox_registry, launch_json, listed, Agent};
use crate::common::CMD_TIMEOUT;

#[test]
fn a_launch_fetches_http_uris_and_get_containers_shows_health() {
    let (_reg, image) = busybox_registry();
    let files = tempfile::tempdir().expect("tempdir");
    std::fs::write(files.path().join("hello.txt"), "fetched by the agent\n").expect("write");
    let origin = Origin::start(files.path(), "127.0.0.1");
    let a = Agent::start(&[]);
    a.wait_ready();

    let id = a.c.id("agent-fetch");
    let mut call: serde_json::Value =
        serde_json::from_str(&launch_json(&id, &image, "cat $MESOS_SANDBOX/hello.txt"))
            .expect("json");
    call["launch_container"]["command"]["uris"] =
        json!([{"value": format!("{}/hello.txt", origin.base_url()), "cache": true}]);
    let l = a.call(&call.to_string());
    assert_eq!(l.status, 200, "{}", l.body);
    let w = a.wait(&id);
    assert_eq!(
        w.json()["wait_container"]["state"],
        "TASK_FINISHED",
        "{}",
        w.body
    );
    let out = a.c.run_for(&["logs", &id], CMD_TIMEOUT).ok();
    assert_eq!(out.stdout, "fetched by the agent\n");

    let app = json!({
        "id": a.c.id("agent-health"),
        "cmd": "sleep 1000",
        "container": {"type": "MESOS", "docker": {"image": image}},
        "portDefinitions": [],
        "healthChecks": [{"protocol": "COMMAND", "command": {"value": "true"},
            "gracePeriodSeconds": 0, "intervalSeconds": 1, "delaySeconds": 0}]
    });
    let out = a.c.run_stdin(&["launch", "-d", "-"], &app.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    let hc = out.stdout.trim().to_string();
    let deadline = std::time::Instant::now() + CMD_TIMEOUT;
    loop {
        let entry = listed(&a, &hc).unwrap_or_default();
        if entry["health"]["status"] == "healthy" {
            assert_eq!(
                entry["health"]["checks"][0]["protocol"], "COMMAND",
                "{entry}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never healthy: {entry}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
