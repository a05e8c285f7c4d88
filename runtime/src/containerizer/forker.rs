//! The forker: a single-threaded child a long-lived multi-threaded caller (the agent) forks before it starts
//! any thread, which then forks supervisors on request, exactly as the CLI forks one.
//!
//! Why: a multi-threaded process may not fork a child that runs Rust code, so without it each launch execs
//! `ucr __supervise` — an exec, the dynamic loader and relocation of the whole binary, the teardown of the
//! forked copy of the caller's address space, and the host's cgroup detection (a read of mountinfo, which grows
//! with every container's mounts) all over again. `perf` during `bench/agent.sh` put those at about 40% of a
//! launch's CPU. Here the host is detected once, before the first fork, and every supervisor inherits it.
//!
//! A request is one SOCK_SEQPACKET message: the container id, with the supervisor's notify pipe and log file
//! passed as SCM_RIGHTS. The forker ignores SIGCHLD, so the kernel reaps the supervisors it forks (each resets
//! it for its own task). When the caller's end closes (the caller exited or was killed) the forker exits; the
//! supervisors live on, as after a CLI `run -d`. If the forker is gone, launches fall back to the exec.

use std::fs::File;
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::path::Path;

use rustix::net::{
    recvmsg, sendmsg, socketpair, AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage,
    RecvFlags, SendAncillaryBuffer, SendAncillaryMessage, SendFlags, SocketFlags, SocketType,
};

use super::fork::{fork_supervisor, single_threaded};
use crate::container::error::{ContainerError, Result};
use crate::container::paths::Paths;

pub struct Forker {
    sock: OwnedFd,
    pid: i32,
}

impl std::fmt::Debug for Forker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Forker(pid {})", self.pid)
    }
}

impl Forker {
    /// Forks the forker for containers under `paths` with images in `store_dir`. Only while this process has
    /// one thread (before an async runtime or any other thread starts).
    pub fn start(paths: &Paths, store_dir: &Path) -> Result<Forker> {
        if !single_threaded() {
            return Err(ContainerError::io(
                "forker",
                std::io::Error::other("this process already runs several threads"),
            ));
        }
        let (ours, theirs) = socketpair(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| ContainerError::io("socketpair", e.into()))?;
        // SAFETY: this process has one thread, so the child is a whole copy that may run any code; it never
        // returns into the caller's code (`serve` ends with `_exit`).
        match unsafe { libc::fork() } {
            -1 => Err(ContainerError::io("fork", std::io::Error::last_os_error())),
            0 => {
                drop(ours);
                // Nothing of the caller's stays open here but stdio and the socket (at 3): a lock the caller
                // holds now must not outlive it in this process.
                let raw = theirs.into_raw_fd();
                // SAFETY: fd calls on this process's own fds; afterwards fd 3 is the socket, owned only here.
                let sock = unsafe {
                    if raw != 3 && libc::dup2(raw, 3) != 3 {
                        libc::_exit(1);
                    }
                    if raw < 3 {
                        libc::close(raw);
                    }
                    libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
                    OwnedFd::from_raw_fd(3)
                };
                serve(paths, store_dir, sock)
            }
            pid => Ok(Forker { sock: ours, pid }),
        }
    }

    /// Asks for the supervisor of `id`, reporting on `notify` and logging to `log`. It is forked when this
    /// returns Ok; its first line on the pipe says whether the task started.
    pub(super) fn request(&self, id: &str, notify: &OwnedFd, log: &File) -> std::io::Result<()> {
        use std::os::fd::AsFd;
        let fds = [notify.as_fd(), log.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err(std::io::Error::other("ancillary buffer too small"));
        }
        let sent = sendmsg(
            &self.sock,
            &[IoSlice::new(id.as_bytes())],
            &mut control,
            SendFlags::NOSIGNAL,
        );
        if sent.is_err() {
            // The forker died: reap it, so it does not stay a zombie for the caller's life.
            // SAFETY: a non-blocking waitpid on this process's own child.
            unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), libc::WNOHANG) };
        }
        sent?;
        Ok(())
    }
}

/// The forker's loop: one supervisor per request until the caller's end closes.
fn serve(paths: &Paths, store_dir: &Path, sock: OwnedFd) -> ! {
    // SAFETY: a signal disposition and this process's name, in a single-threaded process.
    unsafe {
        libc::signal(libc::SIGCHLD, libc::SIG_IGN);
        // `ucr-forker` in ps and top, not a second `ucr agent`.
        libc::prctl(libc::PR_SET_NAME, c"ucr-forker".as_ptr());
    }
    // Detected here once, inherited by every supervisor (an error is left for the supervisor to report).
    let _ = ucr_isolators::cgroups::host();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = recvmsg(
            &sock,
            &mut [IoSliceMut::new(&mut buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        );
        let n = match got {
            Ok(m) if m.bytes > 0 => m.bytes,
            Err(rustix::io::Errno::INTR) => continue,
            // EOF: the caller is gone.
            _ => break,
        };
        let mut fds: Vec<OwnedFd> = Vec::new();
        for m in control.drain() {
            if let RecvAncillaryMessage::ScmRights(rights) = m {
                fds.extend(rights);
            }
        }
        let id = std::str::from_utf8(&buf[..n]).ok();
        // A malformed request is dropped with its fds: the caller reads EOF on its pipe and reports it.
        if let (Some(id), 2) = (id, fds.len()) {
            let log = fds.pop().map(File::from);
            if let (Some(notify), Some(log)) = (fds.pop(), log) {
                let _ = fork_supervisor(paths, store_dir, id, &notify, log, None);
            }
        }
    }
    // SAFETY: ends the forker without running the caller's exit handlers.
    unsafe { libc::_exit(0) }
}
