//! The supervisor's wait: for the task's init to end, and meanwhile for the isolators' limitation fds (e.g. the
//! memory cgroup's OOM notification). A limitation kills the task (its init is pid 1 of the container's pid
//! namespace, so every process goes with it; the teardown's cgroup kill catches a shared pid namespace) and
//! becomes part of the termination, as Mesos's containerizer does.
//!
//! The container's health checks run in the same wait (`health`): their probes' pidfds join the poll, and a
//! check past its limit has the task killed through its kill policy.
//!
//! Single-threaded like the rest of the supervisor: one poll over the init's pidfd, the watch fds and the
//! probes' pidfds, with a timeout for the next timer.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use rustix::event::{poll, PollFd, PollFlags};
use ucr_isolators::{Isolators, Limitation};

use super::console::Console;
use super::health::Checker;
use super::poll_time::timespec;
use super::residency::release_launch_pages;
use crate::container::checkpoint::write_atomic;
use crate::container::isolation::{self, Places};
use crate::container::paths::Paths;
use crate::container::state::ContainerState;

/// How long the task runs before the supervisor drops its launch pages. A short task (a health check, `true`)
/// ends first and its teardown is not delayed by the release; a long one pays it once, early.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

/// How the task's wait ended.
pub struct Ended {
    /// The init's raw wait status.
    pub status: i32,
    /// The limitation that ended it, if any.
    pub limitation: Option<Limitation>,
    /// Why its health checks had it killed, if they did.
    pub unhealthy: Option<String>,
}

/// Wait for the task, running its health checks meanwhile; `grace` is its kill policy's, for a health kill.
pub fn wait(
    paths: &Paths,
    st: &ContainerState,
    pid: i32,
    health: Option<Checker<'_>>,
    console: Option<Console>,
    grace: Duration,
) -> Ended {
    let places = Places::of(paths, st);
    let c = places.container();
    let isolators = match isolation::isolators(st) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!("no isolator watch: {e}");
            release_launch_pages();
            return Ended {
                status: reap(pid),
                limitation: None,
                unhealthy: None,
            };
        }
    };
    let fds = isolators.watch_fds(&c).unwrap_or_else(|e| {
        tracing::warn!("isolator watch fds: {e}");
        Vec::new()
    });
    tracing::debug!(watches = fds.len(), "supervisor waiting");
    let mut w = Watch {
        paths,
        st,
        isolators: &isolators,
        places: &places,
        pid,
        health,
        console,
        grace,
        unhealthy: None,
    };
    let limitation = w.run(&fds);
    if let Some(h) = w.health.as_mut() {
        h.stop();
    }
    let unhealthy = w.unhealthy.take();
    // What the task wrote last is still in the terminal.
    if let Some(c) = w.console.as_mut() {
        c.pump();
    }
    let status = reap(pid);
    Ended {
        status,
        // The kernel may have acted (OOM kill of the init) before the notification was read.
        limitation: limitation.or_else(|| isolators.watch(&c, true)),
        unhealthy,
    }
}

struct Watch<'a> {
    paths: &'a Paths,
    st: &'a ContainerState,
    isolators: &'a Isolators,
    places: &'a Places,
    pid: i32,
    health: Option<Checker<'a>>,
    console: Option<Console>,
    grace: Duration,
    unhealthy: Option<String>,
}

