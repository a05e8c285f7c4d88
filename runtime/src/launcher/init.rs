//! The container's init, between `clone3` and `execve`: every decision of what to do, with which values and in
//! which order, made over the [`Launcher`] trait, so it is unit-tested against a recording fake. It runs in the
//! new namespaces as a copy of the single-threaded supervisor and follows runc's order: its cgroups (v1: it
//! moves itself, unless an intermediate did, see `stage.rs`), stdio, a session keyring, the namespaces given
//! by path, hostname, the mounts and devices, `pivot_root`, sysctls and protected paths, rlimits, identity,
//! capabilities, no_new_privs and seccomp (last, so the filter sees as few of our own syscalls as possible). Then
//! it says "ready" and waits for "go" (the supervisor runs the isolators' `isolate` in between) and execs the
//! task. Any failure goes back to the supervisor as one line naming the step.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::error::Failure;
use super::os::Launcher;
use super::plan::Plan;

/// A launched process's standard input, output and error.
pub enum Stdio {
    /// These three, as they are (pipes, files, `/dev/null`).
    Fds([OwnedFd; 3]),
    /// A terminal of `size` (rows, columns) that the process makes inside the container once it sees the
    /// container's filesystem (`pty::pair`): its slave becomes all three and the controlling terminal, and its
    /// master goes over the socket `to` (`pty::send`, with the slave's name).
    Terminal {
        to: OwnedFd,
        size: Option<(u16, u16)>,
    },
}

/// Runs the init to the exec; returns only on failure. With `stage` it was cloned by the intermediate
/// (`stage.rs`), which has joined the v1 cgroups, set `oom_score_adj`, joined the namespaces given by path,
/// and releases the init through it. `trees`: per mount of the plan, a tree the caller already detached
/// (ID-mapped binds, `idmap.rs`).
pub fn run(
    os: &dyn Launcher,
    plan: &Plan,
    stage: Option<&mut File>,
    go: &mut File,
    report: &mut File,
    stdio: Stdio,
    trees: &mut [Option<OwnedFd>],
) -> Failure {
    match setup(os, plan, stage, go, report, stdio, trees) {
        Ok(never) => match never {},
        Err(f) => f,
    }
}

pub(super) fn step<T>(what: &str, r: io::Result<T>) -> Result<T, Failure> {
    r.map_err(|e| Failure::new(what.to_string(), e))
}

/// A protected path the kernel does not have is skipped, as runc does.
fn unless_missing(what: String, r: io::Result<()>) -> Result<(), Failure> {
    match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Failure::new(what, e)),
        _ => Ok(()),
    }
}

/// Wait for one byte from `who` (the supervisor, or the intermediate); EOF means it gave up on us.
fn wait_for(go: &mut File, what: &str, who: &str) -> Result<(), Failure> {
    let mut b = [0u8; 1];
    match go.read(&mut b) {
        Ok(1) => Ok(()),
        Ok(_) => Err(Failure::new(
            what.to_string(),
            io::Error::new(io::ErrorKind::UnexpectedEof, format!("{who} went away")),
        )),
        Err(e) => Err(Failure::new(what.to_string(), e)),
    }
}

/// Where the init is placed before anything else: its v1 cgroups (it moves itself) and `oom_score_adj`. The
/// intermediate does it instead when there is one (`stage.rs`), and the init inherits both.
pub(super) fn placement(os: &dyn Launcher, plan: &Plan) -> Result<(), Failure> {
    for tasks in &plan.cgroups.join {
        step(
            &format!("cgroup {}", tasks.display()),
            os.write_file(tasks, "0"),
        )?;
    }
    if let Some(adj) = plan.oom_score_adj {
        step(
            "oom_score_adj",
            os.write_file(Path::new("/proc/self/oom_score_adj"), &adj.to_string()),
        )?;
    }
    Ok(())
}

