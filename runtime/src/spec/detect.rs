//! `ucr launch FILE|-`: which of the three request formats a JSON document is, and its parse into a
//! `ContainerConfig`.
//!
//! Detection looks only at top-level keys, most specific first: a `"type"` string is a v1 agent API call (only
//! `LAUNCH_CONTAINER` is taken), a `"task_id"` is a Mesos `TaskInfo`, an `"id"` is a Marathon app. Neither
//! TaskInfo nor a Marathon app has a top-level `type`, and a TaskInfo has no `id`, so the formats cannot be
//! confused. After detection the document is deserialized into the format's mirror types, tracking the JSON
//! path so errors read `container.docker.image: missing field ...`. Fields a format does not know are skipped,
//! as Marathon's and Mesos's own readers skip them, and reported ([`Parsed::warning`]); the Marathon reader's
//! other tolerances are in `marathon/lenient.rs`.

use serde_json::Value;

use super::config::ContainerConfig;
use super::error::{Result, SpecError};
use super::ids::marathon_container_id;
use super::json::Unknown;
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

/// A request read: its config, and the fields its format does not know, which were skipped.
#[derive(Debug)]
pub struct Parsed {
    /// The unknown fields are at the end of its `ignored` too.
    pub config: ContainerConfig,
    /// JSON paths of the unknown fields (`container.docker.requirePorts`).
    pub unknown: Vec<String>,
    /// What the request is, for messages: `app /group/web`, `task t1`, `container c1`.
    pub subject: String,
}

impl Parsed {
    /// The one line naming every unknown field, or None when there is none: `app /b: unknown fields ignored: foo,
    /// container.docker.type`.
    pub fn warning(&self) -> Option<String> {
        if self.unknown.is_empty() {
            return None;
        }
        let s = if self.unknown.len() == 1 { "" } else { "s" };
        Some(format!(
            "{}: unknown field{s} ignored: {}",
            self.subject,
            self.unknown.join(", ")
        ))
    }
}

/// Parses a request of any of the three formats. Marathon secrets are read as files relative to the current
/// directory ([`FileSecrets`]).
pub fn parse_request(text: &str) -> Result<ContainerConfig> {
    read_request_with(text, &FileSecrets::default()).map(|p| p.config)
}

/// [`parse_request`] with another source of Marathon secrets.
pub fn parse_request_with(text: &str, secrets: &dyn SecretSource) -> Result<ContainerConfig> {
    read_request_with(text, secrets).map(|p| p.config)
}

/// [`parse_request`], keeping the unknown fields apart for a warning.
pub fn read_request(text: &str) -> Result<Parsed> {
    read_request_with(text, &FileSecrets::default())
}

/// [`read_request`] with another source of Marathon secrets (Mesos REFERENCE secrets are refused).
pub fn read_request_with(text: &str, secrets: &dyn SecretSource) -> Result<Parsed> {
    read(text, secrets, None)
}

/// [`read_request`] with a secret store (`--secrets-dir`): Marathon secret sources and Mesos REFERENCE secrets
/// are both read from it.
pub fn read_request_with_store(text: &str, store: &dyn SecretSource) -> Result<Parsed> {
    read(text, store, Some(store))
}

fn read(text: &str, secrets: &dyn SecretSource, store: mesos::Store<'_>) -> Result<Parsed> {
    let value: Value = serde_json::from_str(text).map_err(|e| SpecError::NotJson(e.to_string()))?;
    let (config, unknown, subject) = match detect(&value)? {
        Format::LaunchContainer => {
            let (cfg, unknown) = mesos::parse_launch_container_with(text, Unknown::Ignore, store)?;
            let subject = format!("container {}", cfg.id);
            (cfg, unknown, subject)
        }
        Format::TaskInfo => {
            let (cfg, unknown) = mesos::parse_task_info_with(text, Unknown::Ignore, store)?;
            let subject = format!("task {}", cfg.id);
            (cfg, unknown, subject)
        }
        Format::Marathon => {
            let (cfg, unknown) = marathon::parse_marathon_app_with(text, secrets)?;
            // The app id as Marathon shows it (`b` → `/b`); it parsed, so the fallback is never taken.
            let app_id = value
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| marathon_container_id(id).ok())
                .map_or_else(|| cfg.id.clone(), |(_, app_id)| app_id);
            (cfg, unknown, format!("app {app_id}"))
        }
    };
    Ok(Parsed {
        config,
        unknown,
        subject,
    })
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
