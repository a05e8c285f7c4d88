//! A pseudo-terminal for a process the launcher starts with `terminal` (a task with `tty`, an `exec -t`): the
//! host's `/dev/ptmx`, so the process's `isatty` holds without its /dev/pts knowing the pair. The caller keeps
//! the master (non-blocking, for a poll loop) and gives the slave as the process's stdio.

use std::io;
use std::os::fd::OwnedFd;

use rustix::fs::OFlags;
use rustix::pty::OpenptFlags;

/// A new pty of `size` (rows, columns): (master, slave).
pub fn open(size: Option<(u16, u16)>) -> io::Result<(OwnedFd, OwnedFd)> {
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    rustix::pty::grantpt(&master)?;
    rustix::pty::unlockpt(&master)?;
    let name = rustix::pty::ptsname(&master, Vec::new())?;
    let slave = rustix::fs::open(
        name.as_c_str(),
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    if let Some(size) = size {
        resize(&slave, size)?;
    }
    let flags = rustix::fs::fcntl_getfl(&master)?;
    rustix::fs::fcntl_setfl(&master, flags | OFlags::NONBLOCK)?;
    Ok((master, slave))
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
