//! The supervisor's wait: for the task's init to end, and meanwhile for the isolators' limitation fds (e.g. the
//! memory cgroup's OOM notification). A limitation kills the task (its init is pid 1 of the container's pid
//! namespace, so every process goes with it; the teardown's cgroup kill catches a shared pid namespace) and
//! becomes part of the termination, as Mesos's containerizer does.
//!
//! Single-threaded like the rest of the supervisor: one poll over a pidfd and the watch fds.

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use rustix::event::{poll, PollFd, PollFlags};
use ucr_isolators::{Isolators, Limitation};

use super::residency::release_launch_pages;
use crate::container::isolation::{self, Places};
use crate::container::paths::Paths;
use crate::container::state::ContainerState;

/// How long the task runs before the supervisor drops its launch pages. A short task (a health check, `true`)
/// ends first and its teardown is not delayed by the release; a long one pays it once, early.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(100);

/// Returns the init's raw wait status and the limitation that ended it, if any.
pub fn wait(paths: &Paths, st: &ContainerState, pid: i32) -> (i32, Option<Limitation>) {
    let places = Places::of(paths, st);
    let c = places.container();
    let isolators = match isolation::isolators(st) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!("no isolator watch: {e}");
            release_launch_pages();
            return (reap(pid), None);
        }
    };
    let fds = isolators.watch_fds(&c).unwrap_or_else(|e| {
        tracing::warn!("isolator watch fds: {e}");
        Vec::new()
    });
    tracing::debug!(watches = fds.len(), "supervisor waiting");
    let limitation = watch(&isolators, &places, pid, &fds);
    let status = reap(pid);
    // The kernel may have acted (OOM kill of the init) before the notification was read.
    (status, limitation.or_else(|| isolators.watch(&c)))
}

/// Poll until the init ends or a limitation is found; on a limitation, kill the init and return it. Once the task
/// has run for [`SETTLE`], everything the wait needs is set up: the launch's pages are dropped then, so what
/// stays resident is the wait.
fn watch(isolators: &Isolators, places: &Places, pid: i32, fds: &[OwnedFd]) -> Option<Limitation> {
    let Some(pidfd) = rustix::process::Pid::from_raw(pid)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()).ok())
    else {
        release_launch_pages();
        return None;
    };
    let mut settled = false;
    loop {
        let mut set: Vec<PollFd<'_>> = Vec::with_capacity(fds.len() + 1);
        set.push(PollFd::new(&pidfd, PollFlags::IN));
        set.extend(fds.iter().map(|f| PollFd::new(f, PollFlags::IN)));
        let settle = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: SETTLE.as_nanos() as i64,
        };
        match poll(&mut set, (!settled).then_some(&settle)) {
            Ok(0) => {
                settled = true;
                let released = release_launch_pages();
                tracing::debug!(released, "launch pages released");
                continue;
            }
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
        let fired: Vec<usize> = set[1..]
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.revents().is_empty())
            .map(|(i, _)| i)
            .collect();
        drop(set);
        for i in fired {
            drain(&fds[i]);
        }
        if let Some(l) = isolators.watch(&places.container()) {
            tracing::info!(reason = l.reason, "limitation: {}", l.message);
            // SAFETY: plain kill(2) of our own child, which we have not reaped, so the pid is still ours.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            return Some(l);
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
