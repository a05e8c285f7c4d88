//! The calls that may name a session (LAUNCH_NESTED_CONTAINER_SESSION's container, `<target>/<session>`),
//! answered from the agent's memory of it before the containerizer is asked: WAIT_CONTAINER (its exit status
//! once it has ended, what `dcos task exec` reads after the stream), KILL_CONTAINER, REMOVE_CONTAINER (forgets
//! an ended one), ATTACH_CONTAINER_OUTPUT (its output from now on, several clients at once), and the deprecated
//! `*_NESTED_CONTAINER` forms; GET_CONTAINERS with `show_nested` lists the running ones. Any other id goes on
//! to `calls`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::calls::{mesos_id, target};
use super::reply::Reply;
use super::session;
use super::state::Agent;
use super::wait::termination_json;

/// The reply when the call is a session's (or launches one); None when it is for `calls`.
pub async fn route(agent: &Arc<Agent>, kind: &str, call: &Value) -> Option<Reply> {
    if kind == "LAUNCH_NESTED_CONTAINER_SESSION" {
        return Some(session::launch(agent, call).await);
    }
    let known = [
        "WAIT_CONTAINER",
        "WAIT_NESTED_CONTAINER",
        "KILL_CONTAINER",
        "KILL_NESTED_CONTAINER",
        "REMOVE_CONTAINER",
        "REMOVE_NESTED_CONTAINER",
        "ATTACH_CONTAINER_OUTPUT",
    ];
    if !known.contains(&kind) {
        return None;
    }
    let field = kind.to_ascii_lowercase();
    // A malformed id is `calls`' to refuse, with its message.
    let id = target(call, &field).ok()?;
    let s = agent.sessions.get(&id)?;
    Some(match kind {
        "WAIT_CONTAINER" | "WAIT_NESTED_CONTAINER" => {
            let t = s.wait().await;
            Reply::ok(json!({"type": kind, field: termination_json(&t)}))
        }
        "KILL_CONTAINER" | "KILL_NESTED_CONTAINER" => {
            let signal = match call[&field].get("signal") {
                None | Some(Value::Null) => libc::SIGKILL,
                Some(v) => match v.as_i64().and_then(|n| i32::try_from(n).ok()) {
                    Some(n) if nix::sys::signal::Signal::try_from(n).is_ok() => n,
                    _ => {
                        return Some(Reply::error(
                            StatusCode::BAD_REQUEST,
                            format!("'{field}.signal' is invalid: {v} is not a signal number"),
                        ))
                    }
                },
            };
            if s.has_ended() {
                return Some(Reply::error(
                    StatusCode::NOT_FOUND,
                    format!("Container '{id}' cannot be found (or is already killed)"),
                ));
            }
            let done = tokio::task::spawn_blocking(move || match signal {
                libc::SIGKILL => {
                    s.kill();
                    Ok(1)
                }
                _ => s.signal(signal),
            })
            .await;
            match done {
                Ok(Ok(_)) => Reply::empty(StatusCode::OK),
                Ok(Err(e)) => Reply::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("Unable to send signal to container: {e}"),
                ),
                Err(e) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            }
        }
        "REMOVE_CONTAINER" | "REMOVE_NESTED_CONTAINER" => {
            if !s.has_ended() {
                return Some(Reply::error(
                    StatusCode::BAD_REQUEST,
                    format!("Container {id} has not terminated yet: kill it first"),
                ));
            }
            agent.sessions.forget(&id);
            Reply::empty(StatusCode::OK)
        }
        _ => {
            // ATTACH_CONTAINER_OUTPUT: what it writes from now on, until it ends (at once if it has).
            let rx = s.subscribe();
            let stream = futures_util::stream::unfold(rx, |rx| async move {
                let mut rx = rx?;
                loop {
                    match rx.recv().await {
                        Ok(b) => return Some((Ok::<_, std::convert::Infallible>(b), Some(rx))),
                        // A client too slow for the output loses what it missed, not the stream.
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return None,
                    }
                }
            });
            Reply::Stream(Body::from_stream(stream))
        }
    })
}

/// GET_CONTAINERS with `show_nested`: the running sessions too, each under its target.
pub fn with_sessions(agent: &Agent, kind: &str, call: &Value, reply: Reply) -> Reply {
    let nested = call
        .pointer("/get_containers/show_nested")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if kind != "GET_CONTAINERS" || !nested {
        return reply;
    }
    match reply {
        Reply::Json(StatusCode::OK, Some(mut v)) => {
            if let Some(list) = v
                .pointer_mut("/get_containers/containers")
                .and_then(Value::as_array_mut)
            {
                for s in agent.sessions.running() {
                    let cid = mesos_id(&s.id);
                    list.push(
                        json!({"container_id": cid, "container_status": {"container_id": cid}}),
                    );
                }
            }
            Reply::Json(StatusCode::OK, Some(v))
        }
        other => other,
    }
}
