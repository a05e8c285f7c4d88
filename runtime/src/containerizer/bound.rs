//! A session exec's command, bound to the life of the process that asked for it (the agent's `ucr exec
//! --session`): the first child of the exec, which waits for the command, also watches its own parent, and
//! when the parent is gone first (killed, or killed along with the agent through its parent-death signal),
//! kills the command's process group. The command leads a session and a group of its own (the launcher's
//! `setsid`), so its pgid is its pid; a shell's background jobs are the agent's to find (`process::tree`), or get
//! the terminal's hangup.
//!
//! Two pidfds in one poll: no signal handler, and no race with a parent that ends before the watch starts (the
//! parent pid is checked again once its pidfd is open).

use nix::unistd::Pid;
use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{pidfd_open, PidfdFlags};

/// Block until `command` has ended (left unreaped for the caller's wait) or `caller` has; in the second case
/// kill the command's group first. Without pidfds (an old kernel) it only waits.
pub fn watch(command: Pid, caller: u32) {
    let open = |pid: i32| {
        rustix::process::Pid::from_raw(pid).and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok())
    };
    let (Some(cmd_fd), Some(caller_fd)) = (
        open(command.as_raw()),
        i32::try_from(caller).ok().and_then(open),
    ) else {
        return;
    };
    // The pidfd names the caller only if the caller is still our parent (pids are reused once reaped).
    let parent_alive = u32::try_from(nix::unistd::getppid().as_raw()).ok() == Some(caller);
    if parent_alive {
        loop {
            let mut set = [
                PollFd::new(&cmd_fd, PollFlags::IN),
                PollFd::new(&caller_fd, PollFlags::IN),
            ];
            match poll(&mut set, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return,
            }
            if !set[0].revents().is_empty() {
                return;
            }
            if !set[1].revents().is_empty() {
                break;
            }
        }
    }
    // SAFETY: kill(2) of our own unreaped child and its group; no memory effects.
    unsafe {
        libc::kill(-command.as_raw(), libc::SIGKILL);
        libc::kill(command.as_raw(), libc::SIGKILL);
    }
}
