//! `ucr exec`: one more process in a running container, as `docker exec` and Mesos's DEBUG nested container
//! session run one: in the container's cgroups and namespaces, with the task's identity (user, groups,
//! capabilities, no_new_privs, seccomp, rlimits, working directory, environment with its secrets), its stdio the
//! caller's own, or a terminal the caller relays. The launch plan is read back from the bundle, the same one the
//! supervisor followed; nothing of the container is written (its cgroup is joined, never re-limited, so a
//! `ucr update` stands).
//!
//! The calling process forks twice, since a pid namespace applies only to children: the first child joins, the
//! second execs, and the first passes the second's end on as its own exit status. So the caller must be
//! single-threaded (the CLI starts no async runtime for this command). The first child is in the container's
//! cgroup, so a stop or removal kills it with the container, before its command maybe: the caller is a child
//! subreaper so that the command comes back to it and is reaped, where it would otherwise go to the host's init
//! (the container's init is the one ending) and hold the container's pid namespace, and with it the
//! supervisor's end, until that init reaps it.
//!
//! A terminal is made by the command itself, in the container's devpts (`launcher::pty`), so that `tty` names
//! it there; its master comes back to the caller, which relays it to its own stdin and stdout.
//!
//! A `session` exec is the agent's LAUNCH_NESTED_CONTAINER_SESSION: the caller's stdio belongs to the session
//! alone (pipes, or a pty the agent holds the master of, which the relay makes raw and whose resizes it
//! passes on); and the command's life is bound to the caller's: the first child watches its parent and kills
//! the command's process group when the parent is gone (the agent kills the whole tree on a dropped
//! connection; this covers the `ucr exec` process being killed on its own, or with the agent).

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use oci_spec::runtime::Spec;

use super::bound;
use super::relay;
use crate::container::error::{ContainerError, Result};
use crate::container::isolation;
use crate::container::paths::Paths;
use crate::container::records::load;
use crate::container::state::{ContainerState, State};
use crate::launcher::{self, pty, Cgroups, Entry, Linux};
use crate::process::{resolve_user, ProcessError, ResolvedUser};

/// What to run, and how it is attached.
#[derive(Clone, Debug, Default)]
pub struct ExecRequest {
    /// argv; `argv[0]` is looked up in the task's PATH unless it is a path.
    pub argv: Vec<String>,
    /// Variables over the task's environment.
    pub env: Vec<(String, String)>,
    /// Another user than the task's (`USER[:GROUP]`, names looked up in the container's /etc/passwd and
    /// /etc/group, as `docker exec --user` does).
    pub user: Option<String>,
    /// Another working directory than the task's (a path in the container).
    pub workdir: Option<String>,
    /// Attach the caller's stdin (else /dev/null).
    pub stdin: bool,
    /// A terminal, relayed to the caller's stdin and stdout.
    pub tty: bool,
    /// The agent's session (see the module docs): the command killed when the caller is gone.
    pub session: bool,
}

