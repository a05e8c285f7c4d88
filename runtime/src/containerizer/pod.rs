//! Launching a pod (`spec::pod`): its parent, whose only process is `ucr pause`, then each member nested in it,
//! in the pod's order. A pod starts whole or not at all, as Marathon's pod instance: when a member fails to
//! launch, the pod is destroyed (members first) and the member's error returned, its record kept for WAIT. What
//! happens when a member ends is the supervisors' (`supervisor::family`).

use super::config::Config;
use super::launch::launch;
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
    let mut out = vec![launch(config, images, &pod.parent, notices)?];
    for c in &pod.children {
        match launch(config, images, c, notices) {
            Ok(l) => out.push(l),
            Err(e) => {
                if let Err(d) = super::ops::destroy(&config.paths, images.store_dir(), id) {
                    tracing::warn!(pod = id, error = %d, "destroying a pod that failed to launch");
                }
                return Err(e);
            }
        }
    }
    crate::supervisor::family::all_launched(&config.paths, id)?;
    Ok(out)
}
