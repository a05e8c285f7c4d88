//! One probe, run in a process forked from the supervisor, so that a probe costs the supervisor no thread and
//! no memory of its own, can block (connect, TLS, a read) without stalling the wait, and can enter the
//! container's namespaces, which a process can only do for itself. The supervisor polls the probe's pidfd
//! beside the task's, and reads the result from a pipe when it ends: the exit code is the outcome, the pipe
//! holds a one-line message. Forking without exec is sound because the supervisor is single-threaded.
//!
//! A COMMAND probe forks once more: the first child joins the container's cgroups and namespaces (a pid
//! namespace applies to children only), its child takes the task's identity and execs the command, and the
//! first child waits for it with the check's timeout and collects the tail of its output for the message.

use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use rustix::event::{poll, PollFd, PollFlags};
use rustix::pipe::{pipe_with, PipeFlags};

use super::net::{self, NetProbe};
use crate::container::health::Outcome;
use crate::launcher::{self, Entry, Launcher, Linux, Plan};
use crate::spec::health::CheckCommand;
use crate::supervisor::poll_time::timespec;

pub enum Job<'a> {
    /// A network probe; `netns_of` is the task's init when it runs in the container's network namespace.
    Net {
        probe: NetProbe,
        netns_of: Option<i32>,
    },
    Command {
        plan: &'a Plan,
        init_pid: i32,
        entry: Entry,
    },
}

/// A probe in flight.
pub struct Running {
    pid: Pid,
    pidfd: OwnedFd,
    out: File,
    /// When the supervisor gives up on it (its timeout, with a margin for the probe's own).
    pub deadline: Option<Instant>,
}

const PASSED: i32 = 0;
const FAILED: i32 = 1;
const IGNORED: i32 = 2;
/// The most of a command's output kept for its message.
const OUTPUT_TAIL: usize = 4096;

pub fn spawn(job: &Job<'_>, timeout: Option<Duration>) -> std::io::Result<Running> {
    let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
    // SAFETY: the supervisor is single-threaded, so the child may run Rust code (allocate, lock) until it exits.
    match unsafe { fork() }? {
        ForkResult::Child => {
            drop(r);
            let mut report = File::from(w);
            let (outcome, message) = run(job, timeout);
            let _ = report.write_all(message.as_bytes());
            let code = match outcome {
                Outcome::Passed => PASSED,
                Outcome::Failed => FAILED,
                Outcome::Ignored => IGNORED,
            };
            // SAFETY: _exit skips the parent's atexit handlers and buffered state, which are not ours to run.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(w);
            let pidfd = pidfd(child.as_raw())?;
            Ok(Running {
                pid: child,
                pidfd,
                out: File::from(r),
                deadline: timeout.map(|t| Instant::now() + t + Duration::from_secs(1)),
            })
        }
    }
}

fn pidfd(pid: i32) -> std::io::Result<OwnedFd> {
    let p = rustix::process::Pid::from_raw(pid).ok_or(std::io::ErrorKind::InvalidInput)?;
    Ok(rustix::process::pidfd_open(
        p,
        rustix::process::PidfdFlags::empty(),
    )?)
}

impl Running {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }

    /// The result, once the probe process has ended (its pidfd polled readable).
    pub fn finish(mut self) -> (Outcome, String) {
        let status = reap(self.pid);
        let mut message = String::new();
        let _ = (&mut self.out).take(1024).read_to_string(&mut message);
        let message = message.trim().to_string();
        match status {
            Some(PASSED) => (Outcome::Passed, message),
            Some(IGNORED) => (Outcome::Ignored, message),
            Some(FAILED) => (Outcome::Failed, message),
            _ => (
                Outcome::Failed,
                format!("the probe process died: {message}"),
            ),
        }
    }

    /// Kill it (past its deadline, or the task is ending).
    pub fn abort(self, why: String) -> (Outcome, String) {
        let _ = nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGKILL);
        reap(self.pid);
        (Outcome::Failed, why)
    }
}

/// In the probe process.
fn run(job: &Job<'_>, timeout: Option<Duration>) -> (Outcome, String) {
    match job {
        Job::Net { probe, netns_of } => {
            if let Some(pid) = netns_of {
                let ns = std::path::PathBuf::from(format!("/proc/{pid}/ns/net"));
                if let Err(e) = Linux.join_namespace(&ns, libc::CLONE_NEWNET) {
                    return (
                        Outcome::Failed,
                        format!("entering the container's network: {e}"),
                    );
                }
            }
            net::run(probe, timeout)
        }
        Job::Command {
            plan,
            init_pid,
            entry,
        } => command(plan, *init_pid, entry, timeout),
    }
}

