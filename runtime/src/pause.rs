//! A pod's pause process: the task of a pod's parent container (`spec::pod::pause_command`). It holds the pod's
//! namespaces for its members to join and does nothing else: no memory to speak of, no CPU, until SIGTERM, SIGINT
//! or SIGHUP ends it with status 0 (a pod ended by its members, or stopped). As pid 1 of its pid namespace it
//! also reaps whatever is re-parented to it.

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

/// Runs until told to stop; returns the exit code.
pub fn run() -> i32 {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    // Blocked, then taken one at a time with sigwait: no handler runs, and pid 1's default of ignoring
    // signals without a handler does not apply to a blocked signal that is waited for.
    if nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None).is_err() {
        return 1;
    }
    loop {
        match set.wait() {
            Ok(Signal::SIGCHLD) => reap(),
            Ok(_) => return 0,
            Err(_) => return 1,
        }
    }
}

fn reap() {
    while let Ok(s) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if s == WaitStatus::StillAlive {
            break;
        }
    }
}
