//! The handoff of a container being made from its launching process to a process forked to go on with it (its
//! supervisor, or a pod member's own process). Until the child has checkpointed itself as the container's owner,
//! the record names the launcher: a launcher killed in that window leaves the container looking lost to a
//! `rm --force`, which tears it down and removes it while the child goes on making it (its cgroups, its task)
//! with no record left. So the child dies with its launcher until it owns the container, and outlives it from
//! then on (a launch left behind by its killed launcher is then either lost and torn down, or made whole by an
//! owner on record).

use std::io;

/// In the child, first thing after the fork: die with `launcher` (the parent's pid taken before the fork), and
/// at once if it has died already. Only for a launcher with one thread: the kernel sends the signal when the
/// forking *thread* ends.
pub fn die_with_launcher(launcher: i32) {
    // SAFETY: prctl and getppid on this process; _exit ends it without running the parent's exit handlers.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != launcher {
            libc::_exit(137);
        }
    }
}

/// The record names this process as the container's owner now: it no longer dies with its launcher.
pub fn owned() -> io::Result<()> {
    // SAFETY: prctl on this process.
    match unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_clears_the_death_signal() {
        // In a child, so that the test process keeps its own settings.
        // SAFETY: the child only calls prctl and _exit.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            die_with_launcher(unsafe { libc::getppid() });
            let mut sig: libc::c_int = -1;
            let set = unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, &mut sig) } == 0
                && sig == libc::SIGKILL;
            let cleared = owned().is_ok()
                && unsafe { libc::prctl(libc::PR_GET_PDEATHSIG, &mut sig) } == 0
                && sig == 0;
            unsafe { libc::_exit(if set && cleared { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status:#x}"
        );
    }
}
