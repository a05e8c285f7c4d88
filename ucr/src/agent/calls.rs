//! The calls ucr's agent serves, each as Mesos answers it (MESOS-AGENT-API.md §1.2). The containerizer is
//! blocking (a launch is a sequence of checkpointed steps), so every call that touches containers runs on the
//! runtime's blocking threads; waits and streams are async loops over the checkpoints.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use serde_json::{json, Value};
use ucr_runtime::spec::validate_id;
use ucr_runtime::{ContainerError, State};

use super::reply::{blocking, not_found, Reply};
use super::state::Agent;
use super::{attach, images, launch, wait};

pub async fn dispatch(agent: &Arc<Agent>, kind: &str, call: &Value, body: &Bytes) -> Reply {
    match kind {
        "GET_HEALTH" => Reply::ok(json!({"type": "GET_HEALTH", "get_health": {"healthy": true}})),
        "GET_VERSION" => Reply::ok(json!({
            "type": "GET_VERSION",
            "get_version": {"version_info": {"version": env!("CARGO_PKG_VERSION"), "build_user": "ucr"}},
        })),
        "GET_FLAGS" => {
            let flags: Vec<Value> = agent
                .flags
                .iter()
                .map(|(n, v)| json!({"name": n, "value": v}))
                .collect();
            Reply::ok(json!({"type": "GET_FLAGS", "get_flags": {"flags": flags}}))
        }
        "GET_CONTAINERS" => get_containers(agent, call).await,
        "GET_STATE" => Reply::ok(json!({"type": kind, "get_state": no_state()})),
        "GET_TASKS" => Reply::ok(json!({"type": kind, "get_tasks": no_tasks()})),
        "GET_EXECUTORS" => Reply::ok(json!({"type": kind, "get_executors": no_executors()})),
        "GET_FRAMEWORKS" => Reply::ok(json!({"type": kind, "get_frameworks": no_frameworks()})),
        "LAUNCH_CONTAINER" => match payload(call, "launch_container") {
            Ok(_) => launch::launch(agent, body).await,
            Err(r) => r,
        },
        "WAIT_CONTAINER" => match target(call, "wait_container") {
            Ok(id) => wait::wait(agent, id, wait::Shape::Current).await,
            Err(r) => r,
        },
        "KILL_CONTAINER" => kill(agent, call, "kill_container").await,
        "REMOVE_CONTAINER" => remove(agent, call, "remove_container").await,
        // The deprecated calls of nested containers: the same, for an id that must have a parent.
        "LAUNCH_NESTED_CONTAINER" => match nested_launch(call) {
            Ok(body) => launch::launch(agent, &body).await,
            Err(r) => r,
        },
        "WAIT_NESTED_CONTAINER" => match nested_target(call, "wait_nested_container") {
            Ok(id) => wait::wait(agent, id, wait::Shape::Nested).await,
            Err(r) => r,
        },
        "KILL_NESTED_CONTAINER" => match nested_target(call, "kill_nested_container") {
            Ok(_) => kill(agent, call, "kill_nested_container").await,
            Err(r) => r,
        },
        "REMOVE_NESTED_CONTAINER" => match nested_target(call, "remove_nested_container") {
            Ok(_) => remove(agent, call, "remove_nested_container").await,
            Err(r) => r,
        },
        "PRUNE_IMAGES" => images::prune(agent, call).await,
        "ATTACH_CONTAINER_OUTPUT" => match target(call, "attach_container_output") {
            Ok(id) => attach::output(agent, id).await,
            Err(r) => r,
        },
        other => Reply::error(
            StatusCode::NOT_IMPLEMENTED,
            format!("Unsupported call {other}: ucr's agent serves container calls only (see INTERFACE.md)"),
        ),
    }
}

// GET_STATE and its parts. The agent runs standalone containers only, launched by the operator API, never a
// framework's task or executor, and Mesos lists none of those in these answers (MESOS-AGENT-API.md): each list
// is empty, in the shape Mesos's agent writes, every field an array even when empty (`Http::jsonifyGetTasks`,
// src/slave/http.cpp), so a client that reads the agent's state gets the truth, not a 501.

fn no_state() -> Value {
    json!({
        "get_tasks": no_tasks(),
        "get_executors": no_executors(),
        "get_frameworks": no_frameworks(),
    })
}

fn no_tasks() -> Value {
    json!({
        "pending_tasks": [],
        "queued_tasks": [],
        "launched_tasks": [],
        "terminated_tasks": [],
        "completed_tasks": [],
    })
}

fn no_executors() -> Value {
    json!({"executors": [], "completed_executors": []})
}