fn command(
    plan: &Plan,
    init_pid: i32,
    entry: &Entry,
    timeout: Option<Duration>,
) -> (Outcome, String) {
    if let Err(f) = launcher::join_container(&Linux, plan, init_pid) {
        return (Outcome::Failed, format!("entering the container: {f}"));
    }
    let pipes = (|| -> std::io::Result<_> {
        let (r, w) = pipe_with(PipeFlags::CLOEXEC)?;
        let w2 = w.try_clone()?;
        let null = OwnedFd::from(File::open("/dev/null")?);
        Ok((r, [null, w, w2]))
    })();
    let (out, stdio) = match pipes {
        Ok(p) => p,
        Err(e) => return (Outcome::Failed, format!("output pipe: {e}")),
    };
    // SAFETY: this process is single-threaded (a fork of the supervisor).
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop(out);
            let f = launcher::exec_entered(&Linux, plan, entry, launcher::Stdio::Fds(stdio));
            // stderr is the pipe by now, or the failure happened before it was.
            let _ = writeln!(std::io::stderr(), "{f}");
            // SAFETY: see `spawn`.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => return (Outcome::Failed, format!("fork: {e}")),
    };
    drop(stdio);
    let (status, output) = wait_collecting(child, &File::from(out), timeout);
    let tail = last_line(&output);
    match status {
        Some(0) => (Outcome::Passed, "command exited with status 0".into()),
        Some(code) => (
            Outcome::Failed,
            format!("command exited with status {code}{tail}"),
        ),
        None => (
            Outcome::Failed,
            format!(
                "command timed out after {}s{tail}",
                timeout.map(|t| t.as_secs_f64()).unwrap_or_default()
            ),
        ),
    }
}

/// Wait for the command, reading its output meanwhile; past the timeout kill its whole session (it called
/// setsid). Returns its exit code (128+signal if a signal ended it; None on timeout) and the output's tail.
fn wait_collecting(child: Pid, out: &File, timeout: Option<Duration>) -> (Option<i32>, Vec<u8>) {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut output = Vec::new();
    let Ok(pidfd) = pidfd(child.as_raw()) else {
        return (reap(child), output);
    };
    let mut out_open = true;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            let _ = nix::sys::signal::killpg(child, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            reap(child);
            return (None, output);
        }
        let ts = left.map(timespec);
        let mut set = vec![PollFd::new(&pidfd, PollFlags::IN)];
        if out_open {
            set.push(PollFd::new(out, PollFlags::IN));
        }
        if poll(&mut set, ts.as_ref()).is_err() {
            continue;
        }
        let ended = !set[0].revents().is_empty();
        let readable = set.get(1).is_some_and(|p| !p.revents().is_empty());
        drop(set);
        if readable {
            let mut buf = [0u8; 4096];
            match rustix::io::read(out, &mut buf) {
                Ok(0) | Err(_) => out_open = false,
                Ok(n) => {
                    output.extend_from_slice(&buf[..n]);
                    let excess = output.len().saturating_sub(OUTPUT_TAIL);
                    output.drain(..excess);
                }
            }
        }
        if ended {
            return (reap(child), output);
        }
    }
}

/// Wait for `pid`: its exit code, 128 + the signal that ended it, None if it cannot be waited for.
fn reap(pid: Pid) -> Option<i32> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Some(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Some(128 + sig as i32),
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return None,
        }
    }
}

/// ": <the last non-empty line>" of a command's output, shortened, or nothing.
fn last_line(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    match text.lines().rev().map(str::trim).find(|l| !l.is_empty()) {
        Some(l) if l.chars().count() > 200 => {
            format!(": {}...", l.chars().take(200).collect::<String>())
        }
        Some(l) => format!(": {l}"),
        None => String::new(),
    }
}

/// The argv of a command check: `/bin/sh -c VALUE` for a shell command, else VALUE with the arguments (Mesos
/// `CommandInfo` rules, argv[0] included in `arguments`).
pub fn entry(cmd: &CheckCommand) -> Entry {
    let (program, args) = if cmd.shell {
        let sh = vec!["sh".to_string(), "-c".to_string(), cmd.value.clone()];
        ("/bin/sh".to_string(), sh)
    } else if cmd.arguments.is_empty() {
        (cmd.value.clone(), vec![cmd.value.clone()])
    } else {
        (cmd.value.clone(), cmd.arguments.clone())
    };
    Entry {
        program,
        args: args
            .into_iter()
            .filter_map(|a| CString::new(a).ok())
            .collect(),
        env: cmd.env.clone(),
    }
}
