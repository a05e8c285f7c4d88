//! A task's terminal (`process.terminal`): a pseudo-terminal whose slave is the task's stdin, stdout and
//! stderr, and whose master the supervisor keeps, copying everything the task writes to the sandbox's `stdout`
//! (stderr goes the same way: a terminal has one output, as with Mesos's IO switchboard). The pty is
//! `launcher::pty`'s.
//!
//! The master is non-blocking and read in the supervisor's one poll loop, so no thread is needed; when the
//! task ends, what is left in the master is drained before the record is written.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::launcher::pty;

pub struct Console {
    master: OwnedFd,
    log: File,
}

/// A new pty of `size` (rows, columns): the console over `log`, and the slave for the task's stdio.
pub fn open(size: Option<(u16, u16)>, log: File) -> io::Result<(Console, OwnedFd)> {
    let (master, slave) = pty::open(size)?;
    Ok((Console { master, log }, slave))
}

impl Console {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.master.as_fd()
    }

    /// Copy what the task has written so far; false once its side is closed (every holder of the slave gone).
    pub fn pump(&mut self) -> bool {
        pty::copy_out(&self.master, &mut self.log)
    }
}