/// Run `req` in container `id`; returns its exit code (128 + signal when a signal ended it; 126/127 when it
/// could not be started or found, with the reason on stderr).
pub fn exec(paths: &Paths, id: &str, req: &ExecRequest) -> Result<i32> {
    let state = |why: &str| ContainerError::State {
        id: id.to_string(),
        why: why.to_string(),
    };
    let st = load(paths, id)?;
    let pid = match (st.state, st.pid) {
        (State::Running, Some(pid)) => pid,
        _ => return Err(state("not running")),
    };
    let Some(program) = req.argv.first() else {
        return Err(state("exec: no command given"));
    };
    if !super::fork::single_threaded() {
        return Err(state("exec: the calling process must be single-threaded"));
    }
    let plan = match plan(paths, &st).and_then(|p| instead(p, id, pid, req)) {
        Ok(plan) => plan,
        // Its bundle, sandbox or cgroup went with a stop or `rm` beside this call: say that, not what was missing.
        Err(e) => return Err(ended_meanwhile(paths, id, pid).unwrap_or(e)),
    };
    let args = req
        .argv
        .iter()
        .map(|a| CString::new(a.as_str()).map_err(|_| state(&format!("exec: NUL in {a:?}"))))
        .collect::<Result<Vec<_>>>()?;
    let entry = Entry {
        program: program.clone(),
        args,
        env: req.env.clone(),
    };
    let io = |e: std::io::Error| state(&format!("exec: {e}"));
    // With a terminal, the command makes it in the container's devpts and sends its master back on `terminal`.
    let (stdio, terminal) = if req.tty {
        let (mine, to) = pty::channel().map_err(io)?;
        let size = relay::caller_size();
        (launcher::Stdio::Terminal { to, size }, Some(mine))
    } else {
        let stdin = match req.stdin {
            true => std::io::stdin().as_fd().try_clone_to_owned().map_err(io)?,
            false => OwnedFd::from(std::fs::File::open("/dev/null").map_err(io)?),
        };
        let out = std::io::stdout().as_fd().try_clone_to_owned().map_err(io)?;
        let err = std::io::stderr().as_fd().try_clone_to_owned().map_err(io)?;
        (launcher::Stdio::Fds([stdin, out, err]), None)
    };
    let caller = req.session.then(std::process::id);
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))
        .map_err(|e| state(&format!("exec: becoming a child subreaper: {e}")))?;
    // SAFETY: the process is single-threaded (checked above).
    let child = match unsafe { fork() }.map_err(|e| state(&format!("exec: fork: {e}")))? {
        ForkResult::Child => {
            drop(terminal);
            let code = enter(&plan, pid, &entry, stdio, caller);
            // SAFETY: leave the forked child without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => child,
    };
    drop(stdio);
    // None: the command failed before its terminal existed, and said why on the caller's stderr.
    match terminal.map(|t| pty::receive(&t)) {
        Some(Ok(Some(master))) => relay::run(&master, req.stdin),
        Some(Err(e)) => say(&format!("ucr: exec: terminal: {e}")),
        _ => {}
    }
    let code = wait(child);
    reap_orphans();
    Ok(code)
}

/// Reap what the first child left when it was killed (see the module docs): its command, which ends with it
/// or is killed with the container.
fn reap_orphans() {
    while let Ok(_) | Err(nix::errno::Errno::EINTR) = waitpid(Pid::from_raw(-1), None) {}
}

/// How to enter the running container `st` and run a command there, from its bundle and cgroups.
fn plan(paths: &Paths, st: &ContainerState) -> Result<launcher::Plan> {
    let id = st.id.as_str();
    let state = |why: String| ContainerError::State {
        id: id.to_string(),
        why,
    };
    let config = paths.bundle(id).join("config.json");
    let spec = Spec::load(&config).map_err(|e| state(format!("{}: {e}", config.display())))?;
    let isolators = isolation::isolators(st)?;
    let places = isolation::Places::of(paths, st);
    let dirs = isolators
        .cgroup_dirs(&places.container())
        .map_err(|e| isolation::isolator_err(id, e))?;
    let cgroups = Cgroups {
        dirs,
        join: Vec::new(),
    };
    let mut plan = launcher::plan(&spec, None, cgroups, &paths.seccomp_cache())
        .map_err(|e| state(format!("exec: {e}")))?;
    plan.env.extend(super::secrets::read_env(paths, id)?);
    Ok(plan)
}

/// `plan` with the request's user and working directory in place of the task's. The user is looked up in the
/// files the task sees, through its init's root (`/proc/PID/root`), whatever root filesystem it has.
fn instead(
    mut plan: launcher::Plan,
    id: &str,
    pid: i32,
    req: &ExecRequest,
) -> Result<launcher::Plan> {
    let state = |why: String| ContainerError::State {
        id: id.to_string(),
        why,
    };
    if let Some(dir) = &req.workdir {
        if !dir.starts_with('/') {
            return Err(state(format!(
                "exec: --workdir {dir}: not an absolute path in the container"
            )));
        }
        plan.cwd = dir.into();
    }
    if let Some(user) = &req.user {
        let u = task_user(pid, user).map_err(|why| state(format!("exec: {why}")))?;
        plan.uid = u.uid;
        plan.gid = u.gid;
        plan.additional_gids = u.additional_gids;
    }
    Ok(plan)
}

