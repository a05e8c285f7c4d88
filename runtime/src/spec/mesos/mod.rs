//! The two Mesos request formats `ucr launch` takes: the v1 agent API call `LAUNCH_CONTAINER` (what the agent's
//! `POST /api/v1` receives) and a `TaskInfo` (what `mesos-execute --task` takes), both as protobuf JSON with
//! mesos.proto field names and enum names. An unknown enum value is an error naming its JSON path. Unknown fields
//! are skipped by `ucr launch` and the agent, as Mesos's own JSON → protobuf reader skips them (clients send
//! newer fields), and reported: the `_with` parsers return their JSON paths and list them in the config's
//! `ignored`. The mirrors still deny them, which is how the reader finds them (`json::from_str_with`).

pub mod container;
pub mod convert;
pub mod convert_container;
mod health;
mod image;
mod nesting;
pub mod task_group;
#[cfg(test)]
mod task_group_tests;
pub mod types;

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

use self::container::ContainerInfo;
pub use self::convert::Store;
use self::types::{
    CommandInfo, ContainerId, DurationInfo, HealthCheck, Id, KillPolicy, Labels, LimitValue,
    Resource,
};
use super::config::{ContainerConfig, Source};
use super::error::{Result, SpecError};
use super::ids::validate_id;
use super::json::{from_str_with, Unknown};

