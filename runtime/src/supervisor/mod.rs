//! The per-container supervisor: `ucr __supervise ID`, started by the CLI (or agent) in its own session. It is
//! single-threaded on purpose: the launcher forks the init without exec and the init runs Rust code, which is only
//! sound in a process with one thread. It launches the bundle with ucr's launcher, keeps the task's init as its
//! child, reaps it, writes the raw wait status to `<runtime>/status` (which outlives supervisor and caller), tears
//! the container down (every process, cgroups, rootfs) and records the termination. The sandbox stays until
//! `rm`. While the task runs it also runs the container's health checks (`health`), each probe a short-lived
//! child process.
//!
//! Progress reaches the process that started it through a pipe: one line, `started <pid>` or `failed <code>
//! <message>`, then EOF when the supervisor is done (the CLI's foreground `run` waits for that EOF).

mod beside;
mod console;
pub mod console_input;
pub mod family;
mod health;
mod poll_time;
mod residency;
mod watch;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use oci_spec::runtime::Spec;

use crate::container::bundle::PROGRAM_ANNOTATION;
use crate::container::checkpoint::{read_json, write_atomic, write_json};
use crate::container::error::{ContainerError, Result};
use crate::container::isolation;
use crate::container::paths::Paths;
use crate::container::remove::remove_files;
use crate::container::state::{now, ContainerState, Owner, State};
use crate::container::teardown::teardown;
use crate::container::termination::Termination;
use crate::containerizer::ops;
use crate::launcher::{self, pty};
use crate::spec::ContainerConfig;

/// Where a supervisor started for a task that reads its launcher's stdin (`ContainerConfig::stdin`) finds it.
pub const STDIN_FD: i32 = 4;

/// What the launching process has in memory of the container as it forks the supervisor
/// (`containerizer::fork`): its state, its request and its bundle's spec, exactly as it has just written them, so
/// that a forked supervisor does not read back and parse what its launcher wrote. One started by exec reads
/// them from the checkpoints.
pub struct Known {
    pub state: ContainerState,
    pub config: ContainerConfig,
    pub spec: Spec,
}

pub struct SuperviseArgs<'a> {
    pub paths: &'a Paths,
    pub store_dir: &'a std::path::Path,
    pub id: &'a str,
    /// Write end of the caller's pipe (inherited fd), if any.
    pub notify_fd: Option<i32>,
}

/// Runs the container to its end, from `known` when its launcher forked this process, else from its
/// checkpoints; returns the process exit code (0 when the supervision itself worked).
pub fn supervise(a: &SuperviseArgs<'_>, known: Option<Known>) -> i32 {
    // Terminal and session signals must not take the supervisor down with the shell that started `ucr run`.
    for s in [libc::SIGINT, libc::SIGHUP, libc::SIGPIPE, libc::SIGQUIT] {
        // SAFETY: setting a signal's disposition to SIG_IGN has no handler to race with.
        unsafe {
            libc::signal(s, libc::SIG_IGN);
        }
    }
    let mut notify = a.notify_fd.map(|fd| {
        // SAFETY: the fd was handed to us by our parent for exactly this use and nothing else owns it.
        let f = unsafe { File::from_raw_fd(fd) };
        let _ = rustix::io::fcntl_setfd(&f, rustix::io::FdFlags::CLOEXEC);
        f
    });
    match run(a, known, &mut notify) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e}");
            if let Some(n) = notify.as_mut() {
                let _ = writeln!(n, "failed {} {}", e.exit_code(), one_line(&e.to_string()));
            }
            1
        }
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

fn load_state(paths: &Paths, id: &str) -> Result<ContainerState> {
    read_json(&paths.state_file(id))?.ok_or_else(|| ContainerError::NotFound(id.to_string()))
}

