//! A pod member's launch in two halves, so that the member is made while its parent starts: what the member
//! needs of its parent's start is its namespaces (joined by their files, or by the parent's init's pid) and its
//! cgroup (`pod.rs`). [`prepare_member`] claims the id, provides the rootfs, allocates ports, resolves the process and
//! lets the isolators prepare; [`Pending::start`] joins the parent, writes the bundle, fetches and starts the
//! supervisor. Either half that fails, or a parent that does not start ([`Pending::abandon`]), undoes the
//! member and records its launch as failed, as a launch in one piece does.

use super::config::Config;
use super::launch::{claim, prepare, start_supervisor, undo, Prepared};
use super::spawn::Starting;
use crate::container::error::{ContainerError, Result};
use crate::container::state::ContainerState;
use crate::images::{Images, Notices};
use crate::spec::ContainerConfig;

/// A member prepared, its parent not yet known to run.
pub struct Pending<'a> {
    config: &'a Config,
    images: &'a Images,
    cfg: &'a ContainerConfig,
    st: ContainerState,
    prepared: Prepared<'a>,
}

/// Claims and prepares `cfg`, nested in `parent` (the pod checked that it is): begun (its ports and sandbox
/// are checkpointed), not necessarily running yet.
pub fn prepare_member<'a>(
    config: &'a Config,
    images: &'a Images,
    cfg: &'a ContainerConfig,
    parent: &ContainerState,
    notices: &dyn Notices,
) -> Result<Pending<'a>> {
    if let Some(n) = &cfg.nesting {
        super::nested::check_id(cfg, n)?;
    }
    let mut st = claim(config, cfg, Some(parent))?;
    match prepare(config, images, cfg, &mut st, Some(parent), notices) {
        Ok(prepared) => Ok(Pending {
            config,
            images,
            cfg,
            st,
            prepared,
        }),
        Err(e) => Err(undo(config, images, cfg, &mut st, naming(&cfg.id, e))),
    }
}

/// An error that does not say which member it is about (a pull's, a path's) says it: in a pod it could be
/// any of them.
pub(super) fn naming(id: &str, e: ContainerError) -> ContainerError {
    match e {
        ContainerError::Io { .. }
        | ContainerError::Corrupt { .. }
        | ContainerError::Volume { .. }
        | ContainerError::Spec(_)
        | ContainerError::Provision(_)
        | ContainerError::Image(_)
        | ContainerError::Images(_)
        | ContainerError::Process(_) => {
            let code = e.exit_code();
            ContainerError::launch(id, "preparing", e.to_string(), code)
        }
        named => named,
    }
}

impl Pending<'_> {
    /// The rest of the launch, `parent` now placed or running (`pod.rs`), up to the supervisor's start.
    pub fn start(self, parent: &ContainerState, notices: &dyn Notices) -> Result<Starting> {
        let Pending {
            config,
            images,
            cfg,
            mut st,
            prepared,
        } = self;
        prepared
            .finish(config, &mut st, Some(parent), notices)
            .and_then(|known| start_supervisor(config, images, known))
            .map_err(|e| undo(config, images, cfg, &mut st, naming(&cfg.id, e)))
    }

    /// The pod did not start (its parent, or another member, failed): undone, and recorded as a launch that
    /// failed for `why`.
    pub fn abandon(self, why: &ContainerError) {
        let Pending {
            config,
            images,
            cfg,
            mut st,
            ..
        } = self;
        let e = ContainerError::launch(
            &cfg.id,
            "preparing",
            format!("the pod did not start: {why}"),
            why.exit_code(),
        );
        undo(config, images, cfg, &mut st, e);
    }
}