impl Watch<'_> {
    /// Poll until the init ends or a limitation is found; on a limitation, kill the init and return it. Health
    /// probes run meanwhile; a check past its limit starts the kill policy (SIGTERM to every process, SIGKILL
    /// after the grace period). Once the task has run for [`SETTLE`], everything the wait needs is set up: the
    /// launch's pages are dropped then, so what stays resident is the wait.
    fn run(&mut self, fds: &[OwnedFd]) -> Option<Limitation> {
        let Some(pidfd) = rustix::process::Pid::from_raw(self.pid).and_then(|p| {
            rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok()
        }) else {
            release_launch_pages();
            return None;
        };
        let settle_at = Instant::now() + SETTLE;
        let mut settled = false;
        let mut sigkill_at: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if !settled && now >= settle_at {
                settled = true;
                let released = release_launch_pages();
                tracing::debug!(released, "launch pages released");
            }
            if sigkill_at.is_some_and(|t| now >= t) {
                sigkill_at = None;
                tracing::info!("the grace period is over: killing every process of the task");
                if let Err(e) = self.isolators.kill(&self.places.container()) {
                    tracing::warn!("kill: {e}");
                }
            }
            let wake = [
                (!settled).then_some(settle_at),
                sigkill_at,
                self.health.as_ref().and_then(|h| h.wakeup()),
            ]
            .into_iter()
            .flatten()
            .min();
            let timeout = wake.map(|w| timespec(w.saturating_duration_since(now)));
            let probes: Vec<(usize, BorrowedFd<'_>)> =
                self.health.as_ref().map(|h| h.fds()).unwrap_or_default();
            let mut set: Vec<PollFd<'_>> = Vec::with_capacity(2 + fds.len() + probes.len());
            set.push(PollFd::new(&pidfd, PollFlags::IN));
            set.extend(fds.iter().map(|f| PollFd::new(f, PollFlags::IN)));
            set.extend(probes.iter().map(|(_, f)| PollFd::new(f, PollFlags::IN)));
            // The terminal last, while the task's side is open (a closed one would wake the poll for ever):
            // its master, then its input socket's fds.
            let console_at = set.len();
            set.extend(
                self.console
                    .as_ref()
                    .map(|c| c.poll_fds())
                    .unwrap_or_default(),
            );
            match poll(&mut set, timeout.as_ref()) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    tracing::warn!("poll: {e}");
                    return None;
                }
            }
            if !set[0].revents().is_empty() {
                return None;
            }
            let ready = |p: &PollFd<'_>| !p.revents().is_empty();
            let fired: Vec<usize> = (0..fds.len()).filter(|i| ready(&set[1 + i])).collect();
            let ended: Vec<usize> = probes
                .iter()
                .enumerate()
                .filter(|(k, _)| ready(&set[1 + fds.len() + k]))
                .map(|(_, (i, _))| *i)
                .collect();
            let console_ready: Vec<bool> = set[console_at..].iter().map(ready).collect();
            drop(set);
            drop(probes);
            if console_ready.contains(&true)
                && self
                    .console
                    .as_mut()
                    .is_some_and(|c| !c.serve(&console_ready))
            {
                // Every holder of the slave closed it; the pidfd still says when the init ends.
                self.console = None;
            }
            for i in fired {
                drain(&fds[i]);
            }
            if let Some(l) = self.isolators.watch(&self.places.container(), false) {
                tracing::info!(reason = l.reason, "limitation: {}", l.message);
                // SAFETY: plain kill(2) of our own child, which we have not reaped, so the pid is still ours.
                unsafe {
                    libc::kill(self.pid, libc::SIGKILL);
                }
                return Some(l);
            }
            let verdict = self.health.as_mut().and_then(|h| h.service(&ended));
            if settled && !ended.is_empty() {
                // A probe's results were handled: drop the code that took again, as after the launch.
                release_launch_pages();
            }
            if let (Some(why), None) = (verdict, &self.unhealthy) {
                self.unhealthy = Some(why);
                sigkill_at = Some(Instant::now() + self.grace);
                self.terminate();
            }
        }
    }

    /// The kill policy's first step, as `ucr stop` takes it: the kill marker (the end is TASK_KILLED), then
    /// SIGTERM to every process of the container.
    fn terminate(&self) {
        let marker = self.paths.kill_marker(&self.st.id);
        if let Err(e) = write_atomic(&marker, libc::SIGTERM.to_string().as_bytes()) {
            tracing::warn!("kill marker: {e}");
        }
        if let Err(e) = self.isolators.signal(
            &self.places.container(),
            libc::SIGTERM,
            &crate::containerizer::ops::reapers(self.paths, self.st),
        ) {
            tracing::warn!("SIGTERM: {e}");
        }
    }
}

/// Consume what made an fd readable (an eventfd's counter, inotify events) so the next poll waits again.
fn drain(fd: &OwnedFd) {
    let mut buf = [0u8; 4096];
    let _ = rustix::io::read(fd.as_fd(), &mut buf);
}

/// Wait for the task's init, reaping anything else that ends up our child meanwhile. Returns the raw status.
fn reap(pid: i32) -> i32 {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return (code & 0xff) << 8,
            Ok(WaitStatus::Signaled(p, sig, core)) if p.as_raw() == pid => {
                return (sig as i32) | if core { 0x80 } else { 0 }
            }
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            // No children left: the init was reaped by someone else (cannot happen for our own child).
            Err(_) => return 0xff << 8,
        }
    }
}
