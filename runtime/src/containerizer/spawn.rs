//! Starting a container's supervisor and reading its first word. A single-threaded caller (the CLI's `run`)
//! forks it (`fork.rs`). A multi-threaded one has it forked by its forker (the agent, `forker.rs`), or else (the
//! CLI after a pull started the async runtime) execs `ucr __supervise` with the same global options, because a
//! fork of a multi-threaded process may only call async-signal-safe functions and the supervisor runs Rust
//! code.
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
use super::fork::{fork_supervisor, single_threaded};
use super::forker::Forker;
use crate::container::error::{ContainerError, Result};
use crate::container::paths::Paths;
use crate::supervisor::Known;

/// A started container: the supervisor's pipe (a line `exited <termination json>`, then EOF when it is done) and
/// the supervisor itself. The reader is kept buffered: the `exited` line may already sit behind `started`.
pub struct Launched {
    pub pid: i32,
    pub done: BufReader<File>,
    supervisor: Supervisor,
}

/// How the supervisor was started: forked from this process, forked by the forker (which reaps it), or
/// `ucr __supervise` exec'd.
enum Supervisor {
    Forked(i32),
    ByForker,
    Exec(Child),
}

impl Supervisor {
    fn wait(&mut self) {
        match self {
            // SAFETY: waitpid on our own child; the status is not needed.
            Supervisor::Forked(pid) => unsafe {
                libc::waitpid(*pid, std::ptr::null_mut(), 0);
            },
            Supervisor::ByForker => {}
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
            Supervisor::ByForker => {}
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

/// A supervisor started and not yet heard from: the caller may prepare another container meanwhile (a pod's
/// members start side by side).
pub struct Starting {
    id: String,
    done: BufReader<File>,
    child: Supervisor,
}

/// Starts the supervisor of `id`, without waiting for its first word (`Starting::started`): forked here when this
/// process has one thread (from `known`, what the caller just wrote of the container), else by the forker if
/// there is one (and it is still there), else `ucr __supervise` exec'd (both read the checkpoints).
pub fn start(
    paths: &Paths,
    store_dir: &Path,
    command: &SupervisorCommand,
    forker: Option<&Forker>,
    id: &str,
    known: Known,
) -> Result<Starting> {
    let (read, write, log) = report_pipe(paths, id)?;
    let child = if single_threaded() {
        Supervisor::Forked(fork_supervisor(
            paths,
            store_dir,
            id,
            &write,
            log,
            Some(known),
        )?)
    } else {
        match forker.map(|f| f.request(id, &write, &log)) {
            Some(Ok(())) => Supervisor::ByForker,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "the forker is gone; starting `ucr __supervise` instead");
                exec_supervisor(command, id, &write, log, known.config.stdin)?
            }
            None => exec_supervisor(command, id, &write, log, known.config.stdin)?,
        }
    };
    drop::<OwnedFd>(write);
    Ok(Starting {
        id: id.to_string(),
        done: BufReader::new(File::from(read)),
        child,
    })
}

/// The supervisor's report pipe (read end, write end) and its log file, made new.
pub(super) fn report_pipe(paths: &Paths, id: &str) -> Result<(OwnedFd, OwnedFd, File)> {
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| ContainerError::io("pipe", e.into()))?;
    let log_path = paths.supervisor_log(id);
    let log = File::create(&log_path).map_err(|e| ContainerError::io(&log_path, e))?;
    Ok((read, write, log))
}

impl Starting {
    /// The supervisor of `id` forked from this process as `pid`, reporting on `read` (`member_process.rs`).
    pub(super) fn forked(id: &str, read: OwnedFd, pid: i32) -> Starting {
        Starting {
            id: id.to_string(),
            done: BufReader::new(File::from(read)),
            child: Supervisor::Forked(pid),
        }
    }

    /// The supervisor's first word: its task runs, or the launch failed (recorded and torn down by it).
    pub fn started(self, paths: &Paths) -> Result<Launched> {
        let Starting {
            id,
            mut done,
            mut child,
        } = self;
        let id = id.as_str();
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
}

fn exec_supervisor(
    command: &SupervisorCommand,
    id: &str,
    notify: &OwnedFd,
    log: File,
    stdin: bool,
) -> Result<Supervisor> {
    let mut cmd = supervise_command(command, id, notify, log);
    if stdin {
        give_stdin(&mut cmd);
    }
    let child = cmd
        .spawn()
        .map_err(|e| ContainerError::io(&command.exe, e))?;
    Ok(Supervisor::Exec(child))
}

/// `cmd` (a `ucr __supervise`) gets this process's stdin at `STDIN_FD`, for a task that reads it, and /dev/null as
/// its own.
fn give_stdin(cmd: &mut Command) {
    cmd.stdin(Stdio::inherit());
    // SAFETY: only async-signal-safe calls (dup2, open, close) between fork and exec; the path is a literal.
    unsafe {
        cmd.pre_exec(|| {
            if libc::dup2(0, crate::supervisor::STDIN_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if null < 0 || libc::dup2(null, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(null);
            Ok(())
        });
    }
}

/// `ucr __supervise ID` with the caller's global options: its pipe's write end `notify` at fd 3, stdin and
/// stdout /dev/null, stderr `log`, in a session of its own (Ctrl-C at the caller's terminal must not reach the
/// supervisor; a process that leads one already keeps it).
pub(super) fn supervise_command(
    command: &SupervisorCommand,
    id: &str,
    notify: &OwnedFd,
    log: File,
) -> Command {
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
            libc::setsid();
            if libc::dup2(wfd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}