fn setup(
    os: &dyn Launcher,
    plan: &Plan,
    stage: Option<&mut File>,
    go: &mut File,
    report: &mut File,
    stdio: Stdio,
    trees: &mut [Option<OwnedFd>],
) -> Result<std::convert::Infallible, Failure> {
    match stage {
        Some(stage) => await_release(os, plan, stage)?,
        None => placement(os, plan)?,
    }
    step("setsid", os.setsid())?;
    // A terminal is made once the container's /dev/pts is in view, after `pivot_root`.
    let terminal = match stdio {
        Stdio::Fds(fds) => {
            step("stdio", os.set_stdio(fds))?;
            None
        }
        Stdio::Terminal { to, size } => Some((to, size)),
    };
    if let Some(name) = &plan.session_keyring {
        step("session keyring", os.join_session_keyring(name))?;
    }
    for (path, nstype) in &plan.join {
        step(
            &format!("namespace {}", path.display()),
            os.join_namespace(path, *nstype),
        )?;
    }
    if plan.unshare_cgroup {
        step("cgroup namespace", os.unshare_cgroup_namespace())?;
    }
    if let Some(h) = &plan.hostname {
        step("hostname", os.set_hostname(h))?;
    }
    rootfs(os, plan, trees, &mut || match plan.hooks_pause {
        true => {
            step("hooks", report.write_all(b"H"))?;
            wait_for(go, "waiting for the createRuntime hooks", "the supervisor")
        }
        false => Ok(()),
    })?;
    if let Some((to, size)) = terminal {
        make_terminal(os, to.as_fd(), size, plan.rootfs.is_some())?;
    }
    // Kernel parameters before /proc/sys turns read-only.
    for (file, value) in &plan.sysctl {
        step(
            &format!("sysctl {}", file.display()),
            os.write_file(file, value),
        )?;
    }
    for p in &plan.readonly_paths {
        unless_missing(format!("read-only path {p}"), os.readonly_path(p))?;
    }
    for p in &plan.masked_paths {
        unless_missing(format!("masked path {p}"), os.mask_path(p))?;
    }
    if plan.readonly_root {
        step("read-only root", os.readonly_root())?;
    }
    identity(os, plan)?;
    let env = environment(os, plan);
    let program = find_program(os, plan)?;
    lock_down(os, plan)?;
    step("ready", report.write_all(b"R"))?;
    wait_for(go, "waiting for start", "the supervisor")?;
    start_hooks(os, plan, go)?;
    let e = match plan.reaper {
        Some(fd) => step("reaper", os.exec_reaped(fd, &program, &plan.args, &env))?,
        None => os.exec(&program, &plan.args, &env),
    };
    Err(Failure::exec(&program.to_string_lossy(), e))
}

/// A pty of `size` made here (`pty::pair`: in the container's devpts, when its filesystem is in view), its
/// slave this process's stdio and controlling terminal (the session is ours already), and, with `console`,
/// bound over `/dev/console` too, as runtime-spec asks of a container with a terminal. Its master goes to the
/// socket `to`, with the slave's name; this process keeps no copy. Shared with `enter.rs`.
pub(super) fn make_terminal(
    os: &dyn Launcher,
    to: BorrowedFd<'_>,
    size: Option<(u16, u16)>,
    console: bool,
) -> Result<(), Failure> {
    let (master, slave, name) = step("terminal /dev/ptmx", os.open_pty(size))?;
    if console {
        step("terminal /dev/console", os.mount_console(&name))?;
    }
    let dup = || step("terminal", slave.try_clone());
    step("terminal", os.set_stdio([dup()?, dup()?, slave]))?;
    step("controlling terminal", os.set_controlling_terminal())?;
    step(
        "terminal: sending its master",
        os.send_fd(to, master.as_fd(), name.as_bytes()),
    )
}

