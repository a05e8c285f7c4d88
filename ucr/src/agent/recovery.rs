//! The agent's start: recovery first (every `/api/v1` call answers 503 meanwhile), then the calls. Recovery is
//! the containerizer's (`Containerizer::recover`): running containers are left to their supervisors, lost ones
//! are finished with the status their supervisor recorded (else SIGKILL, as Mesos), launches a crash cut short
//! are torn down, and this instance's orphans (cgroups, rootfs dirs, unwritten runtime dirs) are destroyed.
//!
//! `--recover=cleanup` (Mesos): every live container is destroyed, then the agent exits. Afterwards a watcher
//! finishes, without any client waiting, each container whose supervisor dies while the agent runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::reply::blocking;
use super::state::Agent;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Reconnect,
    Cleanup,
}

/// Recovers, then opens the API (or, for cleanup, destroys everything and exits the process).
pub async fn recover(agent: Arc<Agent>, mode: Mode) {
    let started = Instant::now();
    let c = agent.c.clone();
    match blocking(move || c.recover()).await {
        Ok(Ok(r)) => {
            agent.metrics.recovered_lost.inc_by(r.lost.len() as u64);
            agent
                .metrics
                .orphans_destroyed
                .inc_by(r.orphans.len() as u64);
            agent.metrics.destroy_errors.inc_by(r.failed.len() as u64);
            tracing::info!(
                live = r.live.len(),
                lost = ?r.lost,
                exited = r.exited.len(),
                orphans = ?r.orphans,
                failed = ?r.failed,
                "recovered"
            );
        }
        Ok(Err(e)) => tracing::error!(error = %e, "recovery"),
        Err(_) => tracing::error!("recovery task failed"),
    }
    if mode == Mode::Cleanup {
        let c = agent.c.clone();
        let _ = blocking(move || {
            for st in c
                .containers()
                .unwrap_or_default()
                .into_iter()
                .filter(|s| s.is_live())
            {
                if let Err(e) = c.destroy(&st.id) {
                    tracing::error!(container = %st.id, error = %e, "cleanup");
                }
            }
        })
        .await;
        tracing::info!("--recover=cleanup: every container destroyed; exiting");
        std::process::exit(0);
    }
    agent
        .metrics
        .recovered_in(started.elapsed().as_millis() as u64);
    agent.set_ready();
    tokio::spawn(finish_lost(agent));
}

/// Every second: a container whose supervisor died and whose task is gone gets its end recorded.
async fn finish_lost(agent: Arc<Agent>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Nested ones too: a member whose supervisor died is finished like any container.
        let lost: Vec<String> = agent
            .c
            .tree()
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, s)| s.is_lost())
            .map(|(_, s)| s.id)
            .collect();
        for id in lost {
            let c = agent.c.clone();
            let a = agent.clone();
            let _ = blocking(move || {
                if let Err(e) = c.wait(&id, Some(Duration::ZERO)) {
                    a.metrics.destroy_errors.inc();
                    tracing::warn!(container = %id, error = %e, "finishing a lost container");
                }
            })
            .await;
        }
    }
}
