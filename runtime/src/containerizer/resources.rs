//! A running container's resources: its statistics (Mesos `ResourceStatistics`, from its isolators' `usage`),
//! its processes (`top`, from its cgroup) and a change of its cpus and memory (the isolators' `update`, then the
//! new values recorded in its checkpointed config, so `inspect` shows what the container now has). All use the
//! isolators the container was made with (its checkpoint), never the calling process's `--isolation`.

use ucr_isolators::ResourceStatistics;

use crate::container::checkpoint::write_json;
use crate::container::error::{ContainerError, Result};
use crate::container::isolation::{self, Places};
use crate::container::paths::Paths;
use crate::container::records::{config, load};
use crate::container::state::{ContainerState, State};

/// New values for a running container; None keeps the current one.
#[derive(Clone, Copy, Debug, Default)]
pub struct Update {
    pub cpus: Option<f64>,
    /// MB.
    pub mem_mb: Option<f64>,
}

fn state_err(id: &str, why: String) -> ContainerError {
    ContainerError::State {
        id: id.to_string(),
        why,
    }
}

/// A container that is running (statistics and updates of anything else would read or write nothing).
fn running(p: &Paths, id: &str) -> Result<ContainerState> {
    let st = load(p, id)?;
    if st.state != State::Running || st.is_lost() {
        let what = if st.is_lost() {
            "lost"
        } else {
            st.state.as_str()
        };
        return Err(state_err(id, format!("not running ({what})")));
    }
    Ok(st)
}

pub fn usage(p: &Paths, id: &str) -> Result<ResourceStatistics> {
    let st = running(p, id)?;
    let places = Places::of(p, &st);
    isolation::isolators(&st)?
        .usage(&places.container())
        .map_err(|e| ended_meanwhile(p, id, state_err(id, format!("statistics: {e}"))))
}

/// What every process of the running container (a pod's members included) is doing (`ucr top`).
pub fn processes(p: &Paths, id: &str) -> Result<Vec<crate::process::top::Row>> {
    let st = running(p, id)?;
    let places = Places::of(p, &st);
    let pids = isolation::isolators(&st)?
        .processes(&places.container())
        .map_err(|e| ended_meanwhile(p, id, state_err(id, format!("processes: {e}"))))?;
    Ok(crate::process::top::rows(&pids))
}

pub fn update(p: &Paths, id: &str, u: &Update) -> Result<()> {
    if u.cpus.is_none() && u.mem_mb.is_none() {
        return Err(state_err(
            id,
            "nothing to update (give cpus and/or mem)".into(),
        ));
    }
    for (name, v) in [("cpus", u.cpus), ("mem", u.mem_mb)] {
        if let Some(v) = v.filter(|v| !v.is_finite() || *v <= 0.0) {
            return Err(state_err(
                id,
                format!("{name} must be a positive number, not {v}"),
            ));
        }
    }
    let st = running(p, id)?;
    let mut cfg = config(p, id)?.ok_or_else(|| state_err(id, "no config".into()))?;
    if let Some(c) = u.cpus {
        cfg.resources.cpus = Some(c);
    }
    if let Some(m) = u.mem_mb {
        cfg.resources.mem_mb = Some(m);
    }
    // Mesos's rule: a limit is never below the request.
    let limits = [
        ("cpus", cfg.resources.cpus, cfg.limits.cpus),
        ("mem", cfg.resources.mem_mb, cfg.limits.mem_mb),
    ];
    for (name, req, limit) in limits {
        if let (Some(r), Some(l)) = (req, limit) {
            if r > l {
                return Err(state_err(
                    id,
                    format!("{name} {r} is above the container's {name} limit {l}"),
                ));
            }
        }
    }
    let places = Places::of(p, &st);
    isolation::isolators(&st)?
        .update(&places.container(), &cfg.resources, &cfg.limits)
        .map_err(|e| state_err(id, format!("update: {e}")))
        // Recorded only once the kernel took the values: the checkpoint never claims what the cgroup lacks.
        .and_then(|()| write_json(&p.config_file(id), &cfg))
        .map_err(|e| ended_meanwhile(p, id, e))
}

/// `e`, or, when the container stopped running or was removed while it was being read or changed (its
/// cgroup files gone under the call), what a call a moment later gets: not running, or no such container.
fn ended_meanwhile(p: &Paths, id: &str, e: ContainerError) -> ContainerError {
    running(p, id).err().unwrap_or(e)
}
