//! `ucr launch FILE|-`: which of the three request formats a JSON document is, and its parse into a
//! `ContainerConfig`.
//!
//! Detection looks only at top-level keys, most specific first: a `"type"` string is a v1 agent API call (only
//! `LAUNCH_CONTAINER` is taken), a `"task_id"` is a Mesos `TaskInfo`, an `"id"` is a Marathon app. Neither
//! TaskInfo nor a Marathon app has a top-level `type`, and a TaskInfo has no `id`, so the formats cannot be
//! confused. After detection the document is deserialized into the format's strict mirror types, tracking the
//! JSON path so errors read `container.docker.imag: unknown field ...`.

use serde_json::Value;

use super::config::ContainerConfig;
use super::error::{Result, SpecError};
use super::secrets::{FileSecrets, SecretSource};
use super::{marathon, mesos};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    LaunchContainer,
    TaskInfo,
    Marathon,
}

/// Which format `value` is; the error says what was looked for and what was found.
pub fn detect(value: &Value) -> Result<Format> {
    let obj = match value {
        Value::Object(o) => o,
        other => {
            let kind = match other {
                Value::Array(_) => "an array",
                Value::String(_) => "a string",
                Value::Number(_) => "a number",
                Value::Bool(_) => "a boolean",
                _ => "null",
            };
            return Err(SpecError::Unrecognized(format!(
                "expected a JSON object, found {kind}"
            )));
        }
    };
    if let Some(t) = obj.get("type") {
        return match t.as_str() {
            Some("LAUNCH_CONTAINER") => Ok(Format::LaunchContainer),
            Some(other) => Err(SpecError::Unrecognized(format!(
                "agent API call type {other:?} is not a launch; ucr launch takes \"LAUNCH_CONTAINER\""
            ))),
            None => Err(SpecError::Unrecognized(
                "\"type\" is not a string (an agent API call has \"type\": \"LAUNCH_CONTAINER\")".into(),
            )),
        };
    }
    if obj.contains_key("launch_container") {
        return Ok(Format::LaunchContainer);
    }
    if obj.contains_key("task_id") {
        return Ok(Format::TaskInfo);
    }
    if obj.contains_key("id") {
        return Ok(Format::Marathon);
    }
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).take(8).collect();
    if obj.len() > keys.len() {
        keys.push("...");
    }
    Err(SpecError::Unrecognized(format!(
        "looked for \"type\": \"LAUNCH_CONTAINER\" (agent API call), \"task_id\" (TaskInfo) or \"id\" \
         (Marathon app); found {}",
        if keys.is_empty() {
            "an empty object".to_string()
        } else {
            format!("keys {}", keys.join(", "))
        }
    )))
}

/// Parses a request of any of the three formats. Marathon secrets are read as files relative to the current
/// directory ([`FileSecrets`]).
pub fn parse_request(text: &str) -> Result<ContainerConfig> {
    parse_request_with(text, &FileSecrets::default())
}

/// [`parse_request`] with another source of Marathon secrets.
pub fn parse_request_with(text: &str, secrets: &dyn SecretSource) -> Result<ContainerConfig> {
    let value: Value = serde_json::from_str(text).map_err(|e| SpecError::NotJson(e.to_string()))?;
    match detect(&value)? {
        Format::LaunchContainer => mesos::parse_launch_container(text),
        Format::TaskInfo => mesos::parse_task_info(text),
        Format::Marathon => marathon::parse_marathon_app(text, secrets),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detected(s: &str) -> std::result::Result<Format, String> {
        let v: Value = serde_json::from_str(s).expect("json");
        detect(&v).map_err(|e| e.to_string())
    }

    #[test]
    fn formats() {
        assert_eq!(
            detected(r#"{"type":"LAUNCH_CONTAINER","launch_container":{}}"#),
            Ok(Format::LaunchContainer)
        );
        assert_eq!(
            detected(r#"{"task_id":{"value":"t"}}"#),
            Ok(Format::TaskInfo)
        );
        assert_eq!(detected(r#"{"id":"/a","cmd":"x"}"#), Ok(Format::Marathon));
        let e = detected(r#"{"type":"WAIT_CONTAINER"}"#).expect_err("must fail");
        assert!(
            e.contains("\"WAIT_CONTAINER\"") && e.contains("LAUNCH_CONTAINER"),
            "{e}"
        );
        let e = detected(r#"{"cmd":"x","cpus":1}"#).expect_err("must fail");
        assert!(
            e.starts_with("not a LAUNCH_CONTAINER call, TaskInfo or Marathon app: looked for")
                && e.contains("found keys cmd, cpus"),
            "{e}"
        );
        assert!(detected("[1]")
            .expect_err("must fail")
            .contains("found an array"));
    }

    #[test]
    fn not_json() {
        let e = parse_request("{\"id\":")
            .expect_err("must fail")
            .to_string();
        assert!(e.starts_with("not JSON: "), "{e}");
    }
}
