//! Forking a supervisor from a single-threaded process: the CLI's `run` does it itself, a multi-threaded caller
//! through its forker. The child is a whole copy of the caller, so it runs the supervisor without a second exec
//! of `ucr` (loading and relocating the binary again is most of a millisecond of every launch).

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use crate::container::error::{ContainerError, Result};
use crate::container::handoff;
use crate::container::paths::Paths;
use crate::supervisor::{supervise, Known, SuperviseArgs, STDIN_FD};

/// One thread only: then a fork is a complete copy that may run any code (no lock is held by a thread that
/// the child would not have).
pub fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.split_whitespace().eq(["Threads:", "1"]))
        })
        .unwrap_or(false)
}

/// Forks the supervisor of `id` from this single-threaded process (the CLI, or the forker); returns its pid.
/// `known`: what the caller has just written of the container, if it launched it (`supervisor::Known`).
pub fn fork_supervisor(
    paths: &Paths,
    store_dir: &Path,
    id: &str,
    notify: &OwnedFd,
    log: File,
    known: Option<Known>,
) -> Result<i32> {
    let null = null_device()?;
    let launcher = std::process::id() as i32;
    // SAFETY: the caller checked that this process has one thread, so the child is a whole copy of it. The
    // child never returns into the caller's code: it runs the supervisor and `_exit`s.
    match unsafe { libc::fork() } {
        -1 => Err(ContainerError::io("fork", std::io::Error::last_os_error())),
        0 => {
            handoff::die_with_launcher(launcher);
            // SAFETY: setsid on this new process.
            unsafe { libc::setsid() };
            become_supervisor(paths, store_dir, id, null, notify, log, known)
        }
        pid => Ok(pid),
    }
}

/// /dev/null for a supervisor's stdin and stdout, opened before it is forked, where a failure is the launch's
/// error rather than a supervisor left with its launcher's stdio.
pub fn null_device() -> Result<File> {
    File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| ContainerError::io("/dev/null", e))
}

/// Runs the supervisor of `id` in this process, a child of the launching process in its own session, and exits
/// with its code: stdin and stdout are `null` (`null_device`), stderr is `log`, the pipe's write end `notify` is
/// fd 3, this process's stdin is at `STDIN_FD` for a task that reads it, and nothing else stays open. The
/// process must have one thread (`single_threaded`).
pub fn become_supervisor(
    paths: &Paths,
    store_dir: &Path,
    id: &str,
    null: File,
    notify: &OwnedFd,
    log: File,
    known: Option<Known>,
) -> ! {
    // The launcher's stdin, for a task that reads it, kept at STDIN_FD.
    let stdin = known.as_ref().is_some_and(|k| k.config.stdin);
    // SAFETY: plain fd and signal calls on fds this process owns.
    unsafe {
        // The forker ignores SIGCHLD (the kernel reaps its children); the supervisor waits for its task.
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        // Set aside above the fds being placed (any of which may be at STDIN_FD now), put there last.
        let saved = match stdin {
            true => libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 10),
            false => -1,
        };
        libc::dup2(null.as_raw_fd(), 0);
        libc::dup2(null.as_raw_fd(), 1);
        libc::dup2(log.as_raw_fd(), 2);
        // Nothing of the caller's stays open here (a lock it holds, the pipe's read end): only the pipe's write
        // end, at 3 as for the exec'd supervisor.
        if notify.as_raw_fd() != 3 {
            libc::dup2(notify.as_raw_fd(), 3);
        }
        if saved >= 0 {
            libc::dup2(saved, STDIN_FD);
        }
        let first_closed = if saved >= 0 { STDIN_FD + 1 } else { 4 };
        libc::syscall(libc::SYS_close_range, first_closed as u32, u32::MAX, 0u32);
    }
    let args = SuperviseArgs {
        paths,
        store_dir,
        id,
        notify_fd: Some(3),
    };
    let code = supervise(&args, known);
    // SAFETY: ends the process without running the caller's exit handlers or unwinding into its code.
    unsafe { libc::_exit(code) }
}
