//! `ucr exec`: a command in a running container — its hostname, pid namespace and task user — with the
//! command's exit code; a program that is not there is 127 with one line; `-i` attaches stdin; `-it` gives a
//! working shell on a terminal, driven here from a pty as a person's terminal would drive it (type, read the
//! echo, resize, exit code).

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{busybox_registry, Containers, CMD_TIMEOUT};

fn running(c: &Containers, image: &str) -> String {
    c.run_for(&["pull", "-q", image], CMD_TIMEOUT).ok();
    let id = c.id("exec");
    let out = c.run_for(
        &[
            "run",
            "-d",
            "--name",
            &id,
            "--hostname",
            "box1",
            "--user",
            "nobody",
            image,
            "sleep",
            "1000",
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    c.wait_running(&id);
    id
}

#[test]
fn exec_runs_in_the_container_as_its_task_with_the_exit_code() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = running(&c, &image);
    let out = c.run_for(
        &[
            "exec",
            &id,
            "sh",
            "-c",
            "hostname; tr '\\0' ' ' < /proc/1/cmdline; echo; id -u; exit 3",
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 3, "{}", out.all());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines, ["box1", "sleep 1000 ", "65534"], "{}", out.all());
    let out = c.run_for(&["exec", &id, "no-such-program"], CMD_TIMEOUT);
    assert_eq!(out.code, 127, "{}", out.all());
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("no-such-program"), "{}", out.stderr);
    let out = c.run_stdin(&["exec", "-i", &id, "sh"], "echo from-stdin; exit 4\n");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (4, "from-stdin\n"),
        "{}",
        out.all()
    );
    c.run_for(&["kill", &id], CMD_TIMEOUT).ok();
    c.run_for(&["wait", &id], CMD_TIMEOUT);
    let out = c.run_for(&["exec", &id, "true"], CMD_TIMEOUT);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("not running"), "{}", out.stderr);
}

/// The test's side of a terminal: the master of a pty whose slave is `ucr exec -it`'s stdio.
struct Term {
    master: OwnedFd,
    seen: String,
}

impl Term {
    /// Read until `want` has appeared after what was already consumed; panics at the deadline.
    fn expect(&mut self, want: &str) {
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

    fn type_line(&self, line: &str) {
        let mut f = std::fs::File::from(self.master.try_clone().expect("dup"));
        f.write_all(line.as_bytes()).expect("type");
    }
}

#[test]
fn exec_it_gives_a_working_shell_on_a_terminal() {
    use rustix::pty::OpenptFlags;
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = running(&c, &image);
    let master = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    rustix::pty::grantpt(&master).expect("grantpt");
    rustix::pty::unlockpt(&master).expect("unlockpt");
    let name = rustix::pty::ptsname(&master, Vec::new()).expect("ptsname");
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_string_lossy().as_ref())
        .expect("slave");
    let size = |rows, cols| rustix::termios::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(slave.as_fd(), size(24, 80)).expect("size");
    let mut cmd = c.command(&["exec", "-it", &id, "sh"]);
    let fd = |f: &std::fs::File| Stdio::from(f.try_clone().expect("dup"));
    cmd.stdin(fd(&slave)).stdout(fd(&slave)).stderr(fd(&slave));
    let mut child = cmd.spawn().expect("ucr exec -it");
    drop(slave);
    let mut t = Term {
        master,
        seen: String::new(),
    };
    // The shell's own echo of what is typed, then its output.
    t.type_line("stty size; echo mark''er\n");
    t.expect("24 80");
    t.expect("marker");
    rustix::termios::tcsetwinsize(t.master.as_fd(), size(30, 100)).expect("resize");
    std::thread::sleep(Duration::from_millis(500));
    t.type_line("stty size; test -t 0 && echo is''tty\n");
    t.expect("30 100");
    t.expect("istty");
    t.type_line("exit 5\n");
    let deadline = Instant::now() + CMD_TIMEOUT;
    let code = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s.code();
        }
        assert!(Instant::now() < deadline, "ucr exec -it did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(5), "{:?}", t.seen);
    c.run_for(&["rm", "--force", &id], CMD_TIMEOUT);
}
