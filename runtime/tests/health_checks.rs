//! Health checks as the request parsers read them (TASK-SEMANTICS.md §4.3): Marathon's defaults and its two
//! rule sets (HTTP/HTTPS/TCP from the host with 0 = never kill; MESOS_* and COMMAND inside with 0 = kill on the
//! first failure), Mesos's proto defaults, and one-line errors naming the field.

use serde_json::{json, Value};
use ucr_runtime::spec::health::{CheckPort, HealthCheck, Probe, Side};
use ucr_runtime::spec::parse_request;

fn app(checks: Value) -> String {
    json!({
        "id": "/web", "cmd": "sleep 1", "container": {"type": "MESOS", "docker": {"image": "busybox"}},
        "portDefinitions": [{"port": 0}, {"port": 0}], "healthChecks": checks
    })
    .to_string()
}

fn marathon(check: Value) -> Result<HealthCheck, String> {
    parse_request(&app(json!([check])))
        .map(|c| c.health_checks[0].clone())
        .map_err(|e| e.to_string())
}

fn task(check: Value) -> Result<HealthCheck, String> {
    let t = json!({
        "name": "t", "task_id": {"value": "t1"}, "agent_id": {"value": "a"}, "resources": [],
        "command": {"value": "sleep 1"}, "health_check": check
    });
    parse_request(&t.to_string())
        .map(|c| c.health_checks[0].clone())
        .map_err(|e| e.to_string())
}

#[test]
fn marathon_defaults_and_rules_per_protocol() {
    let h = marathon(json!({})).expect("default HTTP");
    assert_eq!(h.protocol(), "HTTP");
    assert_eq!(
        (h.grace_secs, h.interval_secs, h.timeout_secs, h.delay_secs),
        (300.0, 60.0, 20.0, 15.0)
    );
    assert_eq!((h.kill_after, h.side), (Some(3), Side::Host));
    match &h.probe {
        Probe::Http { path, port, .. } => {
            assert_eq!((path.as_str(), *port), ("/", CheckPort::Index(0)))
        }
        p => panic!("{p:?}"),
    }
    // Marathon's own checks: 0 never kills. The Mesos executor's: 0 kills on the first failure.
    let h = marathon(json!({"protocol": "TCP", "maxConsecutiveFailures": 0, "portIndex": 1}))
        .expect("TCP");
    assert_eq!((h.kill_after, h.protocol()), (None, "TCP"));
    assert!(matches!(
        h.probe,
        Probe::Tcp {
            port: CheckPort::Index(1),
            ..
        }
    ));
    let h = marathon(json!({"protocol": "MESOS_HTTPS", "maxConsecutiveFailures": 0, "port": 8443}))
        .expect("MESOS_HTTPS");
    assert_eq!(
        (h.kill_after, h.side, h.protocol()),
        (Some(1), Side::Container, "MESOS_HTTPS")
    );
    assert!(matches!(
        h.probe,
        Probe::Http {
            https: true,
            port: CheckPort::Number(8443),
            ..
        }
    ));
    let h = marathon(json!({"protocol": "COMMAND", "command": {"value": "curl -f localhost"}}))
        .expect("COMMAND");
    assert_eq!((h.side, h.kill_after), (Side::Container, Some(3)));
}

#[test]
fn mesos_health_check_defaults_are_the_protos() {
    let h = task(json!({"type": "HTTP", "http": {"port": 8080, "path": "/ok"}})).expect("HTTP");
    assert_eq!(
        (
            h.delay_secs,
            h.interval_secs,
            h.timeout_secs,
            h.grace_secs,
            h.kill_after
        ),
        (15.0, 10.0, 20.0, 10.0, Some(3))
    );
    assert_eq!((h.side, h.protocol()), (Side::Container, "MESOS_HTTP"));
    let h = task(
        json!({"type": "COMMAND", "command": {"shell": false, "value": "/bin/true",
        "arguments": ["true"]}, "consecutive_failures": 0}),
    )
    .expect("COMMAND");
    assert_eq!(h.kill_after, Some(1), "0 kills on the first failure");
}

#[test]
fn mistakes_are_one_line_naming_the_field() {
    for (check, field) in [
        (json!({"portIndex": 2}), "healthChecks[0].portIndex"),
        (json!({"path": "no-slash"}), "healthChecks[0].path"),
        (json!({"protocol": "COMMAND"}), "healthChecks[0].command"),
        (
            json!({"protocol": "TCP", "command": {"value": "x"}}),
            "healthChecks[0].command",
        ),
        (
            json!({"intervalSeconds": 0}),
            "healthChecks[0].intervalSeconds",
        ),
        (json!({"protocol": "GRPC"}), "healthChecks[0].protocol"),
    ] {
        let e = marathon(check.clone()).expect_err("refused");
        assert!(e.contains(field) && !e.contains('\n'), "{check}: {e}");
    }
    for (check, field) in [
        (json!({"type": "HTTP"}), "health_check.http"),
        (
            json!({"type": "TCP", "tcp": {"port": 70000}}),
            "health_check.tcp.port",
        ),
        (
            json!({"type": "HTTP", "http": {"port": 1, "scheme": "ftp"}}),
            "health_check.http.scheme",
        ),
        (
            json!({"type": "COMMAND", "command": {"value": "x", "user": "other"}}),
            "health_check.command.user",
        ),
        (json!({"http": {"port": 1}}), "health_check.type"),
    ] {
        let e = task(check.clone()).expect_err("refused");
        assert!(e.contains(field) && !e.contains('\n'), "{check}: {e}");
    }
}
