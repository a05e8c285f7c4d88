//! Mesos task groups → a `PodConfig`: what the default executor runs, as ucr runs it (a parent whose only process
//! is `ucr pause`, one nested container per task). Three shapes are read:
//! - a `LAUNCH_GROUP` operation, `{"executor": ExecutorInfo?, "task_group": {"tasks": [...]}}` (mesos.proto
//!   `Offer.Operation.LaunchGroup`), also wrapped as `{"type": "LAUNCH_GROUP", "launch_group": {...}}` as a
//!   scheduler's `ACCEPT` call writes it;
//! - a bare `TaskGroupInfo`, `{"tasks": [...]}`.
//!
//! The parent is the executor's container:
//! - its id is `executor.executor_id.value`; without an executor, the **first task's `task_id.value`** (a group
//!   has no other name of its own; the first task's child is then `<id>/<id>`);
//! - `executor.container` gives its network (`network_infos`, port mappings included), volumes and Linux
//!   settings as for any `ContainerInfo`; an image there is refused (the parent runs `ucr pause`);
//! - its resources are the executor's plus every task's (the envelope); port ranges of the tasks are the pod's,
//!   since its network is where they are mapped; the executor's `labels` are its labels;
//! - a custom executor (`type: CUSTOM`, or a `command`) is refused: there is no executor to run.
//!
//! Each task is converted as a `TaskInfo` is (`task_config`), and nested: id `<pod>/<task_id>`; in the pod's
//! network, UTS and (unless its `linux_info.ipc_mode` is PRIVATE) IPC namespaces; a task's failure kills the
//! group, as the default executor kills the other tasks. `share_cgroups`: the task's own
//! `container.linux_info.share_cgroups`, else the executor's (Marathon writes it there), else false when the task
//! has resources (its own limits under the envelope) and true when it has none. A task's `network_infos` are
//! refused: a task of a group is in its executor's network. A task id holds no `.`: the agent API's string form
//! of a nested id is `<pod>.<task>`, and a dot there could not be told from the separator (`nesting.rs`).

use serde::de::IgnoredAny;
use serde::Deserialize;

use super::container::ContainerInfo;
use super::convert::{self, labels, Store};
use super::convert_container::apply_container;
use super::nesting;
use super::types::{DurationInfo, Id, Labels, Resource};
use super::{task_config, TaskInfo};
use crate::spec::config::{ContainerConfig, NetworkSpec, Resources, Source};
use crate::spec::error::{Result, SpecError};
use crate::spec::ids::validate_id;
use crate::spec::json::{from_str_with, Unknown};
use crate::spec::pod::{pause_command, PodConfig};
use crate::spec::proto::proto_enum;

