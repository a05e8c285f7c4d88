//! `ucr launch FILE|-`: which of the request formats a JSON document is, and its parse into a `ContainerConfig`
//! (one container) or a `PodConfig` (a pod: a parent and its nested containers).
//!
//! Detection looks only at top-level keys, most specific first: a `"type"` string is a v1 API call or operation
//! (`LAUNCH_CONTAINER`, or `LAUNCH_GROUP` for a task group), a `"launch_container"` is a call without its type,
//! a `"task_group"` (or `"launch_group"`) is a task group, a `"task_id"` is a Mesos `TaskInfo`, an `"id"` is
//! Marathon's — a pod when it has a `"containers"` array, which no app has at its top level (app.raml), else an
//! app — and a `"tasks"` array without an `"id"` is a bare `TaskGroupInfo` (an app fetched from Marathon has a
//! `tasks` array too, beside its `id`). Neither TaskInfo nor Marathon's documents have a top-level `type`, and
//! a TaskInfo has no `id`, so the formats cannot be confused. After detection the document is deserialized
//! into the format's mirror types, tracking the JSON path so errors read `container.docker.image: missing field
//! ...`. Fields a format does not know are skipped, as Marathon's and Mesos's own readers skip them, and
//! reported ([`Parsed::warning`], [`ParsedPod::warning`]); the Marathon reader's other tolerances are in
//! `marathon/lenient.rs`.
//!
//! [`read_any`] and its variants take every format; [`read_request`] and its variants take the single-container
//! ones and refuse a pod by name.

use serde_json::Value;

use super::config::ContainerConfig;
use super::error::{Result, SpecError};
use super::ids::marathon_container_id;
use super::json::Unknown;
use super::marathon::pod::parse_marathon_pod_with;
use super::mesos::task_group::parse_task_group_with;
use super::pod::PodConfig;
use super::secrets::{FileSecrets, SecretSource};
use super::{marathon, mesos};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    LaunchContainer,
    TaskInfo,
    Marathon,
    /// A Marathon pod definition.
    MarathonPod,
    /// A Mesos task group: a `LAUNCH_GROUP` operation or a bare `TaskGroupInfo`.
    TaskGroup,
}

