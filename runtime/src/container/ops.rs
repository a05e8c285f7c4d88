//! Operations on existing containers from any process: list, load, kill, wait, rm. They read the checkpoints
//! the launcher and supervisor write; a container whose owner (the CLI while provisioning, then the supervisor)
//! died without finishing is reported as lost and can be torn down by `rm --force`.

use std::path::Path;
use std::time::{Duration, Instant};

use super::destroy::teardown;
use super::error::{ContainerError, Result};
use super::paths::Paths;
use super::remove::remove_files;
use super::state::{now, read_json, write_atomic, write_json, ContainerState, State, Termination};

pub fn load(paths: &Paths, id: &str) -> Result<ContainerState> {
    read_json(&paths.state_file(id))?.ok_or_else(|| ContainerError::NotFound(id.to_string()))
}

pub fn exists(paths: &Paths, id: &str) -> bool {
    !id.is_empty() && !id.contains('/') && paths.runtime(id).is_dir()
}

/// Every container with a readable checkpoint, oldest first.
pub fn list(paths: &Paths) -> Result<Vec<ContainerState>> {
    let dir = paths.containers();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ContainerError::io(&dir, e)),
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if let Ok(Some(st)) = read_json::<ContainerState>(&paths.state_file(&id)) {
            out.push(st);
        }
    }
    out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    Ok(out)
}

/// Not exited and nobody alive is taking it there.
pub fn is_lost(st: &ContainerState) -> bool {
    st.state != State::Exited && !st.owner.map(|o| o.is_alive()).unwrap_or(false)
}

/// Live = holds resources (running or on its way there or out).
pub fn is_live(st: &ContainerState) -> bool {
    st.state != State::Exited
}

/// Send `signal` to the container. SIGKILL goes to every process in its cgroups (nothing survives); other
/// signals go to the task's init, which is how a task is asked to shut down gracefully.
pub fn kill(paths: &Paths, id: &str, signal: i32) -> Result<()> {
    let st = load(paths, id)?;
    if st.state == State::Exited {
        return Err(ContainerError::State {
            id: id.to_string(),
            why: "not running (it has exited)".into(),
        });
    }
    // Recorded first, so the supervisor reports TASK_KILLED however fast the task dies.
    write_atomic(&paths.kill_marker(id), signal.to_string().as_bytes())?;
    let Some(pid) = st.pid else {
        // Still provisioning: the launcher checks the marker before starting the task.
        return Ok(());
    };
    let sig = nix::sys::signal::Signal::try_from(signal).map_err(|_| ContainerError::State {
        id: id.to_string(),
        why: format!("unknown signal {signal}"),
    })?;
    // SIGKILL is for every process of the container (its cgroup), as Mesos' destroy; other signals go to the
    // task's init, which decides what its children get.
    if sig == nix::sys::signal::Signal::SIGKILL {
        let places = super::isolation::Places::of(paths, &st);
        super::isolation::isolators(&st)?
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

/// Block until the container has exited; returns its termination. A lost container (its owner died) gets a
/// termination saying so instead of a wait that never ends.
pub fn wait(paths: &Paths, id: &str, timeout: Option<Duration>) -> Result<Termination> {
    let start = Instant::now();
    let mut delay = Duration::from_millis(2);
    loop {
        let st = load(paths, id)?;
        if let Some(t) = st.termination.clone().filter(|_| st.state == State::Exited) {
            return Ok(t);
        }
        if is_lost(&st) {
            // Re-read once: the owner may have finished between the two reads.
            let st = load(paths, id)?;
            if let Some(t) = st.termination.clone().filter(|_| st.state == State::Exited) {
                return Ok(t);
            }
            return Ok(lost_termination(paths, &st));
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return Err(ContainerError::State {
                id: id.to_string(),
                why: "timed out waiting for the container to exit".into(),
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

fn lost_termination(paths: &Paths, st: &ContainerState) -> Termination {
    // The supervisor writes the raw status before teardown; if it got that far, that's the task's end.
    if let Some(status) = std::fs::read_to_string(paths.status_file(&st.id))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
    {
        return Termination::from_wait_status(status, paths.kill_marker(&st.id).exists());
    }
    let owner = st.owner.map(|o| o.pid).unwrap_or(0);
    Termination {
        exit_status: None,
        state: "TASK_FAILED".into(),
        reason: Some("REASON_EXECUTOR_TERMINATED".into()),
        message: format!(
            "the container's supervisor (pid {owner}) died in state {}",
            st.state.as_str()
        ),
        limitation: None,
        code: 125,
    }
}

/// Remove a container. A running one needs `force` (it is killed first and its supervisor tears it down); a lost
/// one is torn down here. An exited one whose teardown failed at exit (a CNI DEL, a busy mount) is torn down
/// again first, every step being idempotent, instead of staying unremovable; one that was torn down is not.
pub fn remove(paths: &Paths, store_dir: &Path, id: &str, force: bool) -> Result<()> {
    let st = load(paths, id)?;
    if st.state == State::Exited {
        if !st.torn_down {
            teardown(paths, store_dir, &st)?;
        }
    } else {
        if !force {
            return Err(ContainerError::State {
                id: id.to_string(),
                why: format!(
                    "cannot remove a container in state {} (use --force)",
                    st.state.as_str()
                ),
            });
        }
        if !is_lost(&st) {
            kill(paths, id, libc::SIGKILL)?;
            wait(paths, id, Some(Duration::from_secs(30)))?;
        }
        let st = load(paths, id)?;
        if st.state != State::Exited {
            let mut st = st;
            let t = lost_termination(paths, &st);
            teardown(paths, store_dir, &st)?;
            st.state = State::Exited;
            st.finished = Some(now());
            st.termination = Some(t);
            write_json(&paths.state_file(id), &st)?;
        }
    }
    remove_files(paths, id)
}
