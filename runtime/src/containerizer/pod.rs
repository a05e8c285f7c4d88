//! Launching a pod (`spec::pod`): its parent, whose only process is `ucr pause`, and each member nested in it,
//! in the pod's order: the members are made while the parent starts, then join it, their supervisors starting
//! side by side. A pod starts whole or not at all, as Marathon's pod instance: when a member fails to launch,
//! the pod is destroyed (members first) and the member's error returned, its record kept for WAIT. What happens
//! when a member ends is the supervisors' (`supervisor::family`).

use super::config::Config;
use super::launch::begin;
use super::pending::{prepare_member, Pending};
use super::spawn::{Launched, Starting};
use crate::container::error::{ContainerError, Result};
use crate::container::records::load;
use crate::images::{Images, Notices};
use crate::spec::PodConfig;

/// Returns the parent's launch, then each member's, in the pod's order.
pub fn launch_pod(
    config: &Config,
    images: &Images,
    pod: &PodConfig,
    notices: &dyn Notices,
) -> Result<Vec<Launched>> {
    let id = pod.parent.id.as_str();
    // Checked before anything is made.
    if let Some(c) = pod
        .children
        .iter()
        .find(|c| c.nesting.as_ref().is_none_or(|n| n.parent != id))
    {
        let why = format!("a pod member must be nested in the pod {id}");
        return Err(ContainerError::launch(&c.id, "preparing", why, 125));
    }
    // The ephemeral volumes are made by the first member that mounts each (`nested::parent_volumes`), owned by
    // its user, as Mesos's executor makes them its own.
    let mut parent = pod.parent.clone();
    if parent.command == crate::spec::pod::pause_command() {
        // The ucr executable by its path: the process resolver never follows a magic link like /proc/self/exe.
        let exe = config.supervisor.exe.to_string_lossy().into_owned();
        parent.command.value = Some(exe.clone());
        parent.command.arguments[0] = exe;
    }
    // The members are made while the parent's supervisor starts it: they need it running only to join its
    // namespaces (`pending.rs`). On two cores this hides most of the parent's start.
    let parent_starting = begin(config, images, &parent, notices)?;
    let mut pending = Vec::new();
    let made = super::nested::make_pod_shm(&config.paths, id)
        .and_then(|()| load(&config.paths, id))
        .and_then(|begun| {
            for c in &pod.children {
                pending.push(prepare_member(config, images, c, &begun, notices)?);
            }
            Ok(())
        });
    let parent_launched = parent_starting.started(&config.paths);
    let (parent_launched, running) = match made
        .and(parent_launched)
        .and_then(|l| Ok((l, load(&config.paths, id)?)))
    {
        Ok(p) => p,
        Err(e) => return Err(fail(config, images, id, pending, Vec::new(), e)),
    };
    // Each member's supervisor starts its task while the next member is finished here.
    let mut starting = Vec::new();
    let mut rest = pending.into_iter();
    for p in rest.by_ref() {
        match p.start(&running, notices) {
            Ok(s) => starting.push(s),
            Err(e) => return Err(fail(config, images, id, rest.collect(), starting, e)),
        }
    }
    let mut out = vec![parent_launched];
    let mut failed = None;
    for s in starting {
        match s.started(&config.paths) {
            Ok(l) => out.push(l),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failed {
        return Err(fail(config, images, id, Vec::new(), Vec::new(), e));
    }
    crate::supervisor::family::all_launched(&config.paths, id)?;
    Ok(out)
}

/// A pod that did not start whole: the members not started are undone, those starting are waited for, and the
/// pod is destroyed (members first). Returns `e`, the first failure.
fn fail(
    config: &Config,
    images: &Images,
    id: &str,
    pending: Vec<Pending>,
    starting: Vec<Starting>,
    e: ContainerError,
) -> ContainerError {
    for p in pending {
        p.abandon(&e);
    }
    for s in starting {
        let _ = s.started(&config.paths);
    }
    if let Err(d) = super::ops::destroy(&config.paths, images.store_dir(), id) {
        tracing::warn!(pod = id, error = %d, "destroying a pod that failed to launch");
    }
    e
}
