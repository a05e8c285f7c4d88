//! Recovery: what a front end does when it starts (the agent after a restart or a `kill -9`), so every
//! container it finds is accounted for exactly once.
//!
//! - A container whose owner is alive (its supervisor) is left to it; its isolators' `recover` checks what
//!   they checkpointed.
//! - A container whose owner died before it exited is lost: it is torn down here and recorded EXITED with the
//!   task's raw status if the supervisor wrote it before dying, else "its supervisor died". Teardown is
//!   idempotent and the record is written atomically, so two processes recovering at once agree.
//! - An exited container whose teardown failed is torn down again.
//! - Orphans are destroyed: a root filesystem the provisioner holds for an id no checkpoint names, a cgroup
//!   under this instance's cgroup parent that no container has, a claimed runtime dir whose first checkpoint
//!   was never written. Only this instance's own places are looked at (its provisioner dir, its cgroup parent,
//!   its runtime dir): nothing of another instance on the same host is ever touched.

use std::path::Path;

use super::ops::finish_lost;
use crate::container::checkpoint::write_json;
use crate::container::error::Result;
use crate::container::isolation::{self, Places};
use crate::container::paths::rootfs_keys;
use crate::container::paths::Paths;
use crate::container::records::tree;
use crate::container::state::State;
use crate::container::teardown::teardown;
use crate::provisioner;

/// What recovery found, by container id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Running (or starting) under a live supervisor.
    pub live: Vec<String>,
    /// Lost, now torn down and recorded EXITED.
    pub lost: Vec<String>,
    /// Exited earlier and still recorded (their termination is kept for WAIT).
    pub exited: Vec<String>,
    /// Root filesystems without a container, destroyed.
    pub orphans: Vec<String>,
    /// Containers recovery could not finish, with why (tried again at the next recovery).
    pub failed: Vec<(String, String)>,
}

/// How old a claimed runtime dir without a checkpoint must be to be an orphan: a launch writes its first
/// checkpoint right after claiming the id, so anything older was left by a crash.
const UNWRITTEN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

pub fn recover(paths: &Paths, store_dir: &Path, cgroup_parent: &Path) -> Result<Recovered> {
    let mut out = Recovered::default();
    // Every nested container before its parent (the reverse of the tree's parents-first order): a lost parent
    // is torn down only after its children.
    let mut all: Vec<_> = tree(paths)?.into_iter().map(|(_, st)| st).collect();
    all.reverse();
    for mut st in all.iter().cloned() {
        let id = st.id.clone();
        let done = if st.state == State::Exited {
            out.exited.push(id.clone());
            if st.torn_down {
                Ok(())
            } else {
                teardown(paths, store_dir, &st).and_then(|()| {
                    st.torn_down = true;
                    write_json(&paths.state_file(&id), &st)
                })
            }
        } else if st.is_lost() {
            out.lost.push(id.clone());
            super::ops::destroy_children(paths, store_dir, &id)
                .and_then(|()| finish_lost(paths, store_dir, &id).map(drop))
        } else {
            out.live.push(id.clone());
            let places = Places::of(paths, &st);
            isolation::isolators(&st).and_then(|i| {
                i.recover(&places.container())
                    .map_err(|e| isolation::isolator_err(&id, e))
            })
        };
        if let Err(e) = done {
            tracing::warn!(container = %id, error = %e, "recovery");
            out.failed.push((id, e.to_string()));
        }
    }
    // Each container's rootfs and its image volumes'.
    let keys: Vec<String> = all
        .iter()
        .flat_map(|c| rootfs_keys(&c.id, c.volume_images.len()))
        .collect();
    for name in provisioner::BACKENDS {
        let Ok(backend) = provisioner::select(Some(name), &paths.provisioner(), store_dir) else {
            continue;
        };
        for id in backend.list().unwrap_or_default() {
            if keys.contains(&id) || out.orphans.contains(&id) {
                continue;
            }
            match backend.destroy(&id) {
                Ok(()) => out.orphans.push(format!("rootfs {id}")),
                Err(e) => out.failed.push((id, e.to_string())),
            }
        }
    }
    let known: Vec<&str> = all.iter().map(|c| c.cgroup.as_str()).collect();
    for name in ucr_isolators::cgroup_children(cgroup_parent)
        .map_err(|e| isolation::isolator_err("(recovery)", e))?
    {
        let cgroup = cgroup_parent.join(&name);
        if known.contains(&cgroup.to_string_lossy().as_ref()) {
            continue;
        }
        match ucr_isolators::destroy_cgroup(&cgroup) {
            Ok(()) => out.orphans.push(format!("cgroup {}", cgroup.display())),
            Err(e) => out.failed.push((name, e.to_string())),
        }
    }
    for id in unwritten(paths, &all) {
        match std::fs::remove_dir_all(paths.runtime(&id)) {
            Ok(()) => out.orphans.push(format!("runtime dir {id}")),
            Err(e) => out.failed.push((id, e.to_string())),
        }
    }
    Ok(out)
}

/// Claimed runtime dirs with no readable checkpoint, old enough not to be a launch that is just starting.
fn unwritten(paths: &Paths, known: &[crate::container::state::ContainerState]) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(paths.containers()) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|id| !known.iter().any(|c| &c.id == id))
        .filter(|id| !paths.state_file(id).exists())
        .filter(|id| {
            std::fs::metadata(paths.runtime(id))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > UNWRITTEN_GRACE)
        })
        .collect()
}