fn no_frameworks() -> Value {
    json!({"frameworks": [], "completed_frameworks": []})
}

/// `<field>` of the call, which Mesos requires for its type.
pub fn payload<'a>(call: &'a Value, field: &str) -> Result<&'a Value, Reply> {
    call.get(field).filter(|v| !v.is_null()).ok_or_else(|| {
        Reply::error(
            StatusCode::BAD_REQUEST,
            format!("Failed to validate agent::Call: Expecting '{field}' to be present"),
        )
    })
}

/// The container a call is about: its ucr id, `<parent>/<child>` for a nested one (each level checked as Mesos's
/// `validateContainerId`).
fn container_id(call: &Value, field: &str) -> Result<String, Reply> {
    let p = payload(call, field)?;
    let bad = |why: String| {
        Reply::error(
            StatusCode::BAD_REQUEST,
            format!("'{field}.container_id' is invalid: {why}"),
        )
    };
    let cid = p.get("container_id").filter(|v| !v.is_null()).ok_or_else(|| {
        Reply::error(
            StatusCode::BAD_REQUEST,
            format!("Failed to validate agent::Call: Expecting '{field}.container_id' to be present"),
        )
    })?;
    let mut chain = Vec::new();
    let mut cur = Some(cid);
    while let Some(c) = cur {
        let value = c
            .get("value")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("'value' must be a string".into()))?;
        validate_id(value).map_err(|e| bad(e.to_string()))?;
        chain.push(value);
        cur = c.get("parent").filter(|p| !p.is_null());
    }
    if chain.len() > 1 && chain.iter().any(|v| v.contains('.')) {
        return Err(bad("a nested container's ids must not contain '.'".into()));
    }
    chain.reverse();
    Ok(chain.join("/"))
}

/// The container a call is about, or the reply to send instead: 400 when the id is malformed.
pub fn target(call: &Value, field: &str) -> Result<String, Reply> {
    container_id(call, field)
}

/// The target of a deprecated `*_NESTED_CONTAINER` call, which must name a parent.
fn nested_target(call: &Value, field: &str) -> Result<String, Reply> {
    let id = container_id(call, field)?;
    if !id.contains('/') {
        return Err(Reply::error(
            StatusCode::BAD_REQUEST,
            format!("'{field}.container_id' is invalid: Expecting 'parent' to be present"),
        ));
    }
    Ok(id)
}

/// LAUNCH_NESTED_CONTAINER as the LAUNCH_CONTAINER it is (no resources: Mesos's deprecated call has none).
fn nested_launch(call: &Value) -> Result<Bytes, Reply> {
    const F: &str = "launch_nested_container";
    nested_target(call, F)?;
    let mut p = payload(call, F)?.clone();
    if let Some(o) = p.as_object_mut() {
        o.retain(|k, _| matches!(k.as_str(), "container_id" | "command" | "container"));
    }
    let body = json!({"type": "LAUNCH_CONTAINER", "launch_container": p});
    Ok(Bytes::from(body.to_string()))
}

/// `<field>.container_id.value` as written, unchecked ("" when absent): for messages and the log line.
pub fn written_id(call: &Value, field: &str) -> String {
    call.get(field)
        .and_then(|p| p.get("container_id"))
        .and_then(|c| c.get("value"))
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string()
}

async fn kill(agent: &Arc<Agent>, call: &Value, field: &str) -> Reply {
    let id = match target(call, field) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let signal = match call[field].get("signal") {
        None | Some(Value::Null) => libc::SIGKILL,
        Some(v) => match v.as_i64().and_then(|n| i32::try_from(n).ok()) {
            Some(n) if nix::sys::signal::Signal::try_from(n).is_ok() => n,
            _ => {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    format!("'{field}.signal' is invalid: {v} is not a signal number"),
                )
            }
        },
    };
    let c = agent.c.clone();
    let gone = || {
        Reply::error(
            StatusCode::NOT_FOUND,
            format!("Container '{id}' cannot be found (or is already killed)"),
        )
    };
    match c.container(&id) {
        Ok(st) if st.state == State::Exited => return gone(),
        Ok(_) => {}
        Err(ContainerError::NotFound(_)) => return gone(),
        Err(e) => return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    // A container with no task yet is destroyed: the launch stops at its next step and undoes what it did.
    let (killer, target) = (c.clone(), id.clone());
    match blocking(move || killer.kill(&target, signal)).await {
        Ok(Ok(())) => Reply::empty(StatusCode::OK),
        Ok(Err(e)) => match c.container(&id) {
            // It ended, or was removed, between the look above and the signal (its parent's kill beside this
            // one): the answer it would have had a moment later.
            Ok(st) if st.state == State::Exited => gone(),
            Err(ContainerError::NotFound(_)) => gone(),
            _ => Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Unable to send signal to container: {e}"),
            ),
        },
        Err(r) => r,
    }
}

