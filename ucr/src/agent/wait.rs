//! WAIT_CONTAINER: a long poll that answers when the container has ended, with its termination as Mesos shapes
//! it (`exit_status` as the raw wait status, `state`, `reason`, `message`, `limitation`). It answers for every
//! container ucr has a record of: one that exited while no agent ran, one the CLI launched, one whose supervisor
//! died (whose end is then recorded here, once) — where Mesos answers 404 for an exited standalone container.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};
use ucr_runtime::{ContainerError, State, Termination};

use super::reply::Reply;
use super::reply::{blocking, not_found};
use super::state::Agent;

/// The termination in WAIT_CONTAINER's shape: Mesos's fields only, each only when set.
pub fn termination_json(t: &Termination) -> Value {
    let mut w = json!({"state": t.state, "message": t.message});
    if let Some(s) = t.exit_status {
        w["exit_status"] = json!(s);
    }
    if let Some(r) = &t.reason {
        w["reason"] = json!(r);
    }
    if let Some(l) = &t.limitation {
        w["limitation"] = l.clone();
    }
    if let Some(h) = t.healthy {
        w["healthy"] = json!(h);
    }
    w
}

/// Which call answers: WAIT_CONTAINER, or the deprecated WAIT_NESTED_CONTAINER (its own response type).
#[derive(Clone, Copy)]
pub enum Shape {
    Current,
    Nested,
}

pub async fn wait(agent: &Arc<Agent>, id: String, shape: Shape) -> Reply {
    let mut delay = Duration::from_millis(2);
    loop {
        let st = match agent.c.container(&id) {
            Ok(st) => st,
            Err(ContainerError::NotFound(_)) => return not_found(&id),
            Err(e) => return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
        if let Some(t) = st
            .termination
            .as_ref()
            .filter(|_| st.state == State::Exited)
        {
            return reply(t, shape);
        }
        if st.is_lost() {
            // Nobody else will finish it: the containerizer's wait records its end (exactly once).
            let c = agent.c.clone();
            return match blocking(move || c.wait(&id, None)).await {
                Ok(Ok(t)) => reply(&t, shape),
                Ok(Err(e)) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                Err(r) => r,
            };
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

fn reply(t: &Termination, shape: Shape) -> Reply {
    match shape {
        Shape::Current => {
            Reply::ok(json!({"type": "WAIT_CONTAINER", "wait_container": termination_json(t)}))
        }
        Shape::Nested => Reply::ok(
            json!({"type": "WAIT_NESTED_CONTAINER", "wait_nested_container": termination_json(t)}),
        ),
    }
}