/// The init's first step when staged (`stage.rs`): wait until the intermediate has written its maps, then become root in
/// its user namespace (its ids so far are the host's root, which the namespace may not map).
pub fn await_release(os: &dyn Launcher, plan: &Plan, stage: &mut File) -> Result<(), Failure> {
    wait_for(stage, "user namespace", "the intermediate")?;
    if plan.user_ns {
        step("root in the user namespace", os.set_ids(0, 0))?;
    }
    Ok(())
}

/// The task's identity, from inside its root: rlimits, working directory, groups and ids, capabilities, and
/// the seccomp filter when it needs privileges to load. Every fd from 3 up is closed at the exec. Shared with
/// a process entering the container (`enter.rs`).
pub(super) fn identity(os: &dyn Launcher, plan: &Plan) -> Result<(), Failure> {
    for (resource, limit) in &plan.rlimits {
        step(
            &format!("rlimit {resource:?}"),
            os.set_rlimit(*resource, *limit),
        )?;
    }
    // Before the uid changes: a directory only root may enter is still reachable; retried after if refused.
    let cwd_later = match os.chdir(&plan.cwd) {
        Ok(()) => false,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => true,
        Err(e) => return Err(Failure::new(format!("cwd {}", plan.cwd.display()), e)),
    };
    if let Some(p) = plan.personality {
        step("personality", os.set_personality(p))?;
    }
    step("supplementary groups", os.set_groups(&plan.additional_gids))?;
    step("uid/gid", os.set_ids(plan.uid, plan.gid))?;
    // Everything we inherited from the supervisor closes at exec, but for the fds the caller asked to pass.
    step(
        "close fds",
        os.close_on_exec_from(3u32.saturating_add(plan.preserve_fds)),
    )?;
    // Without no_new_privs the filter needs CAP_SYS_ADMIN, so it goes in before the capabilities drop.
    if !plan.no_new_privs {
        seccomp(os, plan)?;
    }
    step("capabilities", os.reset_effective_caps())?;
    if let Some(caps) = &plan.capabilities {
        step("capabilities", os.set_capabilities(caps))?;
    }
    if cwd_later {
        step(&format!("cwd {}", plan.cwd.display()), os.chdir(&plan.cwd))?;
    }
    Ok(())
}

/// no_new_privs and, with it, the seccomp filter: the last steps before the exec, so the filter sees as few of
/// our own calls as possible.
pub(super) fn lock_down(os: &dyn Launcher, plan: &Plan) -> Result<(), Failure> {
    step("signals", os.reset_signals())?;
    if plan.no_new_privs {
        step("no_new_privs", os.set_no_new_privs())?;
        seccomp(os, plan)?;
    }
    Ok(())
}

/// runtime-spec `startContainer` hooks, in order, with the state that came after "go" (a little-endian u32
/// length, then the JSON); a hook that fails or times out fails the start.
fn start_hooks(os: &dyn Launcher, plan: &Plan, go: &mut File) -> Result<(), Failure> {
    if plan.start_hooks.is_empty() {
        return Ok(());
    }
    let mut len = [0u8; 4];
    step("hook state", go.read_exact(&mut len))?;
    let mut state = vec![0u8; u32::from_le_bytes(len) as usize];
    step("hook state", go.read_exact(&mut state))?;
    for (i, h) in plan.start_hooks.iter().enumerate() {
        let what = format!("startContainer hook {i} ({})", h.path.to_string_lossy());
        match os.run_hook(h, &state) {
            Ok(0) => {}
            Ok(code) => {
                let e = io::Error::other(format!("exited with {code}"));
                return Err(Failure::new(what, e));
            }
            Err(e) => return Err(Failure::new(what, e)),
        }
    }
    Ok(())
}

