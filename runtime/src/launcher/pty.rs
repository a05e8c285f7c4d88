//! Pseudo-terminals for a process the launcher starts with a terminal (a task with `tty`, `process.terminal`,
//! an `exec -t`).
//!
//! The pair is made by the process itself once it sees the container's filesystem ([`pair`] from inside the
//! init after `pivot_root`, or from a process that joined the container's mount namespace), so the slave lives
//! in the container's own devpts: `tty`, `ttyname(3)` and `/proc/self/fd/0` name it as `/dev/pts/N` there, as
//! runc makes it. The master goes to whoever serves the terminal as one message on an AF_UNIX socket
//! ([`send`], [`receive`]), the fd as `SCM_RIGHTS` and the slave's name as data: runc's console-socket message
//! (runc `docs/terminals.md`), which containerd's shim and podman's conmon read.
//!
//! [`open`] is the same pair made where the caller stands, for a terminal of the host's (the agent's session).

use std::ffi::CString;
use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use rustix::pty::OpenptFlags;

/// A new pty from `/dev/ptmx` as this process sees it, of `size` (rows, columns): (master, slave, the slave's
/// name). The slave is opened from the master (`TIOCGPTPEER`), not by a path an image could have put something
/// at. Both are close-on-exec and blocking.
pub fn pair(size: Option<(u16, u16)>) -> io::Result<(OwnedFd, OwnedFd, CString)> {
    let master = rustix::fs::open(
        "/dev/ptmx",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    rustix::pty::unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::new())?;
    let slave = rustix::pty::ioctl_tiocgptpeer(
        &master,
        OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC,
    )?;
    if let Some(size) = size {
        resize(&slave, size)?;
    }
    Ok((master, slave, name))
}

/// A new pty of the caller's own (the host's, for the agent's session): (master, non-blocking for a poll
/// loop; slave).
pub fn open(size: Option<(u16, u16)>) -> io::Result<(OwnedFd, OwnedFd)> {
    let (master, slave, _) = pair(size)?;
    nonblocking(&master)?;
    Ok((master, slave))
}

/// A socket pair over which a process sends the master of the terminal it makes: (the receiver's end, the
/// process's end).
pub fn channel() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )?)
}

/// One message on the socket `to`: `data`, with `fd` as its `SCM_RIGHTS`.
pub fn send(to: BorrowedFd<'_>, fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<()> {
    let fds = [fd];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    rustix::net::sendmsg(
        to,
        &[io::IoSlice::new(data)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    Ok(())
}

/// The master a process sent with [`send`] on `from`, made non-blocking for the receiver's poll loop; None
/// when every sender went away without sending one (the process failed before its terminal existed).
pub fn receive(from: &OwnedFd) -> io::Result<Option<OwnedFd>> {
    let mut data = [0u8; 128];
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = loop {
        match rustix::net::recvmsg(
            from.as_fd(),
            &mut [IoSliceMut::new(&mut data)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        ) {
            Err(rustix::io::Errno::INTR) => continue,
            r => break r?,
        }
    };
    let mut master = None;
    for m in control.drain() {
        if let RecvAncillaryMessage::ScmRights(fds) = m {
            master = master.or(fds.into_iter().next());
        }
    }
    match (master, got.bytes) {
        (Some(m), _) => {
            nonblocking(&m)?;
            Ok(Some(m))
        }
        (None, 0) => Ok(None),
        (None, _) => Err(io::Error::other("a terminal's message came without its fd")),
    }
}

fn nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags | OFlags::NONBLOCK)?;
    Ok(())
}

/// Set the terminal's size (rows, columns); the process on it gets SIGWINCH.
pub fn resize(fd: &OwnedFd, (rows, columns): (u16, u16)) -> io::Result<()> {
    let w = rustix::termios::Winsize {
        ws_row: rows,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(fd, w)?;
    Ok(())
}

/// Copy what the process on the terminal has written so far from the non-blocking `master` to `to`; false
/// once its side is closed (EIO: every holder of the slave is gone).
pub fn copy_out(master: &OwnedFd, to: &mut dyn io::Write) -> bool {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match rustix::io::read(master, &mut buf) {
            Ok(0) => return false,
            Ok(n) => {
                if let Err(e) = to.write_all(&buf[..n]).and_then(|()| to.flush()) {
                    tracing::warn!("terminal output: {e}");
                }
            }
            Err(rustix::io::Errno::AGAIN) => return true,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_master_sent_arrives_nonblocking_and_drives_its_slave() {
        let (master, slave, name) = pair(Some((30, 100))).expect("pty");
        assert!(name.to_bytes().starts_with(b"/dev/pts/"), "{name:?}");
        let (mine, theirs) = channel().expect("channel");
        send(theirs.as_fd(), master.as_fd(), name.as_bytes()).expect("send");
        drop(master);
        let got = receive(&mine).expect("receive").expect("a master");
        let flags = rustix::fs::fcntl_getfl(&got).expect("flags");
        assert!(flags.contains(OFlags::NONBLOCK));
        let w = rustix::termios::tcgetwinsize(&got).expect("size");
        assert_eq!((w.ws_row, w.ws_col), (30, 100));
        rustix::io::write(&slave, b"hi").expect("write");
        let mut ready = [rustix::event::PollFd::new(
            &got,
            rustix::event::PollFlags::IN,
        )];
        rustix::event::poll(&mut ready, None).expect("poll");
        let mut out = Vec::new();
        assert!(copy_out(&got, &mut out));
        assert_eq!(out, b"hi");
    }

    #[test]
    fn no_master_when_the_sender_went_away() {
        let (mine, theirs) = channel().expect("channel");
        drop(theirs);
        assert!(receive(&mine).expect("receive").is_none());
    }
}
