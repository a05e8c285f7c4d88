//! What a supervisor does for the containers nested in its own, and for its parent: Marathon's pod semantics
//! (Mesos's default executor does the same for a task group), kept by the supervisors so they hold whether or not
//! a CLI or an agent is running.
//!
//! - A container whose task has ended stops its nested containers (each with its own kill policy) before its own
//!   teardown: they live in its namespaces and under its cgroup.
//! - A pod member (`Nesting::kills_parent`) that fails — ends other than TASK_FINISHED without having been
//!   killed — ends the pod: its parent's pause process is signalled, and the parent's termination says which
//!   member failed. When the last member has ended well, the pod ends as finished. Either waits until every
//!   member is launched (a pod starts whole, then ends), which the pod launch's last step marks.

use std::path::Path;

use crate::container::checkpoint::write_atomic;
use crate::container::paths::Paths;
use crate::container::records::{children, load};
use crate::container::termination::Termination;
use crate::spec::ContainerConfig;

/// The parent's record of the member whose failure ended the pod.
const FAILED_MEMBER: &str = "failed-member";

/// Written in the parent's runtime dir once every member is launched: before it, a member that finished does
/// not end the pod (the members still to come would find no pod to join).
const ALL_LAUNCHED: &str = "members-launched";

/// Before the container's own teardown: every nested container stopped and torn down.
pub fn stop_nested(paths: &Paths, store_dir: &Path, id: &str) {
    if let Err(e) = crate::containerizer::ops::stop_children(paths, store_dir, id, None) {
        tracing::warn!(container = id, error = %e, "stopping nested containers");
    }
}

/// After a pod member's end: end the pod if this member failed, or if no member runs any more.
pub fn member_ended(paths: &Paths, cfg: &ContainerConfig, t: &Termination) {
    let Some(n) = cfg.nesting.as_ref().filter(|n| n.kills_parent) else {
        return;
    };
    let killed = paths.kill_marker(&cfg.id).exists();
    let failed = t.state != "TASK_FINISHED" && !killed;
    let all_launched = paths.runtime(&n.parent).join(ALL_LAUNCHED).exists();
    if failed {
        // Its exit code on the first line, then why.
        let why = format!("{}\ncontainer {} failed: {}", t.code, cfg.id, t.message);
        let file = paths.runtime(&n.parent).join(FAILED_MEMBER);
        // The first failure is the pod's reason; later ones are the kill it caused.
        if !file.exists() {
            let _ = write_atomic(&file, why.as_bytes());
        }
        // While members are still being launched the pod stays, so the launch completes whole; its last step
        // ends the pod then (`all_launched`).
        if !all_launched {
            return;
        }
    } else {
        let others_run = children(paths, &n.parent)
            .unwrap_or_default()
            .iter()
            .any(|c| c.id != cfg.id && c.is_live());
        if others_run || killed || !all_launched {
            return;
        }
    }
    end_pod(paths, &n.parent);
}

/// The pod launch's last step: every member is launched. If a member failed meanwhile, or they have all ended
/// already (each saw the pod still launching), the pod ends here.
pub fn all_launched(paths: &Paths, pod: &str) -> crate::container::error::Result<()> {
    write_atomic(&paths.runtime(pod).join(ALL_LAUNCHED), b"")?;
    let failed = paths.runtime(pod).join(FAILED_MEMBER).exists();
    let live = children(paths, pod)?.iter().any(|c| c.is_live());
    if failed || !live {
        end_pod(paths, pod);
    }
    Ok(())
}

/// SIGTERM to the pod's pause process (its task's init, which exits 0 on it).
fn end_pod(paths: &Paths, parent: &str) {
    let Some(pid) = load(paths, parent).ok().and_then(|p| p.pid) else {
        return;
    };
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    );
}

/// A pod's termination when one of its members failed: TASK_FAILED, naming the member, with its exit code.
pub fn pod_termination(paths: &Paths, id: &str, t: &mut Termination) {
    if let Ok(text) = std::fs::read_to_string(paths.runtime(id).join(FAILED_MEMBER)) {
        let (code, why) = text.split_once('\n').unwrap_or(("1", &text));
        t.state = "TASK_FAILED".into();
        t.code = code.trim().parse().unwrap_or(1);
        t.message = why.to_string();
    }
}
