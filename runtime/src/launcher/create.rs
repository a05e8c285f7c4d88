//! Starting the init (the supervisor's side): one `clone3` into the new namespaces (on cgroup v2 straight into
//! its cgroup), two CLOEXEC pipes, and the init's first word. Supervisor → init: one byte to start. Init →
//! supervisor: `R` when ready, or `E<step>: <error>` and exit. The init's end of the report pipe closes at
//! exec, so EOF after start means the task runs.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use ucr_isolators::Placement;

use super::clone::{clone3, pipe, Forked};
use super::error::{Failure, LaunchError};
use super::idmap;
use super::init::{self, Stdio};
use super::linux::Linux;
use super::plan::Plan;
use super::stage::{self, Role};

/// An init that is ready and waits for start.
pub struct Created {
    pub pid: i32,
    go: File,
    report: File,
}

/// Start the init for `plan` in `cgroup`, and wait until it is ready to exec.
///
/// # Safety
/// The caller must be single-threaded (the init is a fork of it that runs Rust code before exec).
pub unsafe fn create(
    plan: &Plan,
    cgroup: &Placement,
    stdio: Stdio,
) -> Result<Created, LaunchError> {
    // SAFETY: passed on from the caller.
    let mut created = unsafe { clone_init(plan, cgroup, stdio) }?;
    created.ready()?;
    Ok(created)
}

/// [`create`] up to the clone: the init exists, in its cgroup (v2; on v1 it joins them as its first step) and
/// its new namespaces, and has not said "ready" yet ([`Created::ready`]).
///
/// # Safety
/// As [`create`].
pub unsafe fn clone_init(
    plan: &Plan,
    cgroup: &Placement,
    stdio: Stdio,
) -> Result<Created, LaunchError> {
    let (go_r, go_w) = pipe()?;
    // SAFETY: passed on from the caller.
    let (pid, report, go) = unsafe { spawn(plan, cgroup, stdio, go_r, Some(go_w)) }?;
    Ok(Created {
        pid,
        go: go.ok_or_else(|| Failure::new("init".into(), std::io::ErrorKind::Other.into()))?,
        report,
    })
}

/// [`create`] for an init that outlives the caller (the OCI runtime mode's `create`): it reads its "go" from
/// `go` (the read side of a FIFO that a later `start` writes to, opened read-write so that it never sees EOF),
/// and once it is ready nothing here waits for it: the caller exits and the init becomes the child of the
/// caller's reaper. With `plan.hooks_pause`, `hooks` runs (given the init's pid) when the init pauses before
/// `pivot_root`, and must send it a byte through `go`'s FIFO to go on. Returns its pid.
///
/// # Safety
/// As [`create`].
pub unsafe fn create_waiting(
    plan: &Plan,
    cgroup: &Placement,
    stdio: Stdio,
    go: OwnedFd,
    hooks: &mut dyn FnMut(i32) -> Result<(), String>,
) -> Result<i32, LaunchError> {
    // SAFETY: passed on from the caller.
    let (pid, mut report, _) = unsafe { spawn(plan, cgroup, stdio, File::from(go), None) }?;
    ready_after(pid, &mut report, Some(hooks))?;
    Ok(pid)
}