impl Format {
    /// Whether the format is a pod (a parent and its nested containers) rather than one container.
    pub fn is_pod(self) -> bool {
        matches!(self, Format::MarathonPod | Format::TaskGroup)
    }
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
            Some("LAUNCH_GROUP") => Ok(Format::TaskGroup),
            Some(other) => Err(SpecError::Unrecognized(format!(
                "agent API call type {other:?} is not a launch; ucr launch takes \"LAUNCH_CONTAINER\" (or a \
                 \"LAUNCH_GROUP\" operation)"
            ))),
            None => Err(SpecError::Unrecognized(
                "\"type\" is not a string (an agent API call has \"type\": \"LAUNCH_CONTAINER\")".into(),
            )),
        };
    }
    if obj.contains_key("launch_container") {
        return Ok(Format::LaunchContainer);
    }
    if obj.contains_key("task_group") || obj.contains_key("launch_group") {
        return Ok(Format::TaskGroup);
    }
    if obj.contains_key("task_id") {
        return Ok(Format::TaskInfo);
    }
    if obj.contains_key("id") {
        if obj.get("containers").is_some_and(Value::is_array) {
            return Ok(Format::MarathonPod);
        }
        return Ok(Format::Marathon);
    }
    if obj.get("tasks").is_some_and(Value::is_array) {
        return Ok(Format::TaskGroup);
    }
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).take(8).collect();
    if obj.len() > keys.len() {
        keys.push("...");
    }
    Err(SpecError::Unrecognized(format!(
        "looked for \"type\": \"LAUNCH_CONTAINER\" (agent API call), \"task_id\" (TaskInfo), \"id\" \
         (Marathon app, or pod with \"containers\"), \"task_group\" or \"tasks\" (task group); found {}",
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
        warning(&self.subject, &self.unknown)
    }
}

/// A pod read: its parent and children, and the fields its format does not know, which were skipped.
#[derive(Debug)]
pub struct ParsedPod {
    /// The unknown fields are at the end of its parent's `ignored` too.
    pub pod: PodConfig,
    /// JSON paths of the unknown fields (`containers[0].image.force`).
    pub unknown: Vec<String>,
    /// What the request is, for messages: `pod /group/db`, `task group e1`.
    pub subject: String,
}

impl ParsedPod {
    /// As [`Parsed::warning`]: `pod /p: unknown field ignored: containers[0].image.force`.
    pub fn warning(&self) -> Option<String> {
        warning(&self.subject, &self.unknown)
    }
}

/// Any request `ucr launch` takes: one container, or a pod.
#[derive(Debug)]
pub enum Request {
    Container(Parsed),
    Pod(ParsedPod),
}

impl Request {
    pub fn warning(&self) -> Option<String> {
        match self {
            Request::Container(p) => p.warning(),
            Request::Pod(p) => p.warning(),
        }
    }

    pub fn subject(&self) -> &str {
        match self {
            Request::Container(p) => &p.subject,
            Request::Pod(p) => &p.subject,
        }
    }
}

fn warning(subject: &str, unknown: &[String]) -> Option<String> {
    if unknown.is_empty() {
        return None;
    }
    let s = if unknown.len() == 1 { "" } else { "s" };
    Some(format!(
        "{subject}: unknown field{s} ignored: {}",
        unknown.join(", ")
    ))
}

/// Reads a request of any format, a pod included. Marathon secrets are read as files relative to the current
/// directory ([`FileSecrets`]); Mesos REFERENCE secrets are refused.
pub fn read_any(text: &str) -> Result<Request> {
    read_any_with(text, &FileSecrets::default())
}

/// [`read_any`] with another source of Marathon secrets.
pub fn read_any_with(text: &str, secrets: &dyn SecretSource) -> Result<Request> {
    read_any_from(text, secrets, None)
}

/// [`read_any`] with a secret store (`--secrets-dir`): Marathon secret sources and Mesos REFERENCE secrets are
/// both read from it.
pub fn read_any_with_store(text: &str, store: &dyn SecretSource) -> Result<Request> {
    read_any_from(text, store, Some(store))
}

fn read_any_from(
    text: &str,
    secrets: &dyn SecretSource,
    store: mesos::Store<'_>,
) -> Result<Request> {
    let value: Value = serde_json::from_str(text).map_err(|e| SpecError::NotJson(e.to_string()))?;
    let format = detect(&value)?;
    if !format.is_pod() {
        return read(text, secrets, store).map(Request::Container);
    }
    let (pod, unknown) = match format {
        Format::MarathonPod => parse_marathon_pod_with(text, secrets)?,
        _ => parse_task_group_with(text, Unknown::Ignore, store)?,
    };
    let subject = pod_subject(&value, format, &pod.parent.id);
    Ok(Request::Pod(ParsedPod {
        pod,
        unknown,
        subject,
    }))
}

/// `pod /group/db` (the pod id as Marathon shows it) or `task group <parent id>`.
fn pod_subject(value: &Value, format: Format, parent: &str) -> String {
    match format {
        Format::MarathonPod => {
            let pod_id = value
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| marathon_container_id(id).ok())
                .map_or_else(|| parent.to_string(), |(_, pod_id)| pod_id);
            format!("pod {pod_id}")
        }
        _ => format!("task group {parent}"),
    }
}

/// Parses a request of any of the three single-container formats. Marathon secrets are read as files relative to the current
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
        pod @ (Format::MarathonPod | Format::TaskGroup) => {
            return Err(not_one_container(&value, pod))
        }
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

