//! Recovery: what a front end does when it starts (the agent after a restart or a `kill -9`), so every
//! container it finds is accounted for exactly once.
//!
//! - A container whose owner is alive (its supervisor) is left to it; its isolators' `recover` checks what
//!   they checkpointed.
//! - A container whose owner died before it exited is lost: it is torn down here and recorded EXITED with the
//!   task's raw status if the supervisor wrote it before dying, else "its supervisor died". Teardown is
//!   idempotent and the record is written atomically, so two processes recovering at once agree.
//! - An exited container whose teardown failed is torn down again.
//! - A root filesystem the provisioner holds for an id no checkpoint names (a crash between claiming an id
//!   and the first checkpoint cannot leave one, but a removed runtime dir can) is destroyed. Only this root's
//!   provisioner is looked at: cgroups under `/ucr` may belong to another ucr root on the same host and are
//!   never taken for orphans.

use std::path::Path;

use super::ops::finish_lost;
use crate::container::checkpoint::write_json;
use crate::container::error::Result;
use crate::container::isolation::{self, Places};
use crate::container::paths::Paths;
use crate::container::records::{exists, list};
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

pub fn recover(paths: &Paths, store_dir: &Path) -> Result<Recovered> {
    let mut out = Recovered::default();
    let all = list(paths)?;
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
            finish_lost(paths, store_dir, &mut st)
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
    for name in provisioner::BACKENDS {
        let Ok(backend) = provisioner::select(Some(name), &paths.provisioner(), store_dir) else {
            continue;
        };
        for id in backend.list().unwrap_or_default() {
            if exists(paths, &id) || out.orphans.contains(&id) {
                continue;
            }
            match backend.destroy(&id) {
                Ok(()) => out.orphans.push(id),
                Err(e) => out.failed.push((id, e.to_string())),
            }
        }
    }
    Ok(out)
}
