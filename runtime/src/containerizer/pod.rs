//! Launching a pod (`spec::pod`): its parent, whose only process is `ucr pause`, then each member nested in it,
//! in the pod's order, their supervisors starting side by side. A pod starts whole or not at all, as Marathon's
//! pod instance: when a member fails to launch, the pod is destroyed (members first) and the member's error
//! returned, its record kept for WAIT. What happens when a member ends is the supervisors'
//! (`supervisor::family`).

use super::config::Config;
use super::launch::{begin, launch};
use super::spawn::Launched;
use crate::container::error::{ContainerError, Result};
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
    for c in &pod.children {
        let nested_here = c.nesting.as_ref().is_some_and(|n| n.parent == id);
        if !nested_here {
            return Err(ContainerError::launch(
                &c.id,
                "preparing",
                format!("a pod member must be nested in the pod {id}"),
                125,
            ));
        }
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
    let mut out = vec![launch(config, images, &parent, notices)?];
    if let Err(e) = super::nested::make_pod_shm(&config.paths, id) {
        let _ = super::ops::destroy(&config.paths, images.store_dir(), id);
        return Err(e);
    }
    // Each member's supervisor starts its task while the next member is prepared here: on two cores a pod of
    // three costs little more than its parent and one member.
    let mut starting = Vec::new();
    let mut failed = None;
    for c in &pod.children {
        match begin(config, images, c, notices) {
            Ok(s) => starting.push(s),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    for s in starting {
        match s.started(&config.paths) {
            Ok(l) => out.push(l),
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failed {
        if let Err(d) = super::ops::destroy(&config.paths, images.store_dir(), id) {
            tracing::warn!(pod = id, error = %d, "destroying a pod that failed to launch");
        }
        return Err(e);
    }
    crate::supervisor::family::all_launched(&config.paths, id)?;
    Ok(out)
}
