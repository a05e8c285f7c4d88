//! Launching a pod (`spec::pod`): its parent, whose only process is `ucr pause`, and each member nested in it,
//! in the pod's order. A pod starts whole or not at all, as Marathon's pod instance: when a member fails to
//! launch, the pod is destroyed (members first) and the member's error returned, its record kept for WAIT. What
//! happens when a member ends is the supervisors' (`supervisor::family`).
//!
//! The members are made while the parent is made and while it starts. The pod's shared namespaces are bound
//! onto files (`container::pod_ns`) as the parent is made, and the parent and the members join them by path, so
//! each member is made and supervised by a process of its own, forked as soon as the parent is claimed
//! (`member_process.rs`): each provides its rootfs while this process makes the parent, then waits at the pod's
//! gate until the parent is made (its ports, sandbox, namespaces and /dev/shm there) and goes on. Each member's
//! supervisor makes its cgroup once the parent's init is in the parent's, and lets its task start once the parent
//! runs (`supervisor::beside`). A pod whose members share the parent's pid namespace, which exists only with the
//! parent's init, or one launched by a process with threads (which cannot fork a process that runs Rust code),
//! has its members made here while the parent starts and started once it runs.

use oci_spec::runtime::LinuxNamespaceType;
use ucr_isolators::Contribution;

use super::config::Config;
use super::fork::single_threaded;
use super::launch::{begin_claimed, begin_with, claim, removed_if_asked, undo, undo_kept};
use super::member_process::{fork_member, Gate};
use super::nested::namespace_at;
use super::pending::{prepare_member, Pending};
use super::spawn::{Launched, Starting};
use crate::container::bundle::hostname;
use crate::container::error::{ContainerError, Result};
use crate::container::paths::Paths;
use crate::container::pod_ns::{self, Wanted};
use crate::container::records::load;
use crate::images::{Images, Notices};
use crate::spec::{ContainerConfig, PodConfig};

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
    let pinned = pinnable(pod);
    // A process with threads (the CLI after a pull) cannot fork one that runs Rust code.
    let (parent_launched, starting) = match pinned && single_threaded() {
        true => start_beside(config, images, pod, &parent, notices)?,
        false => start_after(config, images, pod, &parent, notices)?,
    };
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
        return Err(fail(config, images, &parent, Vec::new(), Vec::new(), e));
    }
    crate::supervisor::family::all_launched(&config.paths, id)?;
    Ok(out)
}

/// The members of a pod with pinned namespaces, made while the parent is made and started while it starts: the
/// parent claimed, each member forked to a process of its own that provides its rootfs, waits at the pod's gate
/// until the parent is made, and becomes its supervisor (`member_process.rs`); the parent made here meanwhile.
/// Returns the parent's launch and each member's start.
fn start_beside(
    config: &Config,
    images: &Images,
    pod: &PodConfig,
    parent: &ContainerConfig,
    notices: &dyn Notices,
) -> Result<(Launched, Vec<Starting>)> {
    let (paths, id) = (&config.paths, parent.id.as_str());
    let mut claimed = claim(config, parent, None)?;
    let gate = match Gate::new() {
        Ok(g) => g,
        Err(e) => return Err(undo(config, images, parent, &mut claimed, e)),
    };
    // The host's cgroups, detected once here and inherited by every member's process, rather than once in each:
    // its mountinfo, read by each, lists every rootfs and pinned namespace of the pods being made (an error is
    // left for the isolator that needs them to report).
    let _ = ucr_isolators::cgroups::host();
    let mut starting = Vec::new();
    let forked = pod.children.iter().try_for_each(|c| {
        starting.push(fork_member(config, images, c, &claimed, &gate, notices)?);
        Ok(())
    });
    let made = match forked {
        Ok(()) => begin_claimed(
            config,
            images,
            parent,
            &mut claimed,
            None,
            notices,
            |cfg, c| pin_namespaces(paths, cfg, c),
        )
        .and_then(|s| match super::nested::make_pod_shm(paths, id) {
            Ok(()) => Ok(s),
            Err(e) => Err(heard(paths, s, e)),
        }),
        Err(e) => Err(undo_kept(config, images, &mut claimed, e)),
    };
    let opened = match made {
        Ok(s) => match gate.open(starting.len()) {
            Ok(()) => Ok(s),
            Err(e) => Err(heard(paths, s, e)),
        },
        Err(e) => {
            // The gate closes without a word: the members waiting at it end.
            drop(gate);
            Err(e)
        }
    };
    let parent_starting = match opened {
        Ok(s) => s,
        Err(e) => return Err(fail(config, images, parent, Vec::new(), starting, e)),
    };
    match parent_starting.started(paths) {
        Ok(l) => Ok((l, starting)),
        Err(e) => Err(fail(config, images, parent, Vec::new(), starting, e)),
    }
}

