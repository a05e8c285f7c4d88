//! The container's init, between `clone3` and `execve`. It runs in the new namespaces as a copy of the
//! single-threaded supervisor and follows runc's order: its cgroups (v1: it moves itself), stdio, the
//! namespaces given by path, hostname, the mounts and devices, `pivot_root`, sysctls and protected paths,
//! rlimits, identity, capabilities, no_new_privs and seccomp (last, so the filter sees as few of our own
//! syscalls as possible). Then it says "ready" and waits for "go" (the supervisor runs the isolators' `isolate`
//! in between) and execs the task. Any failure goes back to the supervisor as one line naming the step.
//!
//! Capabilities, rlimits and the uid/gid switch are libcontainer's own code (`libcontainer::capabilities`, its
//! `Syscall`), so their semantics are youki's; the seccomp filter was compiled by libseccomp in the supervisor.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use libcontainer::syscall::syscall::create_syscall;
use nix::unistd::{Gid, Uid};

use super::{dev, mounts, protect, Failure, Plan};

/// Runs the init to the exec; returns only on failure.
pub fn run(plan: &Plan, go: &mut File, report: &mut File, stdio: [OwnedFd; 3]) -> Failure {
    match setup(plan, go, report, stdio) {
        Ok(never) => match never {},
        Err(f) => f,
    }
}

fn step<T>(what: &str, r: io::Result<T>) -> Result<T, Failure> {
    r.map_err(|e| Failure::new(what.to_string(), e))
}

fn sys<T, E: std::fmt::Display>(what: &str, r: Result<T, E>) -> Result<T, Failure> {
    r.map_err(|e| Failure::new(what.to_string(), io::Error::other(e.to_string())))
}

/// Wait for one byte from the supervisor; EOF means it gave up on us.
fn wait_for(go: &mut File, what: &str) -> Result<(), Failure> {
    let mut b = [0u8; 1];
    match go.read(&mut b) {
        Ok(1) => Ok(()),
        Ok(_) => Err(Failure::new(
            what.to_string(),
            io::Error::new(io::ErrorKind::UnexpectedEof, "the supervisor went away"),
        )),
        Err(e) => Err(Failure::new(what.to_string(), e)),
    }
}

fn setup(
    plan: &Plan,
    go: &mut File,
    report: &mut File,
    stdio: [OwnedFd; 3],
) -> Result<std::convert::Infallible, Failure> {
    for tasks in &plan.cgroup_tasks {
        step(
            &format!("cgroup {}", tasks.display()),
            std::fs::write(tasks, "0"),
        )?;
    }
    step(
        "setsid",
        rustix::process::setsid().map(drop).map_err(io::Error::from),
    )?;
    for (i, fd) in stdio.iter().enumerate() {
        // SAFETY: dup2 onto 0..2 of fds we own; the originals are closed when `stdio` drops.
        if unsafe { libc::dup2(fd.as_raw_fd(), i as i32) } < 0 {
            return Err(Failure::new("stdio".into(), io::Error::last_os_error()));
        }
    }
    drop(stdio);
    for (path, nstype) in &plan.join {
        let f = step(&format!("namespace {}", path.display()), File::open(path))?;
        // SAFETY: setns on an fd we opened; nstype names the kind we expect it to be.
        if unsafe { libc::setns(f.as_raw_fd(), *nstype) } < 0 {
            return Err(Failure::new(
                format!("namespace {}", path.display()),
                io::Error::last_os_error(),
            ));
        }
    }
    if plan.unshare_cgroup {
        // SAFETY: a new cgroup namespace changes nothing this process holds (no fds or memory depend on it).
        let r = unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWCGROUP) };
        step("cgroup namespace", r.map_err(io::Error::from))?;
    }
    let syscall = create_syscall();
    if let Some(h) = &plan.hostname {
        sys("hostname", syscall.set_hostname(h))?;
    }
    if let Some(adj) = plan.oom_score_adj {
        step(
            "oom_score_adj",
            std::fs::write("/proc/self/oom_score_adj", adj.to_string()),
        )?;
    }
    rootfs(plan)?;
    protect::sysctl(&plan.sysctl)?;
    protect::readonly(&plan.readonly_paths)?;
    protect::masked(&plan.masked_paths)?;
    if plan.readonly_root {
        protect::readonly_root()?;
    }
    for rl in &plan.rlimits {
        sys("rlimit", syscall.set_rlimit(rl))?;
    }
    // Before the uid changes: a directory only root may enter is still reachable; retried after if refused.
    let cwd_later = match rustix::process::chdir(&plan.cwd) {
        Ok(()) => false,
        Err(rustix::io::Errno::ACCESS) | Err(rustix::io::Errno::PERM) => true,
        Err(e) => {
            return Err(Failure::new(
                format!("cwd {}", plan.cwd.display()),
                e.into(),
            ))
        }
    };
    let gids: Vec<Gid> = plan
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    sys("supplementary groups", syscall.set_groups(&gids))?;
    sys(
        "uid/gid",
        syscall.set_id(Uid::from_raw(plan.uid), Gid::from_raw(plan.gid)),
    )?;
    // Everything we inherited from the supervisor closes at exec.
    sys("close fds", syscall.close_range(0))?;
    // Without no_new_privs the filter needs CAP_SYS_ADMIN, so it goes in before the capabilities drop.
    if !plan.no_new_privs {
        seccomp(plan)?;
    }
    sys(
        "capabilities",
        libcontainer::capabilities::reset_effective(syscall.as_ref()),
    )?;
    if let Some(caps) = &plan.capabilities {
        sys(
            "capabilities",
            libcontainer::capabilities::drop_privileges(caps, syscall.as_ref()),
        )?;
    }
    if cwd_later {
        step(
            &format!("cwd {}", plan.cwd.display()),
            rustix::process::chdir(&plan.cwd).map_err(io::Error::from),
        )?;
    }
    let env = environment(plan);
    let program = find_program(plan)?;
    if plan.no_new_privs {
        step(
            "no_new_privs",
            rustix::thread::set_no_new_privs(true).map_err(io::Error::from),
        )?;
        seccomp(plan)?;
    }
    step("ready", report.write_all(b"R"))?;
    wait_for(go, "waiting for start")?;
    let argv: Vec<*const libc::c_char> = plan
        .args
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: NUL-terminated arrays of pointers into CStrings that outlive the call.
    unsafe { libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    Err(Failure::new(
        format!("exec {}", program.to_string_lossy()),
        io::Error::last_os_error(),
    ))
}

