//! Operations on existing containers from any process: kill, stop (the kill policy), wait, destroy and remove.
//! They read the checkpoints the launch and the supervisor write. A container whose owner (the launching process while it
//! provisions, then the supervisor) died is still managed here: kill reaches its cgroup, wait watches its task
//! and records its end, and one with no task left (lost) is torn down and recorded exactly once.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::container::checkpoint::{write_atomic, write_json};
use crate::container::error::{ContainerError, Result};
use crate::container::isolation;
use crate::container::paths::Paths;
use crate::container::records::{children, load};
use crate::container::remove::remove_files;
use crate::container::state::{now, ContainerState, State};
use crate::container::teardown::teardown;
use crate::container::termination::Termination;

/// Send `signal` to the container. SIGKILL goes to every process in its cgroups (nothing survives); other
/// signals go to the task's init, which is how a task is asked to shut down gracefully.
pub fn kill(paths: &Paths, id: &str, signal: i32) -> Result<()> {
    let st = load_live(paths, id)?;
    if signal == libc::SIGKILL {
        // Nested containers first: they live in this one's namespaces and cgroup.
        for c in children(paths, id)?.into_iter().filter(|c| c.is_live()) {
            if let Err(e) = kill(paths, &c.id, signal) {
                // One that ended or was removed since the listing needed no kill.
                let ended = load(paths, &c.id).map_or(true, |c| c.state == State::Exited);
                if !ended {
                    tracing::warn!(container = %c.id, error = %e, "killing a nested container");
                }
            }
        }
    }
    // Recorded first, so the supervisor reports TASK_KILLED however fast the task dies.
    write_atomic(&paths.kill_marker(id), signal.to_string().as_bytes())?;
    // Still being made: the launch checks the marker at each step, and the supervisor once it has recorded
    // the task's pid. Looked for again here, after the marker, for a pid recorded since the first look.
    let st = match st.pid {
        Some(_) => st,
        None => load_live(paths, id).unwrap_or(st),
    };
    let Some(pid) = st.pid else {
        return Ok(());
    };
    let sig = nix::sys::signal::Signal::try_from(signal).map_err(|_| ContainerError::State {
        id: id.to_string(),
        why: format!("unknown signal {signal}"),
    })?;
    // SIGKILL is for every process of the container (its cgroup), as Mesos' destroy; other signals go to the
    // task's init, which decides what its children get.
    if sig == nix::sys::signal::Signal::SIGKILL {
        let places = isolation::Places::of(paths, &st);
        isolation::isolators(&st)?
            .kill(&places.container())
            .map_err(|e| ContainerError::State {
                id: id.to_string(),
                why: e.to_string(),
            })?;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(ContainerError::State {
            id: id.to_string(),
            why: format!("kill pid {pid}: {e}"),
        }),
    }
}

/// The state of a container that has not exited (kill and stop refuse one that has).
fn load_live(paths: &Paths, id: &str) -> Result<ContainerState> {
    let st = load(paths, id)?;
    if st.state == State::Exited {
        return Err(ContainerError::State {
            id: id.to_string(),
            why: "not running (it has exited)".into(),
        });
    }
    Ok(st)
}

/// Block until the container has exited; returns its termination. A container nobody will finish by itself
/// is finished here: a lost one (its owner died and no task runs) at once, an orphaned one (its supervisor died,
/// its task runs on) when the task is gone, as Mesos reaps a recovered container by polling its pid.
pub fn wait(
    paths: &Paths,
    store_dir: &Path,
    id: &str,
    timeout: Option<Duration>,
) -> Result<Termination> {
    wait_until(paths, store_dir, id, timeout)?.ok_or_else(|| ContainerError::State {
        id: id.to_string(),
        why: "timed out waiting for the container to exit".into(),
    })
}