fn run(a: &SuperviseArgs<'_>, known: Option<Known>, notify: &mut Option<File>) -> Result<()> {
    let (paths, id) = (a.paths, a.id);
    let (mut st, cfg, spec) = match known {
        Some(k) => (k.state, k.config, Some(k.spec)),
        None => {
            let cfg = read_json(&paths.config_file(id))?
                .ok_or_else(|| ContainerError::NotFound(id.to_string()))?;
            (load_state(paths, id)?, cfg, None)
        }
    };
    // A pod member's process made the member and owns it already (`member_process.rs`): no second write.
    let me = Owner::current();
    if st.owner != Some(me) {
        st.owner = Some(me);
        write_json(&paths.state_file(id), &st)?;
    }
    // Its own now: it no longer dies with the launcher that forked it (`container::handoff`).
    crate::container::handoff::owned().map_err(|e| ContainerError::io("prctl", e))?;

    // A pod's members start beside its parent when the pod's namespaces are made beforehand
    // (`container::pod_ns`): the parent marks when its init is in its cgroup, and they wait for that.
    let parent = cfg
        .nesting
        .as_ref()
        .map(|n| n.parent.as_str())
        .filter(|p| crate::container::pod_ns::pinned(&paths.pod_ns(p)));
    // Taken at once, so it is closed whatever happens to the launch (its writer then sees the task gone).
    let stdin = cfg.stdin.then(caller_stdin).flatten();
    if cfg.remove_on_exit {
        crate::container::waiters::make(paths, id)?;
    }
    let started = start(paths, &st, spec, parent, stdin).map_err(|e| {
        // A kill while the task was being started may have taken its cgroup or its parent away under this
        // step: that kill is what happened.
        match paths.kill_marker(id).exists() {
            true => beside::killed(id),
            false => e,
        }
    });
    let (pid, plan, console, reaper) = match started {
        Ok(started) => started,
        Err(e) => {
            let code = e.exit_code();
            let msg = e.to_string();
            if let Some(n) = notify.as_mut() {
                let _ = writeln!(n, "failed {code} {}", one_line(&msg));
            }
            finish(
                a,
                &mut st,
                &cfg,
                Termination::launch_failed(msg, code),
                notify,
            )?;
            return Ok(());
        }
    };
    st.state = State::Running;
    st.pid = Some(pid);
    st.reaper = reaper;
    st.pid_start = Some(Owner::of(pid).start_time).filter(|t| *t > 0);
    st.started = Some(now());
    write_json(&paths.state_file(id), &st)?;
    if let Err(e) = beside::running(paths, id) {
        tracing::warn!("waking the pod's members: {e}");
    }
    // A kill that came while the task was being started found no pid to signal: its marker says so, with the
    // signal (SIGTERM from a kill policy's first step, whose SIGKILL follows). Checked after the pid is
    // recorded, and `ops::kill` looks for a pid again after writing its marker, so one of the two always sees
    // the other.
    if let Ok(text) = std::fs::read_to_string(paths.kill_marker(id)) {
        let signal = text.trim().parse().unwrap_or(libc::SIGKILL);
        if let Err(e) = ops::kill(paths, id, signal) {
            tracing::warn!("signalling a task killed while it started: {e}");
        }
    }
    if let Some(n) = notify.as_mut() {
        let _ = writeln!(n, "started {pid}");
    }

    let health = health::Checker::new(paths, &st, &cfg.health_checks, &plan, pid);
    let mut ended = watch::wait(paths, &st, pid, health, console, cfg.kill_grace());
    // The init was the task's reaper: the task's own status is in the status file already, unless the reaper
    // was killed before it ended; else the status first, on its own: whatever happens during teardown, the
    // task's end is known.
    match reaper.then(|| ops::recorded_status(paths, id)).flatten() {
        Some(status) => ended.status = status,
        None => write_atomic(&paths.status_file(id), ended.status.to_string().as_bytes())?,
    }
    let killed = paths.kill_marker(id).exists();
    let mut termination = Termination::from_wait_status(ended.status, killed);
    if let Some(l) = ended.limitation {
        termination.limited(l);
    } else if let Some(why) = ended.unhealthy {
        termination.unhealthy(why);
    }
    family::pod_termination(paths, id, &mut termination);
    finish(a, &mut st, &cfg, termination, notify)
}

/// What `start` gives back: the init's pid, the launch plan (what a process entering the container follows), the
/// task's terminal, and whether the init is the task's reaper.
type Started = (i32, launcher::Plan, Option<console::Console>, bool);

