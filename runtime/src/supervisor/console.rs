//! A task's terminal (`process.terminal`): a pseudo-terminal whose slave is the task's stdin, stdout and
//! stderr, and whose master the supervisor keeps, copying everything the task writes to the sandbox's `stdout`
//! (stderr goes the same way: a terminal has one output, as with Mesos's IO switchboard). The pty is
//! `launcher::pty`'s. Input reaches it through the console socket (`console_input`): the agent's
//! ATTACH_CONTAINER_INPUT.
//!
//! The master is non-blocking and read in the supervisor's one poll loop, so no thread is needed; when the
//! task ends, what is left in the master is drained before the record is written.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::event::{PollFd, PollFlags};

use super::console_input::ConsoleInput;
use crate::launcher::pty;

pub struct Console {
    master: OwnedFd,
    log: File,
    input: Option<ConsoleInput>,
}

impl Console {
    /// The console of the pty whose (non-blocking) `master` the task's init sent, copied to `log`.
    pub fn new(master: OwnedFd, log: File) -> Console {
        Console {
            master,
            log,
            input: None,
        }
    }

    /// Serve the console socket at `path` while the console lives (the socket is removed with it).
    pub fn listen(&mut self, path: &Path) -> io::Result<()> {
        self.input = Some(ConsoleInput::bind(path)?);
        Ok(())
    }

    /// What the supervisor's poll waits on for this terminal: the master first (for writing too while input
    /// waits for it), then the console socket's fds.
    pub fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut flags = PollFlags::IN;
        if self.input.as_ref().is_some_and(|i| i.has_pending()) {
            flags |= PollFlags::OUT;
        }
        let mut out = vec![PollFd::new(&self.master, flags)];
        if let Some(i) = &self.input {
            out.extend(
                i.fds()
                    .into_iter()
                    .map(|fd| PollFd::from_borrowed_fd(fd, PollFlags::IN)),
            );
        }
        out
    }

    /// After the poll, `ready` aligned with [`poll_fds`](Self::poll_fds): copy the task's output, serve the
    /// input. False once the task's side is closed (every holder of the slave gone).
    pub fn serve(&mut self, ready: &[bool]) -> bool {
        if ready.first().copied().unwrap_or(false) && !self.pump() {
            return false;
        }
        if let Some(i) = self.input.as_mut() {
            i.serve(ready.get(1..).unwrap_or(&[]), &self.master);
        }
        true
    }

    /// Copy what the task has written so far; false once its side is closed (every holder of the slave gone).
    pub fn pump(&mut self) -> bool {
        pty::copy_out(&self.master, &mut self.log)
    }
}