/// The rootfs: made a mount of its own, every mount and device put on it, then `pause` (the hooks' moment),
/// then `pivot_root`. Without one (a task on the host's root) only the mounts, in the private mount namespace
/// when there is one.
fn rootfs(
    os: &dyn Launcher,
    plan: &Plan,
    trees: &mut [Option<OwnedFd>],
    pause: &mut dyn FnMut() -> Result<(), Failure>,
) -> Result<(), Failure> {
    let Some(rootfs) = &plan.rootfs else {
        if !plan.mount_ns {
            return Ok(());
        }
        let root = step("private mounts", os.private_mounts())?;
        mounts(os, plan, root.as_fd(), trees)?;
        return pause();
    };
    let at = || format!("rootfs {}", rootfs.display());
    let root = Failure::at(at, os.prepare_rootfs(rootfs))?;
    mounts(os, plan, root.as_fd(), trees)?;
    for n in &plan.devices {
        Failure::at(
            || format!("device {}", n.path.display()),
            os.make_device(root.as_fd(), n),
        )?;
    }
    step("/dev", os.dev_links(root.as_fd()))?;
    pause()?;
    match plan.no_pivot {
        true => step("move root", os.move_root(rootfs)),
        false => step("pivot_root", os.pivot_root(rootfs)),
    }
}

/// Every bind source taken first (see `mounts::detach_source`), then the mounts attached in order.
fn mounts(
    os: &dyn Launcher,
    plan: &Plan,
    root: BorrowedFd<'_>,
    trees: &mut [Option<OwnedFd>],
) -> Result<(), Failure> {
    let mut detached = Vec::with_capacity(plan.mounts.len());
    for (i, m) in plan.mounts.iter().enumerate() {
        if let Some(t) = trees.get_mut(i).and_then(Option::take) {
            detached.push(Some(t));
            continue;
        }
        let at = || format!("mount {}", m.dest.display());
        detached.push(Failure::at(at, os.detach_source(m))?);
    }
    for (m, d) in plan.mounts.iter().zip(detached) {
        Failure::at(
            || format!("mount {}", m.dest.display()),
            os.mount(root, m, d, &plan.cgroups.dirs),
        )?;
    }
    Ok(())
}

/// The spec's environment, plus HOME from the container's /etc/passwd when the spec has none (as runc and
/// youki add it).
pub(super) fn environment(os: &dyn Launcher, plan: &Plan) -> Vec<CString> {
    with_home(os, plan, plan.env.clone())
}

/// `env` plus HOME from the container's /etc/passwd for the plan's uid, unless it has one.
pub(super) fn with_home(os: &dyn Launcher, plan: &Plan, mut env: Vec<String>) -> Vec<CString> {
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        if let Some(home) = home_of(os, plan.uid) {
            env.push(format!("HOME={home}"));
        }
    }
    env.into_iter()
        .filter_map(|e| CString::new(e).ok())
        .collect()
}

fn home_of(os: &dyn Launcher, uid: u32) -> Option<String> {
    let passwd = os.read_file(Path::new("/etc/passwd")).ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

/// The program to exec: given (`ucr.program`), a path, or args[0] looked up in the task's PATH inside the root.
fn find_program(os: &dyn Launcher, plan: &Plan) -> Result<CString, Failure> {
    let name = plan.program.clone().unwrap_or_else(|| {
        plan.args
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    lookup(os, &name, &plan.env)
}

/// `name` as is when it holds a `/`, else the first executable of that name in `env`'s PATH (or the default).
pub(super) fn lookup(os: &dyn Launcher, name: &str, env: &[String]) -> Result<CString, Failure> {
    let not_found = || {
        Failure::exec(
            name,
            io::Error::new(io::ErrorKind::NotFound, "not found in PATH"),
        )
    };
    let found = if name.contains('/') {
        PathBuf::from(name)
    } else {
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(name))
            .find(|p| os.is_executable(p))
            .ok_or_else(not_found)?
    };
    CString::new(found.into_os_string().into_encoded_bytes()).map_err(|_| not_found())
}

fn seccomp(os: &dyn Launcher, plan: &Plan) -> Result<(), Failure> {
    match &plan.seccomp {
        Some(f) => step("seccomp", os.load_seccomp(f)),
        None => Ok(()),
    }
}
