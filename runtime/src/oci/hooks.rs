//! runtime-spec hooks (config.md "POSIX-platform Hooks", runtime.md "Lifecycle"): which run where, with the
//! container's state on stdin. All of them run through `launcher::hook` (fork, execve of the absolute path with
//! the hook's own argv and env, bounded by its timeout).
//!
//! - `prestart` (deprecated) and `createRuntime`: in the runtime's namespaces, during `create`, while the init
//!   is paused after its mounts and before `pivot_root`.
//! - `createContainer`: right after them, in the container's cgroup and namespaces (joined with `setns`, pid
//!   included, so the hook is where runc's, a child of its init, is: counted against the container's limits, in
//!   its pid namespace; before `pivot_root` the container's mount namespace still resolves the runtime's paths).
//! - `startContainer`: by the init itself, after `start`, before the user's program (`launcher::init`).
//! - `poststart`: by `start`, once the program runs. `poststop`: by `delete`; a failure there is a warning.
//!
//! A failing hook before the program runs fails the operation, which then undoes itself.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use oci_spec::runtime::{Hook, Hooks};

use super::error::{OciError, Result};
use crate::launcher::{self, hook, HookCmd};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    fn of(self, h: &Hooks) -> Option<&Vec<Hook>> {
        #[allow(deprecated)]
        let prestart = h.prestart();
        match self {
            Kind::Prestart => prestart.as_ref(),
            Kind::CreateRuntime => h.create_runtime().as_ref(),
            Kind::CreateContainer => h.create_container().as_ref(),
            Kind::StartContainer => h.start_container().as_ref(),
            Kind::Poststart => h.poststart().as_ref(),
            Kind::Poststop => h.poststop().as_ref(),
        }
    }
}

/// The hooks of `kind` as the launcher runs them; a relative path, a NUL or a timeout that is not positive is
/// an error naming the hook.
pub fn commands(hooks: Option<&Hooks>, kind: Kind) -> Result<Vec<HookCmd>> {
    let Some(list) = hooks.and_then(|h| kind.of(h)) else {
        return Ok(Vec::new());
    };
    list.iter()
        .enumerate()
        .map(|(index, h)| {
            let bad = |why: &str| OciError::Hook {
                kind: kind.name(),
                index,
                path: h.path().display().to_string(),
                why: why.to_string(),
            };
            if !h.path().is_absolute() {
                return Err(bad("the path must be absolute"));
            }
            let c = |s: &str| CString::new(s).map_err(|_| bad("a NUL in its path, args or env"));
            let path = c(&h.path().to_string_lossy())?;
            let args = match h.args() {
                Some(a) if !a.is_empty() => a.iter().map(|s| c(s)).collect::<Result<Vec<_>>>()?,
                _ => vec![path.clone()],
            };
            let env = h
                .env()
                .iter()
                .flatten()
                .map(|s| c(s))
                .collect::<Result<Vec<_>>>()?;
            let timeout = match h.timeout() {
                None => None,
                Some(t) if t > 0 => Some(u32::try_from(t).unwrap_or(u32::MAX)),
                Some(_) => return Err(bad("timeout must be greater than zero")),
            };
            Ok(HookCmd {
                path,
                args,
                env,
                timeout,
            })
        })
        .collect()
}

/// Where a `createContainer` hook runs: the container's init, whose namespaces it joins, and the
/// `cgroup.procs` file of the container's cgroup in each hierarchy.
pub struct Join<'a> {
    pub pid: i32,
    pub cgroup_procs: &'a [PathBuf],
}