/// `mesos.v1.agent.Call` holding a `LAUNCH_CONTAINER`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Call {
    #[serde(rename = "type")]
    _kind: String,
    launch_container: Option<LaunchContainer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LaunchContainer {
    container_id: ContainerId,
    command: Option<CommandInfo>,
    #[serde(default)]
    resources: Vec<Resource>,
    container: Option<ContainerInfo>,
    #[serde(default)]
    limits: BTreeMap<String, LimitValue>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaskInfo {
    /// Required by mesos.proto; a display name with no effect on what runs.
    #[serde(rename = "name")]
    _name: String,
    task_id: Id,
    /// Required by mesos.proto, but `mesos-execute --task` documents that it need not be set.
    #[serde(rename = "agent_id")]
    _agent_id: Option<Id>,
    #[serde(default)]
    resources: Vec<Resource>,
    /// Custom executors: not supported, an error when present.
    executor: Option<IgnoredAny>,
    command: Option<CommandInfo>,
    container: Option<ContainerInfo>,
    /// Validated here; the config keeps the JSON as given.
    health_check: Option<HealthCheck>,
    /// Checks report status only; ucr has no status updates to attach them to.
    #[serde(rename = "check")]
    _check: Option<IgnoredAny>,
    kill_policy: Option<KillPolicy>,
    /// Opaque executor data; there is no executor.
    #[serde(rename = "data")]
    _data: Option<IgnoredAny>,
    labels: Option<Labels>,
    /// Service discovery metadata for the master; nothing to do locally.
    #[serde(rename = "discovery")]
    _discovery: Option<IgnoredAny>,
    max_completion_time: Option<DurationInfo>,
    #[serde(default)]
    limits: BTreeMap<String, LimitValue>,
}

/// Parses a `{"type":"LAUNCH_CONTAINER","launch_container":{...}}` call.
pub fn parse_launch_container(text: &str) -> Result<ContainerConfig> {
    parse_launch_container_with(text, Unknown::Refuse, None).map(|(cfg, _)| cfg)
}

/// [`parse_launch_container`], with unknown keys refused or skipped (`ucr launch` and the agent API skip them, as
/// Mesos does; their JSON paths are returned, and listed in the config's `ignored`).
/// REFERENCE secrets are read from `store` (`--secrets-dir`), and refused without one.
pub fn parse_launch_container_with(
    text: &str,
    unknown: Unknown,
    store: Store<'_>,
) -> Result<(ContainerConfig, Vec<String>)> {
    let (call, ignored): (Call, _) = from_str_with(text, unknown)?;
    let lc = call.launch_container.ok_or_else(|| {
        SpecError::field(
            "launch_container",
            "missing (a LAUNCH_CONTAINER call carries it)",
        )
    })?;
    const P: &str = "launch_container";
    let id = nesting::container_id(&lc.container_id, &format!("{P}.container_id"))?;
    let mut cfg = ContainerConfig {
        id,
        source: Source::LaunchContainer,
        ..ContainerConfig::default()
    };
    let (command, secret_env) = convert::command(
        lc.command.unwrap_or_default(),
        &format!("{P}.command"),
        store,
    )?;
    cfg.command = command;
    cfg.secret_env = secret_env;
    cfg.persistent_volumes = convert::persistent_volumes(&lc.resources, &format!("{P}.resources"))?;
    cfg.resources = convert::resources(lc.resources, &format!("{P}.resources"))?;
    cfg.limits = convert::limits(lc.limits, &cfg.resources, &format!("{P}.limits"))?;
    if let Some(info) = lc.container {
        convert_container::apply_container(&mut cfg, info, &format!("{P}.container"), store)?;
    }
    nesting::apply(&mut cfg, P)?;
    cfg.ignored.extend(ignored.iter().cloned());
    Ok((cfg, ignored))
}

/// Parses a `TaskInfo`. The container id is `task_id.value`.
pub fn parse_task_info(text: &str) -> Result<ContainerConfig> {
    parse_task_info_with(text, Unknown::Refuse, None).map(|(cfg, _)| cfg)
}

/// [`parse_task_info`], with unknown keys refused or skipped (`ucr launch` skips them, as Mesos does; their JSON
/// paths are returned, and listed in the config's `ignored`).
pub fn parse_task_info_with(
    text: &str,
    unknown: Unknown,
    store: Store<'_>,
) -> Result<(ContainerConfig, Vec<String>)> {
    let (task, ignored): (TaskInfo, _) = from_str_with(text, unknown)?;
    let mut cfg = task_config(task, store)?;
    cfg.ignored.extend(ignored.iter().cloned());
    Ok((cfg, ignored))
}

/// A `TaskInfo` read → its config; JSON paths in errors are relative to the task (`command.value`).
pub(crate) fn task_config(task: TaskInfo, store: Store<'_>) -> Result<ContainerConfig> {
    if task.executor.is_some() {
        return Err(SpecError::field(
            "executor",
            "custom executors are not supported; give the task a command",
        ));
    }
    if task.max_completion_time.is_some() {
        return Err(SpecError::field("max_completion_time", "not supported"));
    }
    let command = task.command.ok_or_else(|| {
        SpecError::field(
            "command",
            "missing: ucr runs command tasks (a TaskInfo without a command needs an executor)",
        )
    })?;
    let id = task.task_id.value;
    validate_id(&id).map_err(|e| SpecError::field("task_id.value", e.to_string()))?;
    let mut cfg = ContainerConfig {
        id,
        source: Source::TaskInfo,
        ..ContainerConfig::default()
    };
    let (command, secret_env) = convert::command(command, "command", store)?;
    cfg.command = command;
    cfg.secret_env = secret_env;
    cfg.persistent_volumes = convert::persistent_volumes(&task.resources, "resources")?;
    cfg.resources = convert::resources(task.resources, "resources")?;
    cfg.limits = convert::limits(task.limits, &cfg.resources, "limits")?;
    if let Some(info) = task.container {
        convert_container::apply_container(&mut cfg, info, "container", store)?;
    }
    // Labels after the container: a docker `label` parameter adds to them, the TaskInfo's own win.
    cfg.labels.extend(convert::labels(task.labels));
    if let Some(hc) = task.health_check {
        cfg.health_checks
            .push(health::health_check(hc, "health_check", store)?);
    }
    if let Some(grace) = task.kill_policy.and_then(|k| k.grace_period) {
        cfg.kill_grace_period_secs = Some(convert::seconds(&grace, "kill_policy.grace_period")?);
    }
    Ok(cfg)
}
