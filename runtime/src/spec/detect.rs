//! `ucr launch FILE|-`: which of the three request formats a JSON document is, and its parse into a
//! `ContainerConfig`.
//!
//! Detection looks only at top-level keys, most specific first: a `"type"` string is a v1 agent API call (only
//! `LAUNCH_CONTAINER` is taken), a `"task_id"` is a Mesos `TaskInfo`, an `"id"` is a Marathon app. Neither
//! TaskInfo nor a Marathon app has a top-level `type`, and a TaskInfo has no `id`, so the formats cannot be
//! confused. After detection the document is deserialized into the format's strict mirror types, tracking the
//! JSON path so errors read `container.docker.imag: unknown field ...`.

use serde::de::DeserializeOwned;
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
        Format::TaskInfo => mesos::parse_task_info(text, &value),
        Format::Marathon => marathon::parse_marathon_app(text, &value, secrets),
    }
}

/// Deserializes `text` into a mirror type; an error names the JSON path it happened at.
pub(crate) fn from_str_with_path<T: DeserializeOwned>(text: &str) -> Result<T> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." {
            "(top level)".to_string()
        } else {
            path
        };
        SpecError::field(path, tidy(&e.into_inner().to_string()))
    })?;
    Ok(value)
}

/// serde's message made for JSON users: double quotes instead of backticks, and for an unknown field the
/// closest known one ("did you mean") instead of a list of every field, which for a Marathon app is 50 long.
fn tidy(msg: &str) -> String {
    let msg = msg.replace('`', "\"");
    let parsed = msg.strip_prefix("unknown field \"").and_then(|rest| {
        let (field, after) = rest.split_once('"')?;
        let list = after.strip_prefix(", expected one of ")?;
        let (list, position) = match list.rsplit_once(" at line ") {
            Some((l, pos)) => (l, format!(" at line {pos}")),
            None => (list, String::new()),
        };
        let fields: Vec<&str> = list.split(", ").map(|f| f.trim_matches('"')).collect();
        Some((field.to_string(), fields, position))
    });
    let Some((field, fields, position)) = parsed else {
        return msg;
    };
    let closest = fields.iter().map(|f| (edit_distance(&field, f), *f)).min();
    match closest {
        Some((d, f)) if d <= 2 && d < field.len() => {
            format!("unknown field \"{field}\", did you mean \"{f}\"?{position}")
        }
        _ if fields.len() <= 12 => msg,
        _ => format!("unknown field \"{field}\"{position}"),
    }
}

/// Levenshtein distance, case-insensitive (`Image` is a typo of `image`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
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
    fn unknown_field_messages() {
        let many = "unknown field `imag`, expected one of `credential`, `pullConfig`, `image` at line 1 column 5";
        assert_eq!(
            tidy(many),
            "unknown field \"imag\", did you mean \"image\"? at line 1 column 5"
        );
        let few = "unknown field `zzz`, expected one of `a`, `b`";
        assert_eq!(
            tidy(few),
            "unknown field \"zzz\", expected one of \"a\", \"b\""
        );
        let list: Vec<String> = (0..20).map(|i| format!("`field{i}`")).collect();
        let long = format!("unknown field `zzz`, expected one of {}", list.join(", "));
        assert_eq!(tidy(&long), "unknown field \"zzz\"");
        assert_eq!(tidy("missing field `name`"), "missing field \"name\"");
        assert_eq!(edit_distance("shel", "shell"), 1);
    }

    #[test]
    fn not_json() {
        let e = parse_request("{\"id\":")
            .expect_err("must fail")
            .to_string();
        assert!(e.starts_with("not JSON: "), "{e}");
    }
}