/// The error of a single-container reader given a pod: names the pod and the field that makes it one.
fn not_one_container(value: &Value, format: Format) -> SpecError {
    let (field, count) = match format {
        Format::MarathonPod => ("containers", value.get("containers")),
        _ => match value.get("tasks") {
            Some(t) => ("tasks", Some(t)),
            None => (
                "task_group",
                value
                    .pointer("/task_group/tasks")
                    .or_else(|| value.pointer("/launch_group/task_group/tasks")),
            ),
        },
    };
    let n = count.and_then(Value::as_array).map_or(0, Vec::len);
    let id = match format {
        Format::MarathonPod => value
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        _ => value
            .pointer("/executor/executor_id/value")
            .or_else(|| value.pointer("/launch_group/executor/executor_id/value"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    };
    let what = if format == Format::MarathonPod {
        "the Marathon pod"
    } else {
        "the task group"
    };
    SpecError::field(
        field,
        format!(
            "{what} {id:?} is a pod ({n} container{}), not one container: read it as a pod (read_any)",
            if n == 1 { "" } else { "s" }
        ),
    )
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
            e.starts_with(
                "not a LAUNCH_CONTAINER call, TaskInfo, Marathon app or pod, or task group: looked for"
            )
                && e.contains("found keys cmd, cpus"),
            "{e}"
        );
        assert!(detected("[1]")
            .expect_err("must fail")
            .contains("found an array"));
    }

    #[test]
    fn pods_and_task_groups_told_from_the_single_container_formats() {
        let pod = r#"{"id":"/p","containers":[{"name":"a","resources":{}}]}"#;
        assert_eq!(detected(pod), Ok(Format::MarathonPod));
        // An app fetched from Marathon has `tasks` beside its `id`; an app never has `containers`.
        assert_eq!(
            detected(r#"{"id":"/a","cmd":"x","tasks":[]}"#),
            Ok(Format::Marathon)
        );
        assert_eq!(
            detected(r#"{"id":"/a","cmd":"x","containers":null}"#),
            Ok(Format::Marathon)
        );
        assert_eq!(detected(r#"{"tasks":[]}"#), Ok(Format::TaskGroup));
        assert_eq!(
            detected(r#"{"executor":{},"task_group":{"tasks":[]}}"#),
            Ok(Format::TaskGroup)
        );
        assert_eq!(
            detected(r#"{"type":"LAUNCH_GROUP","launch_group":{}}"#),
            Ok(Format::TaskGroup)
        );
        assert_eq!(
            detected(r#"{"task_id":{"value":"t"},"name":"t"}"#),
            Ok(Format::TaskInfo)
        );
    }

    #[test]
    fn single_container_readers_refuse_a_pod_by_name() {
        let pod = r#"{"id":"/web","containers":[{"name":"a","resources":{}},{"name":"b","resources":{}}]}"#;
        let e = read_request(pod).expect_err("a pod").to_string();
        assert_eq!(
            e,
            "containers: the Marathon pod \"/web\" is a pod (2 containers), not one container: read it as a pod \
             (read_any)"
        );
        let group = r#"{"executor":{"executor_id":{"value":"e1"}},"task_group":{"tasks":[{}]}}"#;
        let e = read_request(group).expect_err("a group").to_string();
        assert!(
            e.starts_with("task_group: the task group \"e1\" is a pod (1 container)"),
            "{e}"
        );
    }

    #[test]
    fn read_any_reads_both_kinds() {
        let app = r#"{"id":"/a","cmd":"x"}"#;
        assert!(matches!(read_any(app), Ok(Request::Container(_))));
        let pod = r#"{"id":"/g/p","containers":[{"name":"a","resources":{},"exec":{"command":{"shell":"x"}},"bogus":1}]}"#;
        let Ok(Request::Pod(p)) = read_any(pod) else {
            panic!("a pod")
        };
        assert_eq!(p.subject, "pod /g/p");
        assert_eq!(
            p.warning().as_deref(),
            Some("pod /g/p: unknown field ignored: containers[0].bogus")
        );
        let group = r#"{"tasks":[{"name":"t","task_id":{"value":"t1"},"command":{"value":"x"}}]}"#;
        let Ok(Request::Pod(g)) = read_any(group) else {
            panic!("a group")
        };
        assert_eq!(g.subject, "task group t1");
        assert_eq!(g.warning(), None);
    }

    #[test]
    fn not_json() {
        let e = parse_request("{\"id\":")
            .expect_err("must fail")
            .to_string();
        assert!(e.starts_with("not JSON: "), "{e}");
    }
}