/// The rootfs: no mount event of ours may reach the host (rslave), the rootfs becomes a mount of its own so
/// it can be pivoted to, every mount and device goes on, then `pivot_root` and the old root is detached.
fn rootfs(plan: &Plan) -> Result<(), Failure> {
    use rustix::mount::MountPropagationFlags;
    step(
        "rootfs propagation",
        rustix::mount::mount_change(
            "/",
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
        )
        .map_err(io::Error::from),
    )?;
    step(
        &format!("rootfs {}", plan.rootfs.display()),
        rustix::mount::mount_bind_recursive(&plan.rootfs, &plan.rootfs).map_err(io::Error::from),
    )?;
    let root = step(
        &format!("rootfs {}", plan.rootfs.display()),
        rustix::fs::open(
            &plan.rootfs,
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(io::Error::from),
    )?;
    mounts::mount_all(root.as_fd(), &plan.mounts, &plan.cgroup_dirs)?;
    dev::populate(root.as_fd(), &plan.devices)?;
    let syscall = create_syscall();
    sys("pivot_root", syscall.pivot_rootfs(&plan.rootfs))
}

/// The spec's environment, plus HOME from the container's /etc/passwd when the spec has none (as runc and
/// libcontainer add it).
fn environment(plan: &Plan) -> Vec<CString> {
    let mut env: Vec<String> = plan.env.clone();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        if let Some(home) = home_of(plan.uid) {
            env.push(format!("HOME={home}"));
        }
    }
    env.into_iter()
        .filter_map(|e| CString::new(e).ok())
        .collect()
}

fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

/// The program to exec: given (`ucr.program`), a path, or args[0] looked up in the task's PATH inside the root.
fn find_program(plan: &Plan) -> Result<CString, Failure> {
    let name = plan.program.clone().unwrap_or_else(|| {
        plan.args
            .first()
            .map(|a| a.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let not_found = || {
        Failure::new(
            format!("exec {name}"),
            io::Error::new(io::ErrorKind::NotFound, "not found in PATH"),
        )
    };
    let found = if name.contains('/') {
        PathBuf::from(&name)
    } else {
        let path = plan
            .env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(&name))
            .find(|p| rustix::fs::access(p, rustix::fs::Access::EXEC_OK).is_ok() && p.is_file())
            .ok_or_else(not_found)?
    };
    CString::new(found.into_os_string().into_encoded_bytes()).map_err(|_| not_found())
}

fn seccomp(plan: &Plan) -> Result<(), Failure> {
    match &plan.seccomp {
        Some(f) => step("seccomp", super::seccomp::install(f)),
        None => Ok(()),
    }
}