/// Clone the init, which reads its "go" from `go_r`; `parent_end` (the other end of that pipe) is closed in
/// the init and handed back. Returns the init's pid and the read side of its report pipe.
///
/// # Safety
/// As [`create`].
unsafe fn spawn(
    plan: &Plan,
    cgroup: &Placement,
    stdio: Stdio,
    mut go_r: File,
    parent_end: Option<File>,
) -> Result<(i32, File, Option<File>), LaunchError> {
    let (mut report_r, mut report_w) = pipe()?;
    // SAFETY: passed on from the caller.
    let mut trees = unsafe { idmap::prepare(plan) }?;
    // v2: cloned straight into its cgroup; v1: the init (or the intermediate) joins its cgroups itself, first
    // thing (see `Cgroups::join`).
    let into = cgroup.clone_into();
    let flags = if plan.staged { 0 } else { plan.clone_flags };
    // SAFETY: the caller guarantees a single thread.
    let forked = unsafe { clone3(flags, into) }.map_err(|e| Failure::new("clone3".into(), e))?;
    match forked {
        Forked::Child => {
            drop(parent_end);
            drop(report_r);
            // Never unwind back into the supervisor's code: a panic ends the init like a failure.
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut stage = None;
                if plan.staged {
                    // SAFETY: still the caller's single thread, copied.
                    match unsafe { stage::intermediate(&Linux, plan, &mut report_w) } {
                        Ok(Role::Init(r)) => stage = Some(r),
                        // SAFETY: as below; the intermediate's work is done.
                        Ok(Role::Done) => unsafe { libc::_exit(0) },
                        Err(f) => return f,
                    }
                }
                init::run(
                    &Linux,
                    plan,
                    stage.as_mut(),
                    &mut go_r,
                    &mut report_w,
                    stdio,
                    &mut trees,
                )
            }));
            let msg = match out {
                Ok(f) => f.report(),
                Err(_) => "panicked".to_string(),
            };
            let _ = report_w.write_all(format!("E{msg}").as_bytes());
            // The OCI mode's `go` is a FIFO that `start` reads back once the init has taken its "go": after
            // `create` has gone, this is where a failure between "go" and the exec can still be told (a
            // pipe's read end refuses the write, harmlessly).
            let _ = go_r.write_all(format!("E{msg}").as_bytes());
            // SAFETY: _exit skips the supervisor's atexit handlers and buffers, which are not ours to run.
            unsafe { libc::_exit(1) }
        }
        Forked::Parent { pid } if plan.staged => {
            let init = stage::init_pid(pid, &mut report_r)?;
            Ok((init, report_r, parent_end))
        }
        Forked::Parent { pid } => Ok((pid, report_r, parent_end)),
    }
}

/// Wait for the init's "ready"; on anything else it is killed and reaped.
fn ready(pid: i32, report: &mut File) -> Result<(), LaunchError> {
    ready_after(pid, report, None)
}

/// [`ready`], running `hooks` when the init says "H" (paused for them).
fn ready_after(
    pid: i32,
    report: &mut File,
    mut hooks: Option<&mut dyn FnMut(i32) -> Result<(), String>>,
) -> Result<(), LaunchError> {
    let out = loop {
        match read_report(report, 1) {
            Ok(r) if r == b"R" => return Ok(()),
            Ok(r) if r == b"H" => match hooks.as_mut().map(|h| h(pid)) {
                Some(Ok(())) => continue,
                Some(Err(why)) => break LaunchError::Init(why),
                None => break LaunchError::Init("paused for hooks nobody runs".into()),
            },
            Ok(r) => break failure(r),
            Err(e) => break e,
        }
    };
    abort(pid);
    Err(out)
}

/// Read up to the init's next word: exactly `want` bytes, or its whole failure message, or EOF.
fn read_report(report: &mut File, want: usize) -> Result<Vec<u8>, LaunchError> {
    let mut buf = Vec::new();
    let mut b = [0u8; 512];
    loop {
        let n = report
            .read(&mut b)
            .map_err(|e| Failure::new("init report".into(), e))?;
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(&b[..n]);
        if buf.first() != Some(&b'E') && buf.len() >= want {
            return Ok(buf);
        }
    }
}

fn failure(r: Vec<u8>) -> LaunchError {
    match r.strip_prefix(b"E") {
        Some(m) => LaunchError::from_init(&String::from_utf8_lossy(m)),
        None => LaunchError::Init("exited before it was ready".into()),
    }
}

/// Kill an init that has not run its task, and reap it.
fn abort(pid: i32) {
    // SAFETY: plain kill and waitpid on our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

impl Created {
    /// Wait for the init's "ready" (its setup done, waiting for start); on anything else it is killed and reaped.
    pub fn ready(&mut self) -> Result<(), LaunchError> {
        ready(self.pid, &mut self.report)
    }

    /// Let the init exec the task; Ok once the exec has happened.
    pub fn start(mut self) -> Result<(), LaunchError> {
        if let Err(e) = self.go.write_all(b"G") {
            return Err(Failure::new("init".into(), e).into());
        }
        let r = read_report(&mut self.report, usize::MAX)?;
        if r.is_empty() {
            return Ok(());
        }
        let e = failure(r);
        self.abort();
        Err(e)
    }

    /// Kill the init before it ran the task, and reap it.
    pub fn abort(&mut self) {
        abort(self.pid)
    }
}
