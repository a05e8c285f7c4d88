//! A pod member started beside its parent (`containerizer::pod`: the pod's namespaces are made beforehand,
//! `container::pod_ns`, so the member needs nothing of the parent's init to be made): its supervisor makes its
//! cgroup only once the parent's init is in the parent's cgroup (on cgroup v2 a cgroup whose children have
//! controllers takes no process), and lets its task start only once the parent runs (the parent's cgroup, the
//! member's envelope, is complete after the parent's `isolate`). The parent's supervisor says both: a marker
//! file and a wake through a FIFO in the pod's namespaces' dir for each.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};

use crate::container::error::{ContainerError, Result};
use crate::container::paths::Paths;
use crate::container::pod_ns;
use crate::container::records::load;
use crate::container::state::State;

/// How long a member started beside its parent waits for it: far beyond a start (the parent is a local pause
/// process, with nothing to pull or fetch), and bounded so a parent whose supervisor vanished cannot hold the
/// member forever.
const PARENT_START: Duration = Duration::from_secs(60);

/// What a member started beside its parent waits for.
#[derive(Clone, Copy, Debug)]
pub enum Until {
    /// The parent's init is in the parent's cgroup ([`placed`]): the member's cgroup, under it, may be made
    /// (on cgroup v2 a cgroup whose children have controllers takes no process).
    Placed,
    /// The parent runs: its cgroup, the member's envelope, is complete (its device rules, swap and weight come
    /// with its `isolate`), and the member's task may start.
    Running,
}

/// A pod's parent, its namespaces pinned, has its init in its cgroup: marked for members that look later, and
/// the waiting ones woken. Nothing when its namespaces are not pinned (its members start once it runs).
pub fn placed(paths: &Paths, id: &str) -> Result<()> {
    let dir = paths.pod_ns(id);
    if !pod_ns::pinned(&dir) {
        return Ok(());
    }
    let f = dir.join(pod_ns::PLACED);
    File::create(&f).map_err(|e| ContainerError::io(&f, e))?;
    pod_ns::wake(&dir.join(pod_ns::PLACING))
}

/// A pod's parent, its namespaces pinned, runs (its state says so): the waiting members are woken.
pub fn running(paths: &Paths, id: &str) -> Result<()> {
    let dir = paths.pod_ns(id);
    if !pod_ns::pinned(&dir) {
        return Ok(());
    }
    pod_ns::wake(&dir.join(pod_ns::STARTING))
}

/// The end of a launch stopped by a kill before its task ran (as `launch.rs` reports one at any of its steps).
pub fn killed(id: &str) -> ContainerError {
    ContainerError::launch(id, "starting", "killed before the task started", 137)
}