/// What agent.proto documents (and Mesos never did for a standalone container): an exited container's
/// sandbox and runtime dir are removed. A live one is refused with 400, never a crash.
async fn remove(agent: &Arc<Agent>, call: &Value, field: &str) -> Reply {
    let id = match target(call, field) {
        Ok(id) => id,
        Err(r) => return r,
    };
    // Mesos: removing a nested container whose parent is gone (and took it along) succeeds.
    if let Some((parent, _)) = id.rsplit_once('/') {
        if !agent.c.exists(parent) {
            return Reply::empty(StatusCode::OK);
        }
    }
    match agent.c.container(&id) {
        Ok(st) if st.is_live() => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                format!(
                    "Container {id} has not terminated yet (state {}): kill it first",
                    st.state.as_str()
                ),
            )
        }
        Ok(_) => {}
        Err(ContainerError::NotFound(_)) => return not_found(&id),
        Err(e) => return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let c = agent.c.clone();
    let metrics = agent.clone();
    match blocking(move || c.remove(&id, false)).await {
        Ok(Ok(())) => Reply::empty(StatusCode::OK),
        Ok(Err(e)) => {
            metrics.metrics.destroy_errors.inc();
            Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
        Err(r) => r,
    }
}

/// Live containers (`show_standalone`: the top-level ones, every one standalone; `show_nested`: those nested in
/// them, parents listed before children), with their status (pid, network) and statistics.
async fn get_containers(agent: &Arc<Agent>, call: &Value) -> Reply {
    let q = call.get("get_containers").cloned().unwrap_or(Value::Null);
    let flag = |name: &str| bool_field(&q, "get_containers", name);
    let (standalone, nested) = match (flag("show_standalone"), flag("show_nested")) {
        (Ok(s), Ok(n)) => (s, n),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let c = agent.c.clone();
    let listed = blocking(move || -> Result<Vec<Value>, ContainerError> {
        let mut out = Vec::new();
        let live = c.tree()?.into_iter().filter(|(_, s)| s.is_live());
        for (_, st) in live.filter(|(d, _)| if *d == 0 { standalone } else { nested }) {
            let cid = mesos_id(&st.id);
            let mut status = json!({"container_id": cid});
            if let Some(pid) = st.pid.filter(|_| st.task_alive()) {
                status["executor_pid"] = json!(pid);
            }
            if let Some(n) = st.status.get("network_infos") {
                status["network_infos"] = n.clone();
            }
            let mut entry = json!({"container_id": cid, "container_status": status});
            // Not in Mesos's ContainerStatus (its executor reports health in task status updates): ucr's
            // addition, the supervisor's last record of the container's health checks.
            if let Some(h) = c.health(&st.id) {
                entry["health"] = serde_json::to_value(h).unwrap_or(Value::Null);
            }
            if st.state == State::Running {
                if let Ok(stats) = c.usage(&st.id) {
                    entry["resource_statistics"] =
                        serde_json::to_value(stats).unwrap_or(Value::Null);
                }
            }
            out.push(entry);
        }
        Ok(out)
    })
    .await;
    match listed {
        Ok(Ok(list)) => {
            Reply::ok(json!({"type": "GET_CONTAINERS", "get_containers": {"containers": list}}))
        }
        Ok(Err(e)) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(r) => r,
    }
}

/// A ucr id as a Mesos `ContainerID`: `pod/web` → `{"value":"web","parent":{"value":"pod"}}`.
pub fn mesos_id(id: &str) -> Value {
    let mut v: Option<Value> = None;
    for seg in id.split('/') {
        let mut cid = json!({"value": seg});
        if let Some(p) = v.take() {
            cid["parent"] = p;
        }
        v = Some(cid);
    }
    v.unwrap_or_else(|| json!({"value": id}))
}

/// The protobuf bool `name` of the message `q` at `at`: absent is false; any other JSON type is a decoding
/// error, as Mesos's parser says.
fn bool_field(q: &Value, at: &str, name: &str) -> Result<bool, Reply> {
    match q.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => {
            let why = format!("'{at}.{name}' must be a boolean, not {v}");
            Err(Reply::error(
                StatusCode::BAD_REQUEST,
                format!("Failed to parse body into Call protobuf: {why}"),
            ))
        }
    }
}
