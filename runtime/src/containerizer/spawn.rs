//! Starting a container's supervisor and reading its first word. A single-threaded caller (the CLI's `run`)
//! forks it: the supervisor then starts without a second exec of `ucr` (loading and relocating the binary again
//! is most of a millisecond of every launch). A multi-threaded one (the agent, or the CLI after a pull started
//! the async runtime) execs `ucr __supervise` with the same global options, because a fork of a multi-threaded
//! process may only call async-signal-safe functions and the supervisor runs Rust code.
//!
//! The supervisor reports on a pipe: one line, `started <pid>` or `failed <code> <message>`, then `exited
//! <termination json>` and EOF when it is done.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::config::SupervisorCommand;
use crate::container::error::{ContainerError, Result};
use crate::container::paths::Paths;
use crate::supervisor::{supervise, SuperviseArgs};

/// A started container: the supervisor's pipe (a line `exited <termination json>`, then EOF when it is done) and
/// the supervisor itself. The reader is kept buffered: the `exited` line may already sit behind `started`.
pub struct Launched {
    pub pid: i32,
    pub done: BufReader<File>,
    supervisor: Supervisor,
}

/// How the supervisor was started: forked from this process, or `ucr __supervise` exec'd.
enum Supervisor {
    Forked(i32),
    Exec(Child),
}

impl Supervisor {
    fn wait(&mut self) {
        match self {
            // SAFETY: waitpid on our own child; the status is not needed.
            Supervisor::Forked(pid) => unsafe {
                libc::waitpid(*pid, std::ptr::null_mut(), 0);
            },
            Supervisor::Exec(c) => {
                let _ = c.wait();
            }
        }
    }
}

impl Launched {
    /// The supervisor's pipe and the means to reap it, for a long-lived caller (the agent) that follows the pipe
    /// itself and must not leave a zombie behind per container.
    pub fn split(self) -> (BufReader<File>, Reaper) {
        (self.done, Reaper(self.supervisor))
    }

    /// After the pipe's EOF: the supervisor has done everything (teardown, `--rm`) and is only exiting. Reap it
    /// if it is gone already; otherwise leave its exit (unmapping its memory takes a few hundred microseconds) to
    /// whoever inherits it when this process ends.
    pub fn release_supervisor(self) {
        match self.supervisor {
            // SAFETY: a non-blocking waitpid on our own child.
            Supervisor::Forked(pid) => unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
            },
            Supervisor::Exec(mut c) => {
                let _ = c.try_wait();
            }
        }
    }
}

/// Reaps a supervisor once its pipe reached EOF (it closes the pipe just before it exits).
pub struct Reaper(Supervisor);

impl Reaper {
    /// Blocks until the supervisor has exited, then reaps it.
    pub fn reap(mut self) {
        self.0.wait();
    }
}

/// One thread only: then a fork is a complete copy that may run any code (no lock is held by a thread that
/// the child would not have).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.split_whitespace().eq(["Threads:", "1"]))
        })
        .unwrap_or(false)
}

/// Start the supervisor of `id` and read its first line.
pub fn spawn(
    paths: &Paths,
    store_dir: &Path,
    command: &SupervisorCommand,
    id: &str,
) -> Result<Launched> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| ContainerError::io("pipe", e.into()))?;
    let log_path = paths.supervisor_log(id);
    let log = File::create(&log_path).map_err(|e| ContainerError::io(&log_path, e))?;
    let child = if single_threaded() {
        fork_supervisor(paths, store_dir, id, &write, log)?
    } else {
        exec_supervisor(command, id, &write, log)?
    };
    drop::<OwnedFd>(write);
    let mut done = BufReader::new(File::from(read));
    let mut line = String::new();
    done.read_line(&mut line)
        .map_err(|e| ContainerError::io(paths.supervisor_log(id), e))?;
    let line = line.trim_end();
    if let Some(pid) = line.strip_prefix("started ") {
        let pid = pid.parse().unwrap_or(0);
        return Ok(Launched {
            pid,
            done,
            supervisor: child,
        });
    }
    // The supervisor recorded the failure and tore down itself; report it with its exit code.
    let mut child = child;
    child.wait();
    let (code, msg) = match line.strip_prefix("failed ") {
        Some(rest) => {
            let (c, m) = rest.split_once(' ').unwrap_or((rest, ""));
            (c.parse().unwrap_or(125), m.to_string())
        }
        None => {
            let log = fs::read_to_string(paths.supervisor_log(id)).unwrap_or_default();
            (
                125,
                format!(
                    "container {id}: supervisor ended without starting the task: {}",
                    log.trim()
                ),
            )
        }
    };
    Err(ContainerError::Started {
        id: id.to_string(),
        why: msg,
        code,
    })
}

fn fork_supervisor(
    paths: &Paths,
    store_dir: &Path,
    id: &str,
    notify: &OwnedFd,
    log: File,
) -> Result<Supervisor> {
    let null = File::open("/dev/null").map_err(|e| ContainerError::io("/dev/null", e))?;
    // SAFETY: the caller checked that this process has one thread, so the child is a whole copy of it. The
    // child never returns into the caller's code: it runs the supervisor and `_exit`s.
    match unsafe { libc::fork() } {
        -1 => Err(ContainerError::io("fork", std::io::Error::last_os_error())),
        0 => {
            // SAFETY: plain fd and session calls on fds this process owns.
            unsafe {
                // Own session: Ctrl-C at the caller's terminal must not reach the supervisor.
                libc::setsid();
                libc::dup2(null.as_raw_fd(), 0);
                libc::dup2(null.as_raw_fd(), 1);
                libc::dup2(log.as_raw_fd(), 2);
                // Nothing of the caller's stays open here (a lock it holds, the pipe's read end): only the
                // pipe's write end, at 3 as for the exec'd supervisor.
                if notify.as_raw_fd() != 3 {
                    libc::dup2(notify.as_raw_fd(), 3);
                }
                libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
            }
            let code = supervise(&SuperviseArgs {
                paths,
                store_dir,
                id,
                notify_fd: Some(3),
            });
            // SAFETY: ends the child without running the caller's exit handlers or unwinding into its code.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(Supervisor::Forked(pid)),
    }
}

fn exec_supervisor(
    command: &SupervisorCommand,
    id: &str,
    notify: &OwnedFd,
    log: File,
) -> Result<Supervisor> {
    let wfd = notify.as_raw_fd();
    let mut cmd = Command::new(&command.exe);
    cmd.args(&command.args)
        .arg("__supervise")
        .arg("--notify-fd")
        .arg("3")
        .arg("--")
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    // SAFETY: only async-signal-safe calls (setsid, dup2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Own session: Ctrl-C at the caller's terminal must not reach the supervisor.
            libc::setsid();
            if libc::dup2(wfd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| ContainerError::io(&command.exe, e))?;
    Ok(Supervisor::Exec(child))
}
