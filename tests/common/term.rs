//! The test's side of a terminal: a pty whose slave is given as the stdio of `ucr exec -it` or `ucr run -it`,
//! the master read for what appears there and written to as typed keys, as a person's terminal would; and the
//! one session both are driven through (`shell_session`).

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};
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

    /// `cmd` (a shell on a terminal: `ucr exec -it`, `ucr run -it`) started on this terminal's `slave`, then
    /// a person's session with it: a command typed and its output read (the shell's own echo of the keys
    /// first), the window resized and the new size seen, the terminal named by `tty` in the container's
    /// `/dev/pts`, `exit 5`. Returns the exit code `cmd` ended with.
    pub fn shell_session(&mut self, cmd: Command, slave: File) -> Option<i32> {
        let mut child = spawn_on(cmd, slave);
        self.type_line("stty size; echo mark''er\n");
        self.expect("24 80");
        self.expect("marker");
        self.resize(30, 100);
        std::thread::sleep(Duration::from_millis(500));
        self.type_line("stty size; test -t 0 && echo is''tty\n");
        self.expect("30 100");
        self.expect("istty");
        // The terminal is the container's own: its devpts names it.
        self.type_line("tty\n");
        self.expect("\n/dev/pts/");
        self.type_line("exit 5\n");
        self.wait(&mut child)
    }

    /// The exit code of `child`, a process on this terminal; panics (with what the terminal showed) if it has
    /// not ended within a minute.
    pub fn wait(&self, child: &mut Child) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = child.try_wait().expect("wait") {
                return s.code();
            }
            assert!(
                Instant::now() < deadline,
                "the session did not end: {:?}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `cmd` started with a terminal's `slave` as its stdin, stdout and stderr (this process keeps no copy).
pub fn spawn_on(mut cmd: Command, slave: File) -> Child {
    let fd = |f: &File| Stdio::from(f.try_clone().expect("dup"));
    cmd.stdin(fd(&slave)).stdout(fd(&slave)).stderr(fd(&slave));
    cmd.spawn().expect("spawn on the terminal")
}
