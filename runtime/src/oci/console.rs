//! `process.terminal` with `--console-socket`: a new pty whose slave is the container's stdio and whose master
//! goes to the caller over the AF_UNIX socket it named, as one message carrying the fd (`SCM_RIGHTS`) and the
//! terminal's name as data, as runc sends it (runc `docs/terminals.md`); containerd's shim and podman's conmon
//! read it that way.

use std::io::IoSlice;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use rustix::fs::OFlags;
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};

use super::error::{OciError, Result};
use crate::launcher::{self, pty};

/// The stdio of a container process: with `process.terminal`, a pty whose master goes to `socket`; else the
/// caller's stdin, stdout and stderr, passed on untouched (the shim's pipes or FIFOs).
pub fn stdio(socket: Option<&Path>, plan: &launcher::Plan) -> Result<launcher::Stdio> {
    match (socket, plan.terminal) {
        (Some(socket), true) => send_pty(socket, plan.console_size),
        (None, true) => Err(OciError::Refused(
            "process.terminal is true but no --console-socket was given".into(),
        )),
        (_, false) => {
            let dup = |fd: std::os::fd::BorrowedFd<'_>, n: u8| {
                fd.try_clone_to_owned()
                    .map_err(|e| OciError::io(format!("/proc/self/fd/{n}"), e))
            };
            Ok(launcher::Stdio {
                stdin: dup(std::io::stdin().as_fd(), 0)?,
                stdout: dup(std::io::stdout().as_fd(), 1)?,
                stderr: dup(std::io::stderr().as_fd(), 2)?,
            })
        }
    }
}

/// Open the pty, hand its master to `socket`, and return the slave three times as the init's stdio.
fn send_pty(socket: &Path, size: Option<(u16, u16)>) -> Result<launcher::Stdio> {
    let io = |e: std::io::Error| OciError::io(socket, e);
    let (master, slave) = pty::open(size).map_err(io)?;
    // The receiver sets its own modes; runc's master arrives blocking.
    let flags = rustix::fs::fcntl_getfl(&master).map_err(|e| io(e.into()))?;
    rustix::fs::fcntl_setfl(&master, flags & !OFlags::NONBLOCK).map_err(|e| io(e.into()))?;
    let name = rustix::pty::ptsname(&master, Vec::new()).map_err(|e| io(e.into()))?;
    let stream = UnixStream::connect(socket).map_err(io)?;
    send_fd(&stream, &master, name.as_bytes()).map_err(io)?;
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(io);
    Ok(launcher::Stdio {
        stdin: dup(&slave)?,
        stdout: dup(&slave)?,
        stderr: slave,
    })
}

/// One message: `data`, with `fd` as its SCM_RIGHTS.
pub fn send_fd(stream: &UnixStream, fd: &OwnedFd, data: &[u8]) -> std::io::Result<()> {
    let fds = [fd.as_fd()];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        stream,
        &[IoSlice::new(data)],
        &mut control,
        SendFlags::empty(),
    )?;
    Ok(())
}
