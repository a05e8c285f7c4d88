//! LAUNCH_CONTAINER: the container is made as the CLI makes it, and the reply waits until its task runs (image
//! provided, URIs fetched, exec'd), as Mesos holds it. 200 when launched; 202 when the id is in use; 400 with the
//! reason when the call is malformed or the launch fails — and then, as Mesos destroys a container whose launch
//! failed, nothing of it is kept and the id is free again.
//!
//! A client that goes away before the reply (a timeout, a dropped connection) gets no container: Mesos leaks it
//! (MESOS-8039); here the launch is stopped at its next step, or destroyed if it got through, and removed.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::StatusCode;
use ucr_runtime::containerizer::Launched;
use ucr_runtime::spec::{mesos, Unknown};
use ucr_runtime::ContainerError;

use super::reply::blocking;
use super::reply::Reply;
use super::state::Agent;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Launching,
    Launched,
    /// The caller went away: whoever sees this last undoes the container.
    Abandoned,
}

/// Held by the request while the launch runs; dropped without `delivered` when the client disconnected.
struct Guard {
    agent: Arc<Agent>,
    id: String,
    phase: Arc<Mutex<Phase>>,
    delivered: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.delivered {
            return;
        }
        let mut p = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        let was = *p;
        *p = Phase::Abandoned;
        drop(p);
        let (c, id) = (self.agent.c.clone(), self.id.clone());
        tracing::warn!(container = %id, "LAUNCH_CONTAINER: the client went away; the container is undone");
        match was {
            // The kill marker stops the launch at its next step; the launch thread removes what is left.
            Phase::Launching => {
                tokio::task::spawn_blocking(move || {
                    let _ = c.kill(&id, libc::SIGKILL);
                });
            }
            Phase::Launched => {
                tokio::task::spawn_blocking(move || {
                    let _ = c.remove(&id, true);
                });
            }
            Phase::Abandoned => {}
        }
    }
}

pub async fn launch(agent: &Arc<Agent>, body: &Bytes) -> Reply {
    let text = String::from_utf8_lossy(body);
    let store = agent
        .secrets
        .as_ref()
        .map(|s| s as &dyn ucr_runtime::spec::SecretSource);
    let (cfg, ignored) = match mesos::parse_launch_container_with(&text, Unknown::Ignore, store) {
        Ok(x) => x,
        Err(e) => return Reply::error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if !ignored.is_empty() {
        tracing::warn!(container = %cfg.id, ignored = ?ignored, "LAUNCH_CONTAINER: unknown fields ignored");
    }
    let id = cfg.id.clone();
    if agent.c.exists(&id) {
        return Reply::empty(StatusCode::ACCEPTED);
    }
    let phase = Arc::new(Mutex::new(Phase::Launching));
    let mut guard = Guard {
        agent: agent.clone(),
        id: id.clone(),
        phase: phase.clone(),
        delivered: false,
    };
    let c = agent.c.clone();
    let result = blocking(move || {
        let r = c.launch(&cfg, &());
        let mut p = phase.lock().unwrap_or_else(|e| e.into_inner());
        if *p == Phase::Abandoned {
            drop(p);
            // Launched or not, the caller is gone: nothing of it stays (an id still claimed by another launch
            // is not ours).
            if !matches!(r, Err(ContainerError::InUse(_))) {
                let _ = c.remove(&cfg.id, true);
            }
            return Err(None);
        }
        match r {
            Ok(l) => {
                *p = Phase::Launched;
                Ok(l)
            }
            Err(e) => Err(Some(e)),
        }
    })
    .await;
    guard.delivered = true;
    match result {
        Ok(Ok(launched)) => {
            agent.metrics.launched.inc();
            follow(launched);
            Reply::empty(StatusCode::OK)
        }
        Ok(Err(Some(ContainerError::InUse(_)))) => Reply::empty(StatusCode::ACCEPTED),
        Ok(Err(Some(e))) => {
            agent.metrics.launch_errors.inc();
            // Mesos destroys a container whose launch failed; its id is free for a retry.
            let c = agent.c.clone();
            let failed = id.clone();
            let _ = blocking(move || c.remove(&failed, true)).await;
            Reply::error(StatusCode::BAD_REQUEST, e.to_string())
        }
        Ok(Err(None)) => Reply::error(StatusCode::BAD_REQUEST, "the client went away"),
        Err(r) => r,
    }
}

/// Follows a supervisor's pipe to its end and reaps it: the agent is its parent, and a long-lived parent must
/// not collect a zombie per container. Async until the end, one short blocking wait for the exit.
fn follow(launched: Launched) {
    let (done, reaper) = launched.split();
    tokio::spawn(async move {
        let fd = std::os::fd::OwnedFd::from(done.into_inner());
        if let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(fd) {
            let _ = tokio::io::copy(&mut pipe, &mut tokio::io::sink()).await;
        }
        let _ = tokio::task::spawn_blocking(move || reaper.reap()).await;
    });
}