/// Run the hooks of `kind` in order with `state` on their stdin, in the cgroup and namespaces `join` names
/// when given (`createContainer`); the first failure stops them and is the error.
pub fn run(
    hooks: Option<&Hooks>,
    kind: Kind,
    state: &serde_json::Value,
    join: Option<Join>,
) -> Result<()> {
    let cmds = commands(hooks, kind)?;
    if cmds.is_empty() {
        return Ok(());
    }
    let stdin = state.to_string().into_bytes();
    let (namespaces, procs) = match join {
        Some(j) => (namespaces_of(j.pid)?, cgroup_files(j.cgroup_procs)?),
        None => (Vec::new(), Vec::new()),
    };
    for (index, cmd) in cmds.iter().enumerate() {
        let fail = |why: String| OciError::Hook {
            kind: kind.name(),
            index,
            path: cmd.path.to_string_lossy().into_owned(),
            why,
        };
        let mut enter = || {
            // The cgroup first: its files are the runtime's paths, which a joined mount namespace may hide.
            for fd in &procs {
                // SAFETY: a write of a local buffer to an fd we opened; only a system call in the forked child.
                if unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) } != 1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (fd, nstype) in &namespaces {
                // SAFETY: setns on an fd we opened; only a system call in the forked child.
                if unsafe { libc::setns(fd.as_raw_fd(), *nstype) } < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let new_pid = namespaces.iter().any(|(_, t)| *t == libc::CLONE_NEWPID);
            // SAFETY: system calls only, in the forked child of a single-threaded process.
            unsafe { into_pid_namespace(new_pid) }
        };
        match hook::run_in(cmd, &stdin, &mut enter) {
            Ok(0) => {}
            Ok(code) => return Err(fail(format!("exited with {code}"))),
            Err(e) => return Err(fail(e.to_string())),
        }
    }
    Ok(())
}

/// The container's `cgroup.procs` files, opened for writing before the fork: the child only writes "0" (itself)
/// to each.
fn cgroup_files(files: &[PathBuf]) -> Result<Vec<OwnedFd>> {
    files
        .iter()
        .map(|p| {
            let f = std::fs::OpenOptions::new().write(true).open(p);
            f.map(OwnedFd::from).map_err(|e| OciError::io(p, e))
        })
        .collect()
}

/// The container's namespaces a `createContainer` hook joins, as runc's hooks are in them (they are its init's
/// children there): those where the container's init `pid` differs from this process, opened before the fork,
/// in `launcher::enter`'s order (a user namespace after the host-owned ones, the mount namespace last).
fn namespaces_of(pid: i32) -> Result<Vec<(OwnedFd, i32)>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for (name, nstype) in launcher::ENTER_ORDER {
        let path = format!("/proc/{pid}/ns/{name}");
        let f = std::fs::File::open(&path).map_err(|e| OciError::io(&path, e))?;
        let theirs = f.metadata().map_err(|e| OciError::io(&path, e))?;
        let own = format!("/proc/self/ns/{name}");
        let ours = std::fs::metadata(&own).map_err(|e| OciError::io(&own, e))?;
        if (theirs.dev(), theirs.ino()) != (ours.dev(), ours.ino()) {
            out.push((OwnedFd::from(f), nstype));
        }
    }
    Ok(out)
}

/// A joined pid namespace applies to children only: with one, fork once more; this process waits for the
/// hook and exits with its status (128 + a signal's number), and the hook dies with it (a timeout kills this
/// one). Returns in the process that is to exec the hook.
///
/// # Safety
/// In a forked child of a single-threaded process: system calls only.
unsafe fn into_pid_namespace(new_pid: bool) -> std::io::Result<()> {
    if !new_pid {
        return Ok(());
    }
    // SAFETY: see the function's contract.
    unsafe {
        let child = libc::fork();
        if child < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if child == 0 {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            return Ok(());
        }
        // Not the hook: the write end of its stdin, inherited with the fork, would keep it from ever seeing EOF.
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        let mut status = 0;
        while libc::waitpid(child, &mut status, 0) < 0 {
            if *libc::__errno_location() != libc::EINTR {
                libc::_exit(127);
            }
        }
        libc::_exit(hook::exit_code(status))
    }
}
