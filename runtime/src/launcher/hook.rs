//! Running one runtime-spec hook: fork, the state on its stdin, `execve` of its absolute path with its own argv
//! and environment (no PATH lookup, no inherited variables: the spec gives both), and a wait bounded by its
//! `timeout`, after which it is killed. Used by the init for `startContainer` hooks and by the OCI mode for
//! the others, so every hook kind runs the same way.

use std::ffi::CString;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use super::plan::HookCmd;

/// Run `hook` to its end; its exit code (128 + n when killed by signal n).
pub fn run(hook: &HookCmd, stdin: &[u8]) -> io::Result<i32> {
    run_in(hook, stdin, &mut || Ok(()))
}

/// [`run`], with `prepare` called in the child before the exec (to join namespaces). `prepare` runs after
/// `fork` in a copy of the caller, so it must only make system calls.
pub fn run_in(
    hook: &HookCmd,
    stdin: &[u8],
    prepare: &mut dyn FnMut() -> io::Result<()>,
) -> io::Result<i32> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let argv = pointers(&hook.args);
    let envp = pointers(&hook.env);
    // SAFETY: the child only makes system calls (dup2, prepare's, execve, _exit) before exec.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        use std::os::fd::AsRawFd;
        // SAFETY: dup2 onto stdin in the child; execve with NUL-terminated arrays built before the fork.
        unsafe {
            default_signals();
            if libc::dup2(r.as_raw_fd(), 0) < 0 || prepare().is_err() {
                libc::_exit(127);
            }
            libc::execve(hook.path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127)
        }
    }
    drop(r);
    let mut w = std::fs::File::from(w);
    // A hook that does not read its stdin is not an error (EPIPE is ignored; SIGPIPE is, for this process).
    let _ = w.write_all(stdin);
    drop(w);
    wait(pid, hook.timeout)
}

/// Every catchable signal to its default disposition, and the signal mask emptied (see
/// `Launcher::reset_signals`). Only system calls: safe in a forked child.
pub(crate) fn default_signals() {
    // The raw system call: libc's wrappers refuse the signals it keeps for itself (32 and 33 in glibc), which
    // a launcher may still have ignored, and an ignored one would outlive the exec.
    let dfl = [0u64; 4];
    for sig in 1..=libc::SIGRTMAX() {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: a zeroed kernel sigaction (SIG_DFL, no flags, empty mask), at least as large as the
            // kernel's on every architecture; errors are ignored.
            unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    dfl.as_ptr(),
                    std::ptr::null_mut::<u8>(),
                    8usize,
                )
            };
        }
    }
    // SAFETY: an empty set, initialised before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// `v` as exec wants it: pointers into the strings, then a null one.
pub(super) fn pointers(v: &[CString]) -> Vec<*const libc::c_char> {
    v.iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// A wait status as a shell reports it: the exit code, or 128 + the signal that killed the process.
pub fn exit_code(status: i32) -> i32 {
    match libc::WIFEXITED(status) {
        true => libc::WEXITSTATUS(status),
        false => 128 + libc::WTERMSIG(status),
    }
}

fn wait(pid: i32, timeout: Option<u32>) -> io::Result<i32> {
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs(u64::from(t)));
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Ok(exit_code(status));
        }
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("timed out after {}s", timeout.unwrap_or_default()),
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