/// Create the container's cgroup and init from the bundle (its `spec`, read from it when not given), run the isolators' `isolate`, start the task; the
/// init is our child. A pod's parent tells its members when its init is placed; a pod member started beside
/// its `parent` makes its cgroup once the parent's init is in the parent's, and starts its task once the parent
/// runs (`beside`). Returns its pid, the launch plan (what a process entering the container follows) and the
/// task's terminal, if it has one.
fn start(
    paths: &Paths,
    st: &ContainerState,
    spec: Option<Spec>,
    parent: Option<&str>,
    stdin: Option<OwnedFd>,
) -> Result<Started> {
    let id = &st.id;
    let fail = |why: String| ContainerError::Launcher {
        id: id.clone(),
        why,
    };
    let sandbox = std::path::Path::new(&st.sandbox);
    let out = open_log(&sandbox.join("stdout"))?;
    let err = open_log(&sandbox.join("stderr"))?;
    let null = File::open("/dev/null").map_err(|e| ContainerError::io("/dev/null", e))?;
    let spec = match spec {
        Some(s) => s,
        None => {
            let config = paths.bundle(id).join("config.json");
            Spec::load(&config).map_err(|e| fail(format!("{}: {e}", config.display())))?
        }
    };
    let program = spec
        .annotations()
        .as_ref()
        .and_then(|a| a.get(PROGRAM_ANNOTATION).cloned());
    let resources = spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let isolators = isolation::isolators(st)?;
    let places = isolation::Places::of(paths, st);
    if let Some(p) = parent {
        beside::wait_for_parent(paths, p, id, beside::Until::Placed)?;
    }
    let placement = isolators
        .place(&places.container(), &resources)
        .map_err(|e| fail(e.to_string()))?;
    let mut plan = launcher::plan(
        &spec,
        program.as_deref(),
        launcher::Cgroups::from(&placement),
        &paths.seccomp_cache(),
    )
    .map_err(|e| fail(e.to_string()))?;
    plan.env
        .extend(crate::containerizer::secrets::read_env(paths, id)?);
    // With a terminal, the init makes the pty in the container's devpts and sends its master back here.
    let (stdio, terminal) = if plan.terminal {
        let (mine, to) = pty::channel().map_err(|e| fail(format!("terminal: {e}")))?;
        let size = plan.console_size;
        (launcher::Stdio::Terminal { to, size }, Some((mine, out)))
    } else {
        let stdin = stdin.unwrap_or_else(|| OwnedFd::from(null));
        let fds = [stdin, OwnedFd::from(out), OwnedFd::from(err)];
        (launcher::Stdio::Fds(fds), None)
    };
    // The init stays as the task's reaper, but for a pod's pause, which reaps for itself. It writes the task's
    // status to the container's status file, opened here where the runtime dir is in view, as Mesos's launch
    // helper does: the task's real end is known even if this supervisor dies before it.
    let reaper = match own_pause(&plan) {
        true => None,
        false => Some(
            File::options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(paths.status_file(id))
                .map_err(|e| ContainerError::io(paths.status_file(id), e))?,
        ),
    };
    plan.reaper = reaper.as_ref().map(|f| f.as_raw_fd());
    // SAFETY: the supervisor is single-threaded (see the module docs).
    let created = unsafe { launcher::clone_init(&plan, &placement, stdio) };
    // The init has its copy; the fd number means nothing to a process entering the container later.
    plan.reaper = None;
    let reaper = reaper.is_some();
    let mut created = created.map_err(|e| fail(e.to_string()))?;
    if let Err(e) = beside::placed(paths, id) {
        created.abort();
        return Err(e);
    }
    created.ready().map_err(|e| fail(e.to_string()))?;
    let console = match terminal {
        Some((from, out)) => match terminal_of(&from, out, paths, id) {
            Ok(c) => Some(c),
            Err(e) => {
                created.abort();
                return Err(fail(format!("terminal: {e}")));
            }
        },
        None => None,
    };
    let pid = created.pid;
    // The init exists, in its cgroups and namespaces, and has not run the task yet: Mesos's `isolate` point.
    let isolated = isolators
        .isolate(&places.container(), pid)
        .map_err(|e| isolation::isolator_err(id, e))
        .and_then(|()| match parent {
            // The parent's cgroup is this one's envelope: complete once the parent runs.
            Some(p) => beside::wait_for_parent(paths, p, id, beside::Until::Running),
            None => Ok(()),
        });
    if let Err(e) = isolated {
        created.abort();
        return Err(e);
    }
    created.start().map_err(|e| match e.exit_code() {
        // The program, there in the view its lookup had, was not when the init exec'd it: 127 or 126 still.
        Some(code) => ContainerError::launch(id, "starting", e.to_string(), code),
        None => fail(e.to_string()),
    })?;
    Ok((pid, plan, console, reaper))
}

