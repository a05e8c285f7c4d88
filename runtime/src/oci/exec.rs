//! runc's `exec`: one more process in a created or running container, described by a runtime-spec `process`
//! (containerd writes it to a file): the container's cgroups and namespaces, then that process's identity —
//! user, capabilities, rlimits, no_new_privs, the container's seccomp filter — as the launcher gives the
//! init. A child joins (`launcher::join_container`), its child execs (`launcher::exec_entered`, the pid
//! namespace applying to children only); with `detach` the joining child leaves at once, so the process is
//! re-parented to the caller's reaper (containerd's shim), and its host pid goes to `--pid-file`.
//!
//! Exec failures come back through a close-on-exec pipe, so a program that is not there is an error of the
//! `exec` command itself, as with runc.

use std::io::{Read, Write};
use std::path::PathBuf;

use oci_spec::runtime::Process;

use super::console;
use super::create::write_pid_file;
use super::error::{OciError, Result};
use super::record::{Root, Status};
use crate::launcher::{self, Cgroups, Entry, Linux};

#[derive(Clone, Debug)]
pub struct ExecOptions {
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub preserve_fds: u32,
}

/// Run `opts.process` in container `id`: with `detach`, returns 0 once it runs; else its exit code.
pub fn exec(root: &Root, id: &str, opts: ExecOptions) -> Result<i32> {
    let rec = root.load(id)?;
    match root.status(&rec) {
        Status::Created | Status::Running => {}
        Status::Stopped => return Err(OciError::NotRunning),
        s => {
            return Err(OciError::WrongStatus {
                op: "exec in",
                id: id.to_string(),
                status: s.as_str(),
            })
        }
    }
    let config = root.container_dir(id).join("config.json");
    let mut spec = super::create::read_spec(&config)?;
    spec.set_process(Some(opts.process));
    let h = ucr_isolators::cgroups::host().map_err(|e| OciError::Cgroup(e.to_string()))?;
    let dirs = ucr_isolators::cgroups::create::existing(h.as_ref(), &rec.cgroup)
        .map_err(|e| OciError::Cgroup(e.to_string()))?;
    let cgroups = Cgroups {
        dirs,
        join: Vec::new(),
    };
    let mut plan = launcher::plan(&spec, None, cgroups, &root.dir.join(".seccomp"))
        .map_err(|e| OciError::Launch(e.to_string()))?;
    plan.preserve_fds = opts.preserve_fds;
    let program = plan
        .args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    let entry = Entry {
        program,
        args: plan.args.clone(),
        env: Vec::new(),
    };
    let stdio = console::stdio(opts.console_socket.as_deref(), &plan)?;
    let pipe = || launcher::pipe().map_err(|e| OciError::Launch(e.to_string()));
    let (mut pid_r, pid_w) = pipe()?;
    let (mut report_r, report_w) = pipe()?;
    if !crate::containerizer::fork::single_threaded() {
        return Err(OciError::Launch(
            "exec: the calling process must be single-threaded".into(),
        ));
    }
    // SAFETY: single-threaded (checked); the child only joins, forks, execs and exits.
    let joiner = unsafe { libc::fork() };
    if joiner < 0 {
        return Err(OciError::Launch(format!(
            "fork: {}",
            std::io::Error::last_os_error()
        )));
    }
    if joiner == 0 {
        drop(pid_r);
        drop(report_r);
        let code = join_and_run(&plan, rec.pid, &entry, stdio, pid_w, report_w, opts.detach);
        // SAFETY: leave the forked child without the parent's exit handlers.
        unsafe { libc::_exit(code) }
    }
    drop(pid_w);
    drop(report_w);
    drop(stdio);
    let mut pid = [0u8; 4];
    let got = pid_r.read_exact(&mut pid);
    let mut failure = String::new();
    let _ = report_r.read_to_string(&mut failure);
    if got.is_err() || !failure.is_empty() {
        let code = wait(joiner);
        return Err(OciError::Launch(match failure.is_empty() {
            true => format!("exec: the process did not start (status {code})"),
            false => failure,
        }));
    }
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, i32::from_le_bytes(pid))?;
    }
    Ok(wait(joiner))
}

/// In the forked child: join the container, fork the process, tell the caller its pid; then leave (detach)
/// or wait for it and exit with its code.
fn join_and_run(
    plan: &launcher::Plan,
    init: i32,
    entry: &Entry,
    stdio: launcher::Stdio,
    mut pid_w: std::fs::File,
    mut report_w: std::fs::File,
    detach: bool,
) -> i32 {
    if let Err(f) = launcher::join_container(&Linux, plan, init) {
        let _ = report_w.write_all(f.to_string().as_bytes());
        return 1;
    }
    // SAFETY: still single-threaded: the forked copy of a single-threaded process.
    let child = unsafe { libc::fork() };
    if child == 0 {
        drop(pid_w);
        let f = launcher::exec_entered(&Linux, plan, entry, stdio);
        let _ = report_w.write_all(f.to_string().as_bytes());
        // SAFETY: leave without running exit handlers.
        unsafe { libc::_exit(127) }
    }
    drop(stdio);
    drop(report_w);
    if child < 0 || pid_w.write_all(&child.to_le_bytes()).is_err() {
        return 1;
    }
    drop(pid_w);
    match detach {
        true => 0,
        false => wait(child),
    }
}

/// A child's exit code, 128 + the signal that killed it.
pub fn wait(pid: i32) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return 255;
        }
    }
    crate::launcher::hook::exit_code(status)
}
