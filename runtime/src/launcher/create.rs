//! Starting the init (the supervisor's side): one `clone3` into the new namespaces (on cgroup v2 straight into
//! its cgroup), two CLOEXEC pipes, and the init's first word. Supervisor → init: one byte to start. Init →
//! supervisor: `R` when ready, or `E<step>: <error>` and exit. The init's end of the report pipe closes at
//! exec, so EOF after start means the task runs.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use ucr_isolators::Placement;

use super::clone::{clone3, Forked};
use super::error::{Failure, LaunchError};
use super::init;
use super::linux::Linux;
use super::plan::Plan;

/// The init's standard input, output and error.
pub struct Stdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// An init that is ready and waits for start.
pub struct Created {
    pub pid: i32,
    go: File,
    report: File,
}

fn pipe() -> Result<(File, File), LaunchError> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Failure::new("pipe".into(), e.into()))?;
    Ok((File::from(r), File::from(w)))
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
    let (mut go_r, go_w) = pipe()?;
    let (report_r, mut report_w) = pipe()?;
    // v2: cloned straight into its cgroup; v1: the init joins its cgroups itself, first thing (see
    // `Cgroups::join`).
    let into = cgroup.clone_into();
    // SAFETY: the caller guarantees a single thread.
    let forked =
        unsafe { clone3(plan.clone_flags, into) }.map_err(|e| Failure::new("clone3".into(), e))?;
    let pid = match forked {
        Forked::Child => {
            drop(go_w);
            drop(report_r);
            // Never unwind back into the supervisor's code: a panic ends the init like a failure.
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                init::run(
                    &Linux,
                    plan,
                    &mut go_r,
                    &mut report_w,
                    [stdio.stdin, stdio.stdout, stdio.stderr],
                )
            }));
            let msg = match out {
                Ok(f) => f.to_string(),
                Err(_) => "panicked".to_string(),
            };
            let _ = report_w.write_all(format!("E{msg}").as_bytes());
            // SAFETY: _exit skips the supervisor's atexit handlers and buffers, which are not ours to run.
            unsafe { libc::_exit(1) }
        }
        Forked::Parent { pid } => pid,
    };
    drop(go_r);
    drop(report_w);
    drop(stdio);
    let mut created = Created {
        pid,
        go: go_w,
        report: report_r,
    };
    match created.read_report(1) {
        Ok(r) if r == b"R" => Ok(created),
        Ok(r) => {
            let e = created.failure(r);
            created.abort();
            Err(e)
        }
        Err(e) => {
            created.abort();
            Err(e)
        }
    }
}

impl Created {
    /// Read up to the init's next word: exactly `want` bytes, or its whole failure message, or EOF.
    fn read_report(&mut self, want: usize) -> Result<Vec<u8>, LaunchError> {
        let mut buf = Vec::new();
        let mut b = [0u8; 512];
        loop {
            let n = self
                .report
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

    fn failure(&self, r: Vec<u8>) -> LaunchError {
        match r.strip_prefix(b"E") {
            Some(m) => LaunchError::Init(String::from_utf8_lossy(m).into_owned()),
            None => LaunchError::Init("exited before it was ready".into()),
        }
    }

    /// Let the init exec the task; Ok once the exec has happened.
    pub fn start(mut self) -> Result<(), LaunchError> {
        if let Err(e) = self.go.write_all(b"G") {
            return Err(Failure::new("init".into(), e).into());
        }
        let r = self.read_report(usize::MAX)?;
        if r.is_empty() {
            return Ok(());
        }
        let e = self.failure(r);
        self.abort();
        Err(e)
    }

    /// Kill the init before it ran the task, and reap it.
    pub fn abort(&mut self) {
        // SAFETY: plain kill and waitpid on our own child.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}
