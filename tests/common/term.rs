//! The test's side of a terminal: a pty whose slave is given as the stdio of `ucr exec -it` or `ucr run -it`,
//! the master read for what appears there and written to as typed keys, as a person's terminal would.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

pub struct Term {
    pub master: OwnedFd,
    seen: String,
}

impl Term {
    /// A new pty of `rows` x `columns`: the terminal, and its slave for the process under test.
    pub fn open(rows: u16, columns: u16) -> (Term, File) {
        use rustix::pty::OpenptFlags;
        let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
        rustix::pty::grantpt(&master).expect("grantpt");
        rustix::pty::unlockpt(&master).expect("unlockpt");
        let name = rustix::pty::ptsname(&master, Vec::new()).expect("ptsname");
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_string_lossy().as_ref())
            .expect("slave");
        let t = Term {
            master,
            seen: String::new(),
        };
        t.resize(rows, columns);
        (t, slave)
    }

    /// Set the terminal's size, as a window resized.
    pub fn resize(&self, rows: u16, columns: u16) {
        let size = rustix::termios::Winsize {
            ws_row: rows,
            ws_col: columns,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        rustix::termios::tcsetwinsize(self.master.as_fd(), size).expect("size");
    }

    /// Read until `want` has appeared after what was already consumed; panics at the deadline.
    pub fn expect(&mut self, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut buf = [0u8; 4096];
        while !self.seen.contains(want) {
            assert!(
                Instant::now() < deadline,
                "never saw {want:?} in {:?}",
                self.seen
            );
            let mut set = [rustix::event::PollFd::new(
                &self.master,
                rustix::event::PollFlags::IN,
            )];
            let t = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 100_000_000,
            };
            let _ = rustix::event::poll(&mut set, Some(&t));
            if let Ok(n) = rustix::io::read(&self.master, &mut buf) {
                self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
        let at = self.seen.find(want).unwrap_or(0) + want.len();
        self.seen.drain(..at);
    }

    /// What was seen and not consumed yet.
    pub fn seen(&self) -> &str {
        &self.seen
    }

    pub fn type_line(&self, line: &str) {
        let mut f = File::from(self.master.try_clone().expect("dup"));
        f.write_all(line.as_bytes()).expect("type");
    }
}