/// `user` (`USER[:GROUP]`) as the container whose init is `pid` knows it: looked up in the files its task
/// sees, through `/proc/PID/root`, whatever root filesystem it has. The error names the file as the container
/// sees it.
pub fn task_user(pid: i32, user: &str) -> std::result::Result<ResolvedUser, String> {
    let root = std::path::PathBuf::from(format!("/proc/{pid}/root"));
    resolve_user(user, &root).map_err(|e| match e {
        ProcessError::User { user, why, file } => {
            let file = file
                .strip_prefix(&root)
                .unwrap_or(&file)
                .display()
                .to_string();
            format!("user {user:?}: {why} (/{file} in the container)")
        }
        e => format!("user {user:?}: {e}"),
    })
}

/// The answer for a container that stopped running since `exec` found it running with task `pid`: gone, not
/// running any more, or its task ending; None if it still runs as it did.
fn ended_meanwhile(paths: &Paths, id: &str, pid: i32) -> Option<ContainerError> {
    let state = |why: &str| ContainerError::State {
        id: id.to_string(),
        why: why.to_string(),
    };
    match load(paths, id) {
        Err(e @ ContainerError::NotFound(_)) => Some(e),
        Ok(st) if st.state != State::Running || st.pid != Some(pid) => Some(state("not running")),
        _ if task_ended(pid) => Some(state("exec: the container's task ended meanwhile")),
        _ => None,
    }
}

/// The first child: join the container, fork the command, pass its end on. Returns the exit code. With
/// `caller` (a session), the command is killed if the caller ends first.
fn enter(
    plan: &launcher::Plan,
    init_pid: i32,
    entry: &Entry,
    stdio: launcher::Stdio,
    caller: Option<u32>,
) -> i32 {
    if let Err(f) = launcher::join_container(&Linux, plan, init_pid) {
        let why = match task_ended(init_pid) {
            true => "the container's task ended meanwhile".to_string(),
            false => f.to_string(),
        };
        say(&format!("ucr: exec: entering the container: {why}"));
        return 126;
    }
    // SAFETY: this process is single-threaded (a fork of a single-threaded one).
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let f = launcher::exec_entered(&Linux, plan, entry, stdio);
            say(&format!("ucr: {f}"));
            // Not found (127) or found but not runnable (126), as a shell says.
            let code = f.exit_code().unwrap_or(126);
            // SAFETY: see above.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(stdio);
            if let Some(caller) = caller {
                bound::watch(child, caller);
            }
            wait(child)
        }
        Err(e) => {
            // A fork into a pid namespace whose init is gone fails with ENOMEM.
            let why = match task_ended(init_pid) {
                true => "the container's task ended meanwhile".to_string(),
                false => e.to_string(),
            };
            say(&format!("ucr: exec: fork: {why}"));
            126
        }
    }
}

/// One line on stderr in one write: these processes are in the container's cgroup, and a teardown beside them
/// kills them where they stand (`write!` of a formatted line writes it piece by piece, so a kill between two
/// pieces left half a message).
fn say(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// Whether the container's init has ended or is ending, which is why entering it failed when the container was
/// stopped or removed while the command entered it: gone, a zombie, or exiting (an exiting process gives up its
/// namespaces before it is a zombie, and its `/proc/PID/ns` links are gone from then on).
fn task_ended(init_pid: i32) -> bool {
    crate::container::state::process_start_time(init_pid).is_none()
        || std::fs::read_link(format!("/proc/{init_pid}/ns/mnt")).is_err()
}

/// A child's exit code, 128 + signal for a signal.
fn wait(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 126,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::task_ended;

    #[test]
    fn a_task_has_ended_once_it_is_a_zombie_or_gone() {
        assert!(!task_ended(std::process::id() as i32));
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id() as i32;
        // Not reaped yet: a zombie once it has exited.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !task_ended(pid) {
            assert!(std::time::Instant::now() < deadline, "true never ended");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("a zombie's stat");
        assert!(stat.contains(") Z"), "{stat}");
        child.wait().expect("reap");
        assert!(task_ended(pid));
    }
}