/// The task is this executable's pause (`launcher::is_own_pause`), by the program the init will exec.
fn own_pause(plan: &launcher::Plan) -> bool {
    let program = match &plan.program {
        Some(p) => std::ffi::CString::new(p.as_str()).ok(),
        None => plan.args.first().cloned(),
    };
    program.is_some_and(|p| launcher::is_own_pause(&p, &plan.args))
}

/// The console of a task whose init made its terminal: the master it sent on `from` (before it said "ready"),
/// copied to `out`, with its input socket served.
fn terminal_of(
    from: &OwnedFd,
    out: File,
    paths: &Paths,
    id: &str,
) -> std::io::Result<console::Console> {
    let master =
        pty::receive(from)?.ok_or_else(|| std::io::Error::other("the init sent no terminal"))?;
    let mut console = console::Console::new(master, out);
    // Without its input socket the task still runs; only ATTACH_CONTAINER_INPUT is refused.
    if let Err(e) = console.listen(&paths.console_socket(id)) {
        tracing::warn!("console input socket: {e}");
    }
    Ok(console)
}

/// The launcher's stdin, given at [`STDIN_FD`] (`containerizer::fork`, `spawn::supervise_command`); None when
/// that fd is not open.
fn caller_stdin() -> Option<OwnedFd> {
    // SAFETY: F_GETFD only asks whether the fd is open.
    if unsafe { libc::fcntl(STDIN_FD, libc::F_GETFD) } < 0 {
        tracing::warn!("the launcher's stdin is not at fd {STDIN_FD}: the task reads /dev/null");
        return None;
    }
    // SAFETY: the fd is open and nothing else in this process owns it: it was put there for the task.
    Some(unsafe { OwnedFd::from_raw_fd(STDIN_FD) })
}

fn open_log(p: &std::path::Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(p)
        .map_err(|e| ContainerError::io(p, e))
}

fn finish(
    a: &SuperviseArgs<'_>,
    st: &mut ContainerState,
    cfg: &ContainerConfig,
    termination: Termination,
    notify: &mut Option<File>,
) -> Result<()> {
    let (paths, id) = (a.paths, a.id);
    st.state = State::Destroying;
    write_json(&paths.state_file(id), st)?;
    family::stop_nested(paths, a.store_dir, id);
    let torn = teardown(paths, a.store_dir, st);
    st.pid = None;
    st.state = State::Exited;
    st.finished = Some(now());
    st.torn_down = torn.is_ok();
    let mut termination = termination;
    if let Err(e) = &torn {
        termination.message = format!("{}; teardown: {e}", termination.message);
    }
    st.termination = Some(termination);
    write_json(&paths.state_file(id), st)?;
    // After this member's own record says EXITED: of two members ending at once, the later sees both ended.
    if let Some(t) = &st.termination {
        family::member_ended(paths, cfg, t);
    }
    if let (Some(n), Some(t)) = (notify.as_mut(), &st.termination) {
        // The caller in the foreground learns the end from the pipe: no polling, and it still works after
        // `--rm` removed the checkpoints below.
        let _ = writeln!(n, "exited {}", serde_json::to_string(t).unwrap_or_default());
    }
    if cfg.remove_on_exit && torn.is_ok() {
        crate::container::waiters::let_waiters_read(paths, id);
        remove_files(paths, id)?;
    }
    torn
}