/// The parent launched first, and the members made here while it starts, and started once it runs: they join the
/// namespaces of the parent's init (by its pid) when the pod's are not pinned; this process cannot fork them
/// otherwise. Returns the parent's launch and each member's start.
fn start_after(
    config: &Config,
    images: &Images,
    pod: &PodConfig,
    parent: &ContainerConfig,
    notices: &dyn Notices,
) -> Result<(Launched, Vec<Starting>)> {
    let (paths, id) = (&config.paths, parent.id.as_str());
    let pinned = pinnable(pod);
    let parent_starting = begin_with(config, images, parent, notices, |cfg, c| match pinned {
        true => pin_namespaces(paths, cfg, c),
        false => Ok(()),
    })?;
    let begun = match super::nested::make_pod_shm(paths, id).and_then(|()| load(paths, id)) {
        Ok(b) => b,
        Err(e) => {
            let e = heard(paths, parent_starting, e);
            return Err(fail(config, images, parent, Vec::new(), Vec::new(), e));
        }
    };
    let mut pending = Vec::new();
    let made = pod.children.iter().try_for_each(|c| {
        pending.push(prepare_member(config, images, c, &begun, notices)?);
        Ok(())
    });
    let parent_started = parent_starting.started(paths);
    let (launched, running) = match made
        .and(parent_started)
        .and_then(|l| Ok((l, load(paths, id)?)))
    {
        Ok(p) => p,
        Err(e) => return Err(fail(config, images, parent, pending, Vec::new(), e)),
    };
    // Each member's supervisor starts its task while the next member is finished here.
    let mut starting = Vec::new();
    let mut rest = pending.into_iter();
    for p in rest.by_ref() {
        match p.start(&running, notices) {
            Ok(s) => starting.push(s),
            Err(e) => return Err(fail(config, images, parent, rest.collect(), starting, e)),
        }
    }
    Ok((launched, starting))
}

/// Whether the members can join everything they share by path, before the parent's init exists: not when they
/// share its pid namespace, nor its IPC namespace when that is the host's (there is no file to bind then).
fn pinnable(pod: &PodConfig) -> bool {
    let own_ipc = own_ipc(&pod.parent);
    pod.children.iter().all(|c| {
        c.nesting
            .as_ref()
            .is_some_and(|n| !n.share_pid && (own_ipc || !n.share_ipc))
    })
}

/// Whether the pod's parent `cfg` has an IPC namespace of its own (not the host's).
fn own_ipc(cfg: &ContainerConfig) -> bool {
    cfg.linux.ipc_mode.as_deref() != Some(ucr_isolators::filesystem::linux::SHARE_PARENT)
}

/// Makes the pod's namespaces (`pod_ns`) for the parent `cfg` and has it join them: a UTS namespace with its
/// hostname, an IPC namespace unless it keeps the host's, and its network namespace as the isolators made it.
fn pin_namespaces(paths: &Paths, cfg: &ContainerConfig, c: &mut Contribution) -> Result<()> {
    let net = c
        .namespaces
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Network)
        .and_then(|n| n.path().clone());
    let dir = paths.pod_ns(&cfg.id);
    let wanted = Wanted {
        hostname: &hostname(cfg, c),
        ipc: own_ipc(cfg),
        net: net.as_deref(),
    };
    pod_ns::pin(&dir, &wanted).map_err(|e| {
        let why = format!("the pod's namespaces: {e}");
        ContainerError::launch(&cfg.id, "preparing", why, 125)
    })?;
    for (typ, kind) in [
        (LinuxNamespaceType::Uts, pod_ns::UTS),
        (LinuxNamespaceType::Ipc, pod_ns::IPC),
    ] {
        if let Some(p) = pod_ns::joined(&dir, kind) {
            c.namespaces.retain(|n| n.typ() != typ);
            c.namespaces.push(namespace_at(&cfg.id, typ, &p)?);
        }
    }
    Ok(())
}

/// The parent's start `s` heard from, whatever it says, before the pod is destroyed for `e`: nothing of the
/// parent's launch is still under way then. Returns `e`.
fn heard(paths: &Paths, s: Starting, e: ContainerError) -> ContainerError {
    let _ = s.started(paths);
    e
}

/// A pod that did not start whole: the members not started are undone, those starting are waited for, and the
/// pod is destroyed (members first), and removed when the request asks for that at exit. Returns `e`, the first
/// failure.
fn fail(
    config: &Config,
    images: &Images,
    parent: &ContainerConfig,
    pending: Vec<Pending>,
    starting: Vec<Starting>,
    e: ContainerError,
) -> ContainerError {
    let id = parent.id.as_str();
    for p in pending {
        p.abandon(&e);
    }
    for s in starting {
        let _ = s.started(&config.paths);
    }
    if let Err(d) = super::ops::destroy(&config.paths, images.store_dir(), id) {
        tracing::warn!(pod = id, error = %d, "destroying a pod that failed to launch");
    }
    match load(&config.paths, id) {
        Ok(st) => removed_if_asked(config, parent, &st, e),
        Err(_) => e,
    }
}
