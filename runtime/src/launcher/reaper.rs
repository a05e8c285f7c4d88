//! The task's reaper: the container's init stays the parent of the task instead of becoming it. Mesos's launch
//! helper does this for every container (`mesos-containerizer launch`, src/slave/containerizer/mesos/launch.cpp:
//! it forks the command, forwards every signal it gets to it, reaps every descendant, and checkpoints the
//! command's wait status), as `docker run --init` (tini) and `podman --init` (catatonit) do on request.
//!
//! Why: a task that is pid 1 of its pid namespace receives only the signals it has a handler for. `ucr stop`
//! of `sh -c 'sleep 600'`, or of any program without a SIGTERM handler, waited out the whole grace period for
//! the SIGKILL, where under Mesos the same task ends at the SIGTERM; and pid 1 inherits every orphan of the
//! container, which a task that never waits for children leaves behind as zombies.
//!
//! The task's child is made as the init's very last step, after the identity switch, no_new_privs and seccomp,
//! as in Mesos's helper: the reaper has the task's user, capabilities and filter, and past its start
//! (close_range, a read of its own /proc/self/stat, prctl) makes only rt_sigtimedwait, wait4, kill, write and
//! exit calls. Every signal is blocked before the child is made, so one sent in between waits for the
//! reaper (a blocked signal is queued even for a pid 1 without a handler) and the task unblocks them before its
//! exec. The task gets a process group of its own and, when the init's stdin is a terminal, the terminal's
//! foreground, as tini gives it: a ^C typed at the terminal reaches the task once, not also through the
//! reaper. The task's raw wait status goes to `status_fd`, the container's status file, which the supervisor
//! opened before the init left the host's view and reads after reaping the reaper (Mesos's helper writes its
//! status file for the agent to read, launch.cpp); a reaper killed before the task ended writes nothing, and its
//! own end (SIGKILL) stands.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::io;

/// The task's child's stack: it makes six system calls on it before its exec replaces it.
const CHILD_STACK: usize = 64 * 1024;

/// What the reaper hands the task's child, which runs in the reaper's memory until its exec (CLONE_VM): the
/// exec's arguments, the signal mask to restore, and where the exec's error goes if it fails.
#[repr(C)]
struct Child {
    program: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    old: libc::sigset_t,
    status_fd: i32,
    errno: i32,
}

/// Runs `program` as the task in a child of this process, which stays as its reaper and never returns.
/// Returns only when the task was not started: `Err` when there is no child, `Ok` with the exec's error when
/// the child could not exec (it has ended by then). `status_fd` is where the task's wait status goes.
///
/// The child shares this process's memory until its exec and this process waits meanwhile (CLONE_VM |
/// CLONE_VFORK), as glibc's posix_spawn makes one: a fork copied the page tables of an init that is a copy of
/// the launching CLI only for the exec to throw the copy away, and left the reaper to fault its pages back
/// (the init and task took 0.29 ms more CPU per start, median of 30 starts each). The child makes plain
/// system calls only, on arrays built here beforehand.
pub fn exec(
    status_fd: i32,
    program: &CStr,
    args: &[CString],
    env: &[CString],
) -> io::Result<io::Error> {
    let (argv, envp) = (super::hook::pointers(args), super::hook::pointers(env));
    let mut all = empty_set();
    let mut child = Child {
        program: program.as_ptr(),
        argv: argv.as_ptr(),
        envp: envp.as_ptr(),
        old: empty_set(),
        status_fd,
        errno: 0,
    };
    // SAFETY: sigfillset/sigprocmask on local sets; the process has one thread.
    unsafe {
        libc::sigfillset(&mut all);
        if libc::sigprocmask(libc::SIG_SETMASK, &all, &mut child.old) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // Reserved, not written: only the pages the child touches are ever faulted in.
    let mut stack: Vec<u8> = Vec::with_capacity(CHILD_STACK);
    // The top of the stack (it grows down), 16-byte aligned as the ABI wants.
    let top = (stack.as_mut_ptr() as usize + CHILD_STACK) & !15;
    // SAFETY: `start` gets `child`, which outlives the child's use of it: this process is suspended until the
    // child has exec'd or ended (CLONE_VFORK), and so are `stack`, `argv` and `envp`.
    let task = unsafe {
        libc::clone(
            start,
            top as *mut c_void,
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&mut child as *mut Child).cast(),
        )
    };
    // SAFETY: the child's write, done before this process resumed; read as memory another task wrote.
    let errno = unsafe { std::ptr::read_volatile(&child.errno) };
    if task == -1 || errno != 0 {
        let e = io::Error::last_os_error();
        // SAFETY: reaps the child that ended without its exec, and restores the mask taken above.
        unsafe {
            if task != -1 {
                libc::waitpid(task, std::ptr::null_mut(), libc::__WALL);
            }
            libc::sigprocmask(libc::SIG_SETMASK, &child.old, std::ptr::null_mut());
        }
        return match task {
            -1 => Err(e),
            _ => Ok(io::Error::from_raw_os_error(errno)),
        };
    }
    serve(task, status_fd, &all)
}

