//! A task's terminal (`process.terminal`): a pseudo-terminal whose slave is the task's stdin, stdout and
//! stderr, and whose master the supervisor keeps, copying everything the task writes to the sandbox's `stdout`
//! (stderr goes the same way: a terminal has one output, as with Mesos's IO switchboard). The pty is the host's
//! (`/dev/ptmx`), so the task's `isatty` is true without its /dev/pts knowing it.
//!
//! The master is non-blocking and read in the supervisor's one poll loop, so no thread is needed; when the
//! task ends, what is left in the master is drained before the record is written.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::OFlags;
use rustix::pty::OpenptFlags;

pub struct Console {
    master: OwnedFd,
    log: File,
}

/// A new pty of `size` (rows, columns): the console over `log`, and the slave for the task's stdio.
pub fn open(size: Option<(u16, u16)>, log: File) -> io::Result<(Console, OwnedFd)> {
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
    if let Some((rows, columns)) = size {
        let w = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(&slave, w)?;
    }
    let flags = rustix::fs::fcntl_getfl(&master)?;
    rustix::fs::fcntl_setfl(&master, flags | OFlags::NONBLOCK)?;
    Ok((Console { master, log }, slave))
}

impl Console {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.master.as_fd()
    }

    /// Copy what the task has written so far; false once its side is closed (every holder of the slave gone).
    pub fn pump(&mut self) -> bool {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match rustix::io::read(&self.master, &mut buf) {
                Ok(0) => return false,
                Ok(n) => {
                    if let Err(e) = self.log.write_all(&buf[..n]) {
                        tracing::warn!("console output: {e}");
                    }
                }
                Err(rustix::io::Errno::AGAIN) => return true,
                Err(rustix::io::Errno::INTR) => continue,
                // EIO: the slave's last holder closed it.
                Err(_) => return false,
            }
        }
    }
}
