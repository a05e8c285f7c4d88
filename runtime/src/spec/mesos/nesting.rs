//! A `ContainerID` with a `parent` (Mesos nested containers): its ucr id `<parent>/<child>` and its `Nesting`,
//! with the checks of Mesos's `validateContainerId` and `LAUNCH_CONTAINER` validation (src/slave/validation.cpp)
//! that concern nesting.

use super::types::ContainerId;
use crate::spec::config::{ContainerConfig, Nesting};
use crate::spec::error::{Result, SpecError};
use crate::spec::ids::validate_id;

/// The ucr id of a Mesos `ContainerID`: its values from the root down, joined with `/` (a character no
/// container id may hold, so the form is unambiguous). `at` is the field's JSON path.
pub fn container_id(cid: &ContainerId, at: &str) -> Result<String> {
    let mut chain = vec![(cid.value.as_str(), format!("{at}.value"))];
    let mut cur = cid;
    let mut path = at.to_string();
    while let Some(p) = &cur.parent {
        path.push_str(".parent");
        chain.push((p.value.as_str(), format!("{path}.value")));
        cur = p;
    }
    for (v, field) in &chain {
        validate_id(v).map_err(|e| SpecError::field(field.clone(), e.to_string()))?;
        // Mesos's string form of a nested id is `<root>.<child>`: a dot cannot be told from the separator, in
        // a top-level id either (validateContainerId; `ucr exec ID.CHILD` reads it so). Ids of other requests
        // (a Marathon task's `app.uuid`) may hold one: they are never a nested id's part.
        if v.contains('.') {
            return Err(SpecError::field(
                field.clone(),
                format!("{v:?}: a container id must not contain '.' (Mesos writes a nested id <parent>.<child>)"),
            ));
        }
    }
    Ok(chain
        .iter()
        .rev()
        .map(|(v, _)| *v)
        .collect::<Vec<_>>()
        .join("/"))
}

/// Sets `cfg.nesting` from a nested id's parent and the container's `linux_info`, which for a nested container
/// says what it shares with its parent rather than with the host. `at` names the `launch_container` object.
pub fn apply(cfg: &mut ContainerConfig, at: &str) -> Result<()> {
    let share_cgroups = cfg.linux.share_cgroups.take();
    let Some((parent, _)) = cfg.id.rsplit_once('/') else {
        if share_cgroups == Some(true) {
            return Err(SpecError::field(
                format!("{at}.container.linux_info.share_cgroups"),
                "a top-level container cannot share cgroups (it has no parent)",
            ));
        }
        return Ok(());
    };
    let deep = parent.contains('/');
    if deep {
        let own = cfg.resources != Default::default() || cfg.limits != Default::default();
        if own || share_cgroups == Some(false) {
            return Err(SpecError::field(
                format!("{at}.resources"),
                "a container nested two or more levels deep shares its parent's cgroups: no resources, \
                 limits or share_cgroups:false",
            ));
        }
    }
    let ipc_private = cfg.linux.ipc_mode.as_deref() == Some("PRIVATE");
    cfg.nesting = Some(Nesting {
        parent: parent.to_string(),
        share_cgroups: share_cgroups.unwrap_or(true),
        share_pid: cfg.linux.share_pid_namespace,
        share_ipc: !ipc_private,
        kills_parent: false,
    });
    // Those two now speak of the parent, not of the host.
    cfg.linux.share_pid_namespace = false;
    if !ipc_private {
        cfg.linux.ipc_mode = None;
    }
    Ok(())
}