/// The task's child: its own process group and, with a terminal, the foreground; the status file closed and the
/// signal mask restored; then the exec. It runs in the reaper's memory, so it only makes system calls, and
/// leaves the exec's error in `arg` for the reaper when the exec fails.
extern "C" fn start(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the reaper's `Child`, alive and untouched while the reaper waits for this exec. tcsetpgrp
    // from a background group would raise SIGTTOU, which is blocked here, so it succeeds; ENOTTY (no terminal)
    // is the usual answer and fine.
    unsafe {
        let c = &mut *arg.cast::<Child>();
        libc::setpgid(0, 0);
        libc::tcsetpgrp(0, libc::getpid());
        libc::close(c.status_fd);
        libc::sigprocmask(libc::SIG_SETMASK, &c.old, std::ptr::null_mut());
        libc::execve(c.program, c.argv, c.envp);
        c.errno = *libc::__errno_location();
        libc::_exit(127)
    }
}

fn empty_set() -> libc::sigset_t {
    // SAFETY: a zeroed sigset_t is a valid value, emptied by sigemptyset.
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut s);
        s
    }
}

/// The reaper's life: forward every signal but SIGCHLD to `task`, reap every child, and once `task` is reaped
/// write its raw status to `status_fd` and exit with what a shell would show (its code, or 128 + its signal).
fn serve(task: i32, status_fd: i32, all: &libc::sigset_t) -> ! {
    close_others(status_fd);
    // What `ps` in the container shows, and no more: this is a copy of the supervisor, whose command line and
    // environment are the launching CLI's.
    super::in_place::show_command_line(&[c"ucr-init".to_owned()]);
    super::in_place::hide_environment();
    // SAFETY: plain prctl; orphans of the task come here even when this is not pid 1 (a shared pid namespace).
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    loop {
        // SAFETY: waits for one of the blocked signals; `info` is written by the kernel.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let sig = unsafe { libc::sigwaitinfo(all, &mut info) };
        match sig {
            -1 => continue,
            libc::SIGCHLD => {
                if let Some(status) = reap(task) {
                    finish(status, status_fd);
                }
            }
            // SAFETY: kill(2) of our own child, not reaped yet, so the pid is still the task's.
            s => unsafe {
                libc::kill(task, s);
            },
        }
    }
}

/// Reaps every child that has ended; the task's raw status if it was among them.
fn reap(task: i32) -> Option<i32> {
    let mut found = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own children, without blocking.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
        if pid <= 0 {
            return found;
        }
        if pid == task && (libc::WIFEXITED(status) || libc::WIFSIGNALED(status)) {
            found = Some(status);
        }
    }
}

/// Writes the raw status as decimal text (the status file's format) and exits.
fn finish(status: i32, status_fd: i32) -> ! {
    let bytes = status.to_string().into_bytes();
    // SAFETY: one write of a few bytes to the status file the supervisor opened for us, then _exit, which runs
    // none of the supervisor's exit handlers copied by the clone.
    unsafe {
        libc::write(status_fd, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(super::hook::exit_code(status))
    }
}

/// Closes every fd from 3 up but `keep`: the init's report and go pipes among them, whose other ends tell the
/// supervisor when the task has exec'd. close_range first; a filter that refuses it leaves close(2) per fd
/// up to the soft fd limit.
fn close_others(keep: i32) {
    let keep = keep as u32;
    // SAFETY: closes fds of this process that nothing in it uses any more.
    let ranged = unsafe {
        (keep <= 3 || libc::syscall(libc::SYS_close_range, 3u32, keep - 1, 0u32) == 0)
            && libc::syscall(libc::SYS_close_range, keep + 1, u32::MAX, 0u32) == 0
    };
    if ranged {
        return;
    }
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a local; close of fds nothing uses.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        for fd in 3..lim.rlim_cur.min(1 << 20) as i32 {
            if fd != keep as i32 {
                libc::close(fd);
            }
        }
    }
}