/// Any of the three shapes: the fields of the others are absent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(rename = "type")]
    kind: Option<String>,
    launch_group: Option<LaunchGroup>,
    executor: Option<ExecutorInfo>,
    task_group: Option<TaskGroupInfo>,
    tasks: Option<Vec<TaskInfo>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LaunchGroup {
    executor: Option<ExecutorInfo>,
    task_group: TaskGroupInfo,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskGroupInfo {
    #[serde(default)]
    tasks: Vec<TaskInfo>,
}

proto_enum!(ExecutorType {
    Unknown = "UNKNOWN",
    Default = "DEFAULT",
    Custom = "CUSTOM",
});

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecutorInfo {
    #[serde(rename = "type")]
    kind: Option<ExecutorType>,
    executor_id: Id,
    #[serde(rename = "framework_id")]
    _framework_id: Option<IgnoredAny>,
    /// A custom executor's command: refused.
    command: Option<IgnoredAny>,
    container: Option<ContainerInfo>,
    #[serde(default)]
    resources: Vec<Resource>,
    #[serde(rename = "name")]
    _name: Option<IgnoredAny>,
    #[serde(rename = "source")]
    _source: Option<IgnoredAny>,
    /// Opaque data for a custom executor.
    #[serde(rename = "data")]
    _data: Option<IgnoredAny>,
    /// Service discovery metadata for the master.
    #[serde(rename = "discovery")]
    _discovery: Option<IgnoredAny>,
    /// How long the agent waits for an executor to exit; the pod's kill grace is its tasks'.
    #[serde(rename = "shutdown_grace_period")]
    _shutdown_grace_period: Option<DurationInfo>,
    labels: Option<Labels>,
}

/// Parses a task group in any of the three shapes, unknown keys refused or skipped (`ucr launch` skips them, as
/// Mesos does; their JSON paths are returned and listed in the parent's `ignored`, and a task's in its own).
/// REFERENCE secrets are read from `store`, and refused without one.
pub fn parse_task_group_with(
    text: &str,
    unknown: Unknown,
    store: Store<'_>,
) -> Result<(PodConfig, Vec<String>)> {
    let (doc, ignored): (Document, _) = from_str_with(text, unknown)?;
    let (executor, tasks, at) = match doc {
        Document {
            launch_group: Some(lg),
            executor: None,
            task_group: None,
            tasks: None,
            kind,
        } => {
            if let Some(k) = kind.filter(|k| k != "LAUNCH_GROUP") {
                return Err(SpecError::field("type", format!("{k:?}: expected \"LAUNCH_GROUP\"")));
            }
            (lg.executor, lg.task_group.tasks, "launch_group.task_group.tasks")
        }
        Document {
            kind: None,
            launch_group: None,
            executor,
            task_group: Some(g),
            tasks: None,
        } => (executor, g.tasks, "task_group.tasks"),
        Document {
            kind: None,
            launch_group: None,
            executor: None,
            task_group: None,
            tasks: Some(t),
        } => (None, t, "tasks"),
        _ => {
            return Err(SpecError::Unrecognized(
                "a task group is {\"executor\", \"task_group\"}, {\"type\": \"LAUNCH_GROUP\", \"launch_group\"} \
                 or {\"tasks\"}, one shape at a time"
                    .into(),
            ))
        }
    };
    let exec_at = at.trim_end_matches("task_group.tasks").to_string() + "executor";
    let Some(first) = tasks.first() else {
        return Err(SpecError::field(
            at,
            "empty: a task group has at least one task",
        ));
    };
    let id = match &executor {
        Some(e) => {
            let field = format!("{exec_at}.executor_id.value");
            validate_id(&e.executor_id.value)
                .map_err(|e| SpecError::field(field, e.to_string()))?;
            e.executor_id.value.clone()
        }
        None => first.task_id.value.clone(),
    };
    let mut parent = ContainerConfig {
        id: id.clone(),
        source: Source::TaskInfo,
        command: pause_command(),
        ..ContainerConfig::default()
    };
    let mut default_share = None;
    if let Some(e) = executor {
        default_share = executor_container(&mut parent, e, &exec_at, store)?;
    }
    let mut children = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.into_iter().enumerate() {
        let tat = format!("{at}[{i}]");
        let mut cfg = child(task, &id, default_share, &tat, store)?;
        let prefix = format!("{tat}.");
        cfg.ignored
            .extend(ignored.iter().filter(|u| u.starts_with(&prefix)).cloned());
        // The tasks' ports are mapped on the pod's network: they are the pod's to allocate from.
        parent
            .resources
            .ports
            .extend(std::mem::take(&mut cfg.resources.ports));
        children.push(cfg);
    }
    let add = |a: Option<f64>, f: fn(&Resources) -> Option<f64>| {
        children
            .iter()
            .filter_map(|c| f(&c.resources))
            .fold(a, |sum, v| Some(sum.unwrap_or(0.0) + v))
    };
    parent.resources.cpus = add(parent.resources.cpus, |r| r.cpus);
    parent.resources.mem_mb = add(parent.resources.mem_mb, |r| r.mem_mb);
    parent.resources.disk_mb = add(parent.resources.disk_mb, |r| r.disk_mb);
    parent.resources.pids = children
        .iter()
        .filter_map(|c| c.resources.pids)
        .fold(parent.resources.pids, |sum, v| Some(sum.unwrap_or(0) + v));
    parent.kill_grace_period_secs = children
        .iter()
        .filter_map(|c| c.kill_grace_period_secs)
        .reduce(f64::max);
    parent.ignored.extend(ignored.iter().cloned());
    Ok((
        PodConfig {
            parent,
            children,
            ephemeral_volumes: Vec::new(),
        },
        ignored,
    ))
}

/// The executor onto the parent; returns the `share_cgroups` its container's `linux_info` gives the tasks.
fn executor_container(
    parent: &mut ContainerConfig,
    e: ExecutorInfo,
    at: &str,
    store: Store<'_>,
) -> Result<Option<bool>> {
    if e.kind == Some(ExecutorType::Custom) || e.command.is_some() {
        return Err(SpecError::field(
            format!("{at}.command"),
            "custom executors are not supported (the default executor's work is ucr's)",
        ));
    }
    parent.persistent_volumes =
        convert::persistent_volumes(&e.resources, &format!("{at}.resources"))?;
    parent.resources = convert::resources(e.resources, &format!("{at}.resources"))?;
    if let Some(info) = e.container {
        apply_container(parent, info, &format!("{at}.container"), store)?;
    }
    if parent.image.is_some() {
        return Err(SpecError::field(
            format!("{at}.container.mesos.image"),
            "the executor's container runs ucr pause; give images to the tasks",
        ));
    }
    parent.labels.extend(labels(e.labels));
    Ok(parent.linux.share_cgroups.take())
}

/// Task `task` at JSON path `at`, nested in `pod`.
fn child(
    task: TaskInfo,
    pod: &str,
    default_share: Option<bool>,
    at: &str,
    store: Store<'_>,
) -> Result<ContainerConfig> {
    let name = task.task_id.value.clone();
    validate_id(&name)
        .map_err(|e| SpecError::field(format!("{at}.task_id.value"), e.to_string()))?;
    if name.contains('.') {
        return Err(SpecError::field(
            format!("{at}.task_id.value"),
            format!("{name:?}: a nested container's ids must not contain '.'"),
        ));
    }
    let mut cfg = task_config(task, store).map_err(|e| within(e, at))?;
    if cfg.network != NetworkSpec::default() {
        return Err(SpecError::field(
            format!("{at}.container.network_infos"),
            "a task of a group is in its executor's network; give network_infos to the executor",
        ));
    }
    let own_share = cfg.linux.share_cgroups;
    cfg.id = format!("{pod}/{name}");
    nesting::apply(&mut cfg, at)?;
    let has_resources = cfg.resources.cpus.is_some() || cfg.resources.mem_mb.is_some();
    if let Some(n) = cfg.nesting.as_mut() {
        n.share_cgroups = own_share.or(default_share).unwrap_or(!has_resources);
        n.kills_parent = true;
    }
    Ok(cfg)
}

/// An error of the task conversion, whose paths are relative to the task, with the task's path in front.
fn within(e: SpecError, at: &str) -> SpecError {
    match e {
        SpecError::Field { path, why } if !at.is_empty() => {
            let path = if path == "(top level)" {
                at.to_string()
            } else {
                format!("{at}.{path}")
            };
            SpecError::Field { path, why }
        }
        other => other,
    }
}