/// A pod member started beside its parent waits for the parent to reach `until`. Fails when the parent ended
/// instead, when this member was killed meanwhile, or after [`PARENT_START`]. Woken through the FIFO for
/// `until` ([`placed`], [`running`]), or through both by the parent's teardown and by a stop of the pod's
/// members (`pod_ns::wake_waiters`); inotify would do, but closing an inotify instance waits for an SRCU grace
/// period, milliseconds.
pub fn wait_for_parent(paths: &Paths, parent: &str, id: &str, until: Until) -> Result<()> {
    let deadline = Instant::now() + PARENT_START;
    let failed = |why: String| ContainerError::Launcher {
        id: id.to_string(),
        why,
    };
    let dir = paths.pod_ns(parent);
    let fifo = dir.join(match until {
        Until::Placed => pod_ns::PLACING,
        Until::Running => pod_ns::STARTING,
    });
    let marker = dir.join(pod_ns::PLACED);
    loop {
        // Opened before looking: a writer that closes after the look is seen by the poll below.
        let wake = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo)
        {
            Ok(f) => f,
            // The parent's teardown removed it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(failed(format!(
                    "the pod's parent {parent} ended before it ran"
                )))
            }
            Err(e) => return Err(ContainerError::io(&fifo, e)),
        };
        if matches!(until, Until::Placed) && marker.exists() {
            return Ok(());
        }
        let st = load(paths, parent)?;
        if matches!(until, Until::Running) && st.state == State::Running {
            return Ok(());
        }
        if matches!(st.state, State::Destroying | State::Exited) {
            return Err(failed(format!(
                "the pod's parent {parent} ended before it ran"
            )));
        }
        if paths.kill_marker(id).exists() {
            return Err(killed(id));
        }
        if Instant::now() > deadline {
            let why = format!("the pod's parent {parent} did not start in {PARENT_START:?}");
            return Err(failed(why));
        }
        // A FIFO reports POLLHUP to a reader once a writer has come and gone since the reader opened it. A parent
        // whose supervisor died without a word is looked at again after the timeout.
        let mut set = [PollFd::new(&wake, PollFlags::IN)];
        let again = Timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        };
        match poll(&mut set, Some(&again)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(ContainerError::io(&fifo, e.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::checkpoint::write_json;
    use crate::container::pod_ns::{pin, Wanted};
    use crate::container::state::ContainerState;

    /// A tempdir with a pod's namespaces pinned in it, unmounted when dropped.
    struct Pinned {
        // Fields drop in order: the unmount first, then the tempdir can go.
        _unpin: pod_ns::Unpin,
        _dir: tempfile::TempDir,
    }

    /// A pinned pod `pod` in state `s`, and its member `pod/m` claimed, under a tempdir.
    fn pod(s: State) -> (Pinned, Paths) {
        let t = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(t.path().join("root"), t.path().join("run"));
        for id in ["pod", "pod/m"] {
            std::fs::create_dir_all(paths.runtime(id)).expect("runtime dir");
        }
        let w = Wanted {
            hostname: "pod",
            ipc: false,
            net: None,
        };
        pin(&paths.pod_ns("pod"), &w).expect("pin");
        let pinned = Pinned {
            _unpin: pod_ns::Unpin(paths.pod_ns("pod")),
            _dir: t,
        };
        set(&paths, s);
        (pinned, paths)
    }

    fn set(paths: &Paths, s: State) {
        write_json(&paths.state_file("pod"), &ContainerState::bare("pod", s)).expect("state");
    }

    /// Waits in a thread; returns how it ended and after how long.
    fn waiter(paths: &Paths, until: Until) -> std::thread::JoinHandle<(Result<()>, Duration)> {
        let paths = paths.clone();
        std::thread::spawn(move || {
            let t = Instant::now();
            (wait_for_parent(&paths, "pod", "pod/m", until), t.elapsed())
        })
    }

    #[test]
    fn a_member_waits_for_the_parents_placement_then_for_it_to_run_and_is_woken_at_once() {
        let (_t, paths) = pod(State::Isolating);
        let placed_wait = waiter(&paths, Until::Placed);
        let running_wait = waiter(&paths, Until::Running);
        std::thread::sleep(Duration::from_millis(300));
        assert!(!placed_wait.is_finished() && !running_wait.is_finished());
        placed(&paths, "pod").expect("placed");
        let (r, took) = placed_wait.join().expect("thread");
        r.expect("placed");
        assert!(!running_wait.is_finished(), "placed is not running");
        set(&paths, State::Running);
        running(&paths, "pod").expect("running");
        let (r, took_running) = running_wait.join().expect("thread");
        r.expect("running");
        // Woken by the FIFO, not found by the look every 100 ms: well under the 300 ms waited before.
        assert!(took < Duration::from_millis(400) && took_running < Duration::from_millis(400));
        // A member that comes later finds both at once.
        let (r, _) = waiter(&paths, Until::Placed).join().expect("thread");
        r.expect("placed, later");
        let (r, _) = waiter(&paths, Until::Running).join().expect("thread");
        r.expect("running, later");
    }

    #[test]
    fn a_parent_that_ends_or_a_kill_ends_the_wait_with_an_error_at_once_when_woken() {
        // Each way, a few times: the look every 100 ms alone would end some waits 50 ms or more after the cause.
        for round in 0..4 {
            let (_t, paths) = pod(State::Isolating);
            let w = waiter(&paths, Until::Running);
            std::thread::sleep(Duration::from_millis(30));
            let cause = Instant::now();
            set(&paths, State::Exited);
            pod_ns::wake_waiters(&paths.pod_ns("pod"));
            let (r, _) = w.join().expect("thread");
            let late = cause.elapsed();
            let e = r.expect_err("the parent ended");
            assert!(
                e.to_string()
                    .contains("the pod's parent pod ended before it ran"),
                "{e}"
            );
            assert!(late < Duration::from_millis(50), "round {round}: {late:?}");

            set(&paths, State::Isolating);
            let w = waiter(&paths, Until::Placed);
            std::thread::sleep(Duration::from_millis(30));
            let cause = Instant::now();
            std::fs::write(paths.kill_marker("pod/m"), "9").expect("kill marker");
            pod_ns::wake_waiters(&paths.pod_ns("pod"));
            let (r, _) = w.join().expect("thread");
            let late = cause.elapsed();
            let e = r.expect_err("killed").to_string();
            assert!(
                e.contains("pod/m") && e.contains("killed before the task started"),
                "{e}"
            );
            assert!(late < Duration::from_millis(50), "round {round}: {late:?}");
            std::fs::remove_file(paths.kill_marker("pod/m")).expect("unkill");

            // The parent's teardown wakes them too, and they find it gone.
            let w = waiter(&paths, Until::Placed);
            std::thread::sleep(Duration::from_millis(30));
            let cause = Instant::now();
            pod_ns::remove("pod", &paths.pod_ns("pod")).expect("remove");
            let (r, _) = w.join().expect("thread");
            let late = cause.elapsed();
            r.expect_err("torn down");
            assert!(late < Duration::from_millis(50), "round {round}: {late:?}");
        }
    }
}