/// [`wait`], None when `timeout` passed first.
fn wait_until(
    paths: &Paths,
    store_dir: &Path,
    id: &str,
    timeout: Option<Duration>,
) -> Result<Option<Termination>> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(2);
    // A container that removes itself at its end waits for this hold to be let go (`container::waiters`).
    let _hold = crate::container::waiters::hold(paths, id);
    loop {
        let st = load(paths, id)?;
        if let Some(t) = st.termination.clone().filter(|_| st.state == State::Exited) {
            return Ok(Some(t));
        }
        if st.is_lost() {
            return finish_lost(paths, store_dir, id).map(Some);
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return Ok(None);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

/// The kill policy (`ucr stop`; Mesos `kill_policy.grace_period`, Marathon `taskKillGracePeriodSeconds`):
/// SIGTERM to every process of the container, as Mesos's command executor signals the task's whole process
/// tree (a task that is pid 1 of its namespace only receives a signal it handles; what it started does), then
/// SIGKILL to every process if it has not exited within `grace` (None: its own kill policy's; a given one is its
/// nested containers' too, each of which otherwise keeps its own). The termination says TASK_KILLED either way,
/// with the status the task really ended with. A container that has exited is stopped already: its termination
/// as it was (`docker stop` and `podman stop` answer 0 too).
pub fn stop(
    paths: &Paths,
    store_dir: &Path,
    id: &str,
    grace: Option<Duration>,
) -> Result<Termination> {
    let st = load(paths, id)?;
    if st.state == State::Exited {
        return wait(paths, store_dir, id, None);
    }
    write_atomic(&paths.kill_marker(id), libc::SIGTERM.to_string().as_bytes())?;
    // Nested containers first, each with `grace` or its own kill policy (the signal below reaches their
    // processes too, and they must know it is a kill, not a failure).
    stop_children(paths, store_dir, id, grace)?;
    let grace = grace.unwrap_or_else(|| kill_grace(paths, id));
    ask_to_stop(paths, &st)?;
    if let Some(t) = wait_until(paths, store_dir, id, Some(grace))? {
        return Ok(t);
    }
    if let Err(e) = kill(paths, id, libc::SIGKILL) {
        // Unless it exited between the grace period's end and the kill.
        if load(paths, id)?.state != State::Exited {
            return Err(e);
        }
    }
    wait(paths, store_dir, id, None)
}

/// The task's raw wait status in the container's status file, once its reaper or its supervisor wrote it.
pub fn recorded_status(paths: &Paths, id: &str) -> Option<i32> {
    std::fs::read_to_string(paths.status_file(id))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The end of a container whose owner died. The task's raw status when the supervisor recorded it before dying;
/// else, for a task that ran, SIGKILL (Mesos reports `W_EXITCODE(0, SIGKILL)` for a status it cannot know) with
/// the reason saying why; for one that never ran, a failed launch.
pub fn lost_termination(paths: &Paths, st: &ContainerState) -> Termination {
    let killed = paths.kill_marker(&st.id).exists();
    // The task's reaper writes its raw status as it ends, and the supervisor before teardown: that's its end.
    if let Some(status) = recorded_status(paths, &st.id) {
        return Termination::from_wait_status(status, killed);
    }
    let owner = st.owner.map(|o| o.pid).unwrap_or(0);
    if st.state < State::Running {
        let mut t = Termination::launch_failed(
            format!(
                "the process launching the container (pid {owner}) died in state {}",
                st.state.as_str()
            ),
            125,
        );
        if killed {
            t.state = "TASK_KILLED".into();
        }
        return t;
    }
    let mut t = Termination::from_wait_status(libc::SIGKILL, killed);
    t.reason = Some("REASON_EXECUTOR_TERMINATED".into());
    t.message = format!(
        "the container's supervisor (pid {owner}) died in state {} before it recorded the task's exit; \
         reported as killed by SIGKILL, as Mesos does",
        st.state.as_str()
    );
    t
}

/// Kill every process of the container and see it torn down; its record (EXITED, with its termination) stays
/// until `remove`, as Mesos keeps a destroyed container's termination for WAIT_CONTAINER. A running one is
/// killed and its supervisor tears it down; a lost one is torn down here; an exited one whose teardown failed
/// at exit (a CNI DEL, a busy mount) is torn down again, every step being idempotent.
pub fn destroy(paths: &Paths, store_dir: &Path, id: &str) -> Result<Termination> {
    destroy_children(paths, store_dir, id)?;
    let st = load(paths, id)?;
    if st.is_live() && !st.is_lost() {
        if let Err(e) = kill(paths, id, libc::SIGKILL) {
            // Unless it exited between the load and the kill (a pod member that ended on its SIGTERM).
            if load(paths, id)?.state != State::Exited {
                return Err(e);
            }
        }
        if wait_until(paths, store_dir, id, Some(DESTROY_WAIT))?.is_none() {
            return Err(still_ending(&load(paths, id)?, DESTROY_WAIT));
        }
    }
    let mut st = load(paths, id)?;
    if st.state != State::Exited {
        return finish_lost(paths, store_dir, id);
    } else if !st.torn_down {
        teardown(paths, store_dir, &st)?;
        st.torn_down = true;
        write_json(&paths.state_file(id), &st)?;
    }
    st.termination.ok_or_else(|| ContainerError::State {
        id: id.to_string(),
        why: "exited without a termination record".into(),
    })
}

/// How long [`destroy`] waits, after its SIGKILL, for the supervisor to record the end and tear the container
/// down. Bounded: in Mesos a destroy could hang behind one stuck step (MESOS-4985: a hung pull).
const DESTROY_WAIT: Duration = Duration::from_secs(30);

/// Why a killed container has not ended after `waited`, for the caller to act on: a task that SIGKILL has not
/// ended yet, or a teardown still under way (the supervisor runs each CNI plugin for up to a minute).
fn still_ending(st: &ContainerState, waited: Duration) -> ContainerError {
    let secs = waited.as_secs();
    let why = match (st.pid, st.owner) {
        (Some(pid), _) if st.task_alive() => format!(
            "its task (pid {pid}) is still alive {secs} s after SIGKILL (a process in uninterruptible sleep \
             dies only when its I/O ends)"
        ),
        (Some(_), Some(owner)) if owner.is_alive() => format!(
            "its task is dead, but its supervisor (pid {}) is still tearing it down after {secs} s; \
             remove it again once that is done",
            owner.pid
        ),
        (None, Some(owner)) if owner.is_alive() => format!(
            "its launch (pid {}) has not stopped {secs} s after the kill; remove it again once it has",
            owner.pid
        ),
        _ => "timed out waiting for the container to exit".into(),
    };
    ContainerError::State {
        id: st.id.clone(),
        why,
    }
}

/// SIGTERM to every process of the container (its kill marker written by the caller). Without a pid it is
/// still being made: the marker stops the launch at its next step.
fn ask_to_stop(paths: &Paths, st: &ContainerState) -> Result<()> {
    if st.pid.is_none() {
        return Ok(());
    }
    let places = isolation::Places::of(paths, st);
    isolation::isolators(st)?
        .signal(&places.container(), libc::SIGTERM, &reapers(paths, st))
        .map_err(|e| ContainerError::State {
            id: st.id.clone(),
            why: e.to_string(),
        })
}

/// The pids of the reapers (`launcher::reaper`) of `st` and of its live nested containers, whose cgroups are
/// below its own: what a signal for every process of the container passes over.
pub fn reapers(paths: &Paths, st: &ContainerState) -> Vec<i32> {
    let mut out: Vec<i32> = st.pid.filter(|_| st.reaper).into_iter().collect();
    for c in children(paths, &st.id).unwrap_or_default() {
        if c.is_live() {
            out.extend(reapers(paths, &c));
        }
    }
    out
}

/// Destroy every nested container of `id` (each after its own nested ones): a parent is torn down only after
/// its children, which live in its namespaces and under its cgroup.
pub fn destroy_children(paths: &Paths, store_dir: &Path, id: &str) -> Result<()> {
    let mut first = None;
    for c in children(paths, id)? {
        match destroy(paths, store_dir, &c.id) {
            // Removed since the listing (a `rm` of that child beside this one): nothing of it is left.
            Ok(_) | Err(ContainerError::NotFound(_)) => {}
            Err(e) => {
                first.get_or_insert(e);
            }
        }
    }
    first.map_or(Ok(()), Err)
}

/// A container's own grace period: its kill policy's (`kill_policy.grace_period`, Marathon's
/// `taskKillGracePeriodSeconds`), else Mesos's default of 3 seconds.
fn kill_grace(paths: &Paths, id: &str) -> Duration {
    crate::container::records::config(paths, id)
        .ok()
        .flatten()
        .map_or(crate::spec::config::DEFAULT_KILL_GRACE, |cfg| {
            cfg.kill_grace()
        })
}

/// The kill policy for every running nested container of `id` at once (a pod's end: Marathon kills each of its
/// containers with its own grace period): SIGTERM to each, SIGKILL to those still running after their grace
/// period, then destroyed.
pub fn stop_children(
    paths: &Paths,
    store_dir: &Path,
    id: &str,
    grace: Option<Duration>,
) -> Result<()> {
    let start = Instant::now();
    let mut waiting = Vec::new();
    for c in children(paths, id)?.into_iter().filter(|c| c.is_live()) {
        let grace = grace.unwrap_or_else(|| kill_grace(paths, &c.id));
        let marked = write_atomic(
            &paths.kill_marker(&c.id),
            libc::SIGTERM.to_string().as_bytes(),
        );
        if let Err(e) = marked {
            // Removed since the listing (a `rm` of that child beside this stop): nothing of it is left to stop.
            match load(paths, &c.id) {
                Err(ContainerError::NotFound(_)) => continue,
                _ => return Err(e),
            }
        }
        if let Err(e) = ask_to_stop(paths, &c) {
            tracing::warn!(container = %c.id, error = %e, "stopping a nested container");
        }
        waiting.push((c.id, grace));
    }
    // Members started beside their parent and still waiting for it see their kill now, not at their next look.
    crate::container::pod_ns::wake_waiters(&paths.pod_ns(id));
    for (child, grace) in &waiting {
        let left = grace.saturating_sub(start.elapsed());
        match wait_until(paths, store_dir, child, Some(left)) {
            Ok(Some(_)) | Err(ContainerError::NotFound(_)) => {}
            Ok(None) => {
                let _ = kill(paths, child, libc::SIGKILL);
            }
            Err(e) => return Err(e),
        }
    }
    destroy_children(paths, store_dir, id)
}

/// A lost container's end: torn down here, and recorded with the termination its supervisor could not write.
/// Exactly once, whoever else (an agent's waiter, a `ucr wait`, a recovery) finds it lost at the same time: the
/// first takes the container's finish lock, the others read what it recorded.
pub fn finish_lost(paths: &Paths, store_dir: &Path, id: &str) -> Result<Termination> {
    let lock_path = paths.runtime(id).join("finish.lock");
    let lock = match std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
    {
        Ok(lock) => lock,
        // Its runtime directory is gone: a `rm` beside this call removed the container whole (`NotFound`).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            load(paths, id)?;
            return Err(ContainerError::io(&lock_path, e));
        }
        Err(e) => return Err(ContainerError::io(&lock_path, e)),
    };
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .map_err(|e| ContainerError::io(&lock_path, e.into()))?;
    let mut st = load(paths, id)?;
    if let Some(t) = st.termination.clone().filter(|_| st.state == State::Exited) {
        return Ok(t);
    }
    let t = lost_termination(paths, &st);
    st.state = State::Destroying;
    write_json(&paths.state_file(id), &st)?;
    let torn = teardown(paths, store_dir, &st);
    st.state = State::Exited;
    st.finished = Some(now());
    st.pid = None;
    st.torn_down = torn.is_ok();
    st.termination = Some(t.clone());
    write_json(&paths.state_file(id), &st)?;
    torn.map(|()| t)
}

/// Remove a container: its record, sandbox and everything else. A live one needs `force` (it is destroyed
/// first); an exited one that was not torn down completely is torn down again first instead of staying
/// unremovable.
pub fn remove(paths: &Paths, store_dir: &Path, id: &str, force: bool) -> Result<()> {
    let st = load(paths, id)?;
    let live_child = children(paths, id)?.into_iter().find(|c| c.is_live());
    if let Some(c) = live_child.as_ref().filter(|_| !force) {
        return Err(ContainerError::State {
            id: id.to_string(),
            why: format!(
                "its nested container {} is {} (use --force)",
                c.id,
                c.state.as_str()
            ),
        });
    }
    if st.is_live() && !force {
        return Err(ContainerError::State {
            id: id.to_string(),
            why: format!(
                "cannot remove a container in state {} (use --force)",
                st.state.as_str()
            ),
        });
    }
    if st.is_live() || !st.torn_down || live_child.is_some() {
        destroy(paths, store_dir, id)?;
    }
    remove_files(paths, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::state::Owner;

    fn state(pid: Option<i32>, owner: Option<Owner>) -> ContainerState {
        ContainerState {
            pid,
            pid_start: pid.and_then(crate::container::state::process_start_time),
            owner,
            ..ContainerState::bare("c1", State::Running)
        }
    }

    /// A pid that no process has: one of a child that has been reaped.
    fn dead_pid() -> i32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        child.wait().expect("wait true");
        child.id() as i32
    }

    #[test]
    fn a_destroy_that_times_out_says_whether_the_task_or_its_teardown_is_still_there() {
        let me = Owner::current();
        let waited = Duration::from_secs(30);

        let task_alive = still_ending(&state(Some(me.pid), None), waited).to_string();
        assert!(
            task_alive.starts_with("container c1: its task (pid ")
                && task_alive.contains("still alive 30 s after SIGKILL"),
            "{task_alive}"
        );

        let tearing_down = still_ending(&state(Some(dead_pid()), Some(me)), waited).to_string();
        assert_eq!(
            tearing_down,
            format!(
                "container c1: its task is dead, but its supervisor (pid {}) is still tearing it down \
                 after 30 s; remove it again once that is done",
                me.pid
            )
        );

        let launching = still_ending(&state(None, Some(me)), waited).to_string();
        assert_eq!(
            launching,
            format!(
                "container c1: its launch (pid {}) has not stopped 30 s after the kill; remove it again \
                 once it has",
                me.pid
            )
        );

        let neither = still_ending(&state(Some(dead_pid()), None), waited).to_string();
        assert_eq!(
            neither,
            "container c1: timed out waiting for the container to exit"
        );
    }
}
