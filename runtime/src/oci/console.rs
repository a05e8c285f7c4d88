//! `process.terminal` with `--console-socket`: a new pty whose slave is the container's stdio and whose master
//! goes to the caller over the AF_UNIX socket it named, as one message carrying the fd (`SCM_RIGHTS`) and the
//! terminal's name as data, as runc sends it (runc `docs/terminals.md`); containerd's shim and podman's conmon
//! read it that way. The container's process makes the pty in the container's devpts and sends it
//! (`launcher::pty`).

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use super::error::{OciError, Result};
use crate::launcher;

/// The stdio of a container process: with `process.terminal`, a pty the process makes in the container, whose
/// master it sends to `socket` itself (the caller connects; runc's init sends it the same way); else the
/// caller's stdin, stdout and stderr, passed on untouched (the shim's pipes or FIFOs).
pub fn stdio(socket: Option<&Path>, plan: &launcher::Plan) -> Result<launcher::Stdio> {
    match (socket, plan.terminal) {
        (Some(socket), true) => {
            let stream = UnixStream::connect(socket).map_err(|e| OciError::io(socket, e))?;
            Ok(launcher::Stdio::Terminal {
                to: OwnedFd::from(stream),
                size: plan.console_size,
            })
        }
        (None, true) => Err(OciError::Refused(
            "process.terminal is true but no --console-socket was given".into(),
        )),
        (_, false) => {
            let dup = |fd: std::os::fd::BorrowedFd<'_>, n: u8| {
                fd.try_clone_to_owned()
                    .map_err(|e| OciError::io(format!("/proc/self/fd/{n}"), e))
            };
            Ok(launcher::Stdio::Fds([
                dup(std::io::stdin().as_fd(), 0)?,
                dup(std::io::stdout().as_fd(), 1)?,
                dup(std::io::stderr().as_fd(), 2)?,
            ]))
        }
    }
}
