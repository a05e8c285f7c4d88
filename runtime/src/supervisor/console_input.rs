//! The input side of a terminal task's console: a unix socket (`<runtime-dir>/containers/<id>/console.sock`,
//! mode 0600) that the supervisor serves in its one poll loop while the task runs, so the agent's
//! ATTACH_CONTAINER_INPUT can type into the task's pty and resize it, as Mesos's IO switchboard does for a
//! container launched with `tty_info`. The supervisor holds the pty master; nothing else could write to it.
//!
//! One client at a time (Mesos allows one input connection): an accepted client is greeted with one byte
//! [`GREETING`]; a second one is closed unanswered while the first is connected. The client then sends frames:
//! a kind byte, a little-endian u32 length and the payload — [`data_frame`] (bytes for the task's stdin) or
//! [`window_frame`] (rows and columns, u16 each). A bad frame closes the connection.
//!
//! A unix socket's path is limited to 107 bytes and a runtime dir plus a container id can be longer, so a long
//! path is bound and connected through `/proc/self/fd/<dir fd>/console.sock`.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use crate::container::paths::Paths;
use crate::launcher::pty;

/// What the supervisor sends a client it accepts.
pub const GREETING: u8 = b'+';
const DATA: u8 = b'd';
const WINDOW: u8 = b'w';
/// The largest payload of a frame: a client splits what is larger.
pub const MAX_FRAME: usize = 1 << 20;
/// Longer paths go through `/proc/self/fd` (`sun_path` holds 108 bytes with its NUL).
const MAX_SUN_PATH: usize = 100;

/// A frame of bytes for the task's stdin.
pub fn data_frame(bytes: &[u8]) -> Vec<u8> {
    frame(DATA, bytes)
}

/// A frame setting the terminal's size.
pub fn window_frame(rows: u16, columns: u16) -> Vec<u8> {
    let mut p = rows.to_le_bytes().to_vec();
    p.extend(columns.to_le_bytes());
    frame(WINDOW, &p)
}

fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(kind);
    out.extend((payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Connect to the console of container `id` (blocking; a unix socket connects at once or fails). NotFound when
/// the container has no console socket (no terminal, or its task has ended).
pub fn connect(paths: &Paths, id: &str) -> io::Result<UnixStream> {
    let (_dir, path) = reachable(&paths.console_socket(id))?;
    UnixStream::connect(path)
}

/// `path` as a socket address can take it: itself, or through an open fd of its directory (kept alive by the
/// returned fd until the bind or connect is done).
fn reachable(path: &Path) -> io::Result<(Option<OwnedFd>, PathBuf)> {
    if path.as_os_str().len() <= MAX_SUN_PATH {
        return Ok((None, path.to_path_buf()));
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Ok((None, path.to_path_buf()));
    };
    let fd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let short = PathBuf::from(format!(
        "/proc/self/fd/{}",
        std::os::fd::AsRawFd::as_raw_fd(&fd)
    ))
    .join(name);
    Ok((Some(fd), short))
}

/// The supervisor's side: the listening socket and the one client.
pub(super) struct ConsoleInput {
    listener: UnixListener,
    path: PathBuf,
    client: Option<Client>,
}

struct Client {
    stream: UnixStream,
    /// Bytes read and not yet parsed into frames.
    buf: Vec<u8>,
    /// Stdin bytes not yet taken by the pty (its input queue was full): the client is not read meanwhile.
    pending: Vec<u8>,
}

impl ConsoleInput {
    /// Listen at `path` (mode 0600: root's, as the agent's socket).
    pub(super) fn bind(path: &Path) -> io::Result<ConsoleInput> {
        let _ = std::fs::remove_file(path);
        let (_dir, at) = reachable(path)?;
        let listener = UnixListener::bind(&at)?;
        rustix::fs::chmod(&at, rustix::fs::Mode::from_raw_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(ConsoleInput {
            listener,
            path: path.to_path_buf(),
            client: None,
        })
    }

    /// What the poll waits on, in this order: the listener, then the client unless its stdin bytes wait for
    /// the pty.
    pub(super) fn fds(&self) -> Vec<BorrowedFd<'_>> {
        let mut out = vec![self.listener.as_fd()];
        if let Some(c) = self.client.as_ref().filter(|c| c.pending.is_empty()) {
            out.push(c.stream.as_fd());
        }
        out
    }

    /// Whether stdin bytes wait for the pty to take them (the master is then polled for writing).
    pub(super) fn has_pending(&self) -> bool {
        self.client.as_ref().is_some_and(|c| !c.pending.is_empty())
    }

    /// After a poll: `ready` is aligned with what [`fds`](Self::fds) returned before it. Accepts, reads frames,
    /// writes stdin bytes to `master` and applies window sizes.
    pub(super) fn serve(&mut self, ready: &[bool], master: &OwnedFd) {
        let polled_client = self.client.as_ref().is_some_and(|c| c.pending.is_empty());
        // The client first: one that closed before the next connected (the agent's attach ended, another
        // began) is gone before the newcomer is judged.
        if polled_client && ready.get(1).copied().unwrap_or(false) {
            if let Some(c) = self.client.as_mut() {
                if !c.read() {
                    self.client = None;
                }
            }
        }
        if ready.first().copied().unwrap_or(false) {
            self.accept();
        }
        if let Some(c) = self.client.as_mut() {
            if !c.process(master) {
                tracing::warn!("console input: a malformed frame; the client is dropped");
                self.client = None;
            }
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, _)) => {
                    // A client that hung up while its bytes waited for the pty (and so was not read) is gone.
                    if self.client.as_ref().is_some_and(|c| hung_up(&c.stream)) {
                        self.client = None;
                    }
                    if self.client.is_some() {
                        // One input at a time: closed unanswered, the client knows it was refused.
                        continue;
                    }
                    if stream.set_nonblocking(true).is_err()
                        || stream.write_all(&[GREETING]).is_err()
                    {
                        continue;
                    }
                    self.client = Some(Client {
                        stream,
                        buf: Vec::new(),
                        pending: Vec::new(),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }
}

/// Whether the peer of `stream` has closed it (checked without reading, so buffered frames stay).
fn hung_up(stream: &UnixStream) -> bool {
    let mut set = [rustix::event::PollFd::new(
        stream,
        rustix::event::PollFlags::RDHUP,
    )];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match rustix::event::poll(&mut set, Some(&zero)) {
        Ok(_) => !set[0].revents().is_empty(),
        Err(_) => false,
    }
}

impl Drop for ConsoleInput {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Client {
    /// Read what the client sent; false when it is gone.
    fn read(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return false,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
            if self.buf.len() > 2 * MAX_FRAME {
                return true;
            }
        }
    }

    /// Write pending bytes, then act on whole frames in order until the pty's queue is full; false on a bad
    /// frame.
    fn process(&mut self, master: &OwnedFd) -> bool {
        loop {
            self.flush(master);
            if !self.pending.is_empty() || self.buf.len() < 5 {
                return true;
            }
            let len =
                u32::from_le_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
            if len > MAX_FRAME {
                return false;
            }
            if self.buf.len() < 5 + len {
                return true;
            }
            let kind = self.buf[0];
            let payload: Vec<u8> = self.buf.drain(..5 + len).skip(5).collect();
            match (kind, payload.as_slice()) {
                (DATA, bytes) => self.pending.extend_from_slice(bytes),
                (WINDOW, [r0, r1, c0, c1]) => {
                    let size = (
                        u16::from_le_bytes([*r0, *r1]),
                        u16::from_le_bytes([*c0, *c1]),
                    );
                    if let Err(e) = pty::resize(master, size) {
                        tracing::warn!("console input: resize: {e}");
                    }
                }
                _ => return false,
            }
        }
    }

    /// Give the non-blocking master what it takes now.
    fn flush(&mut self, master: &OwnedFd) {
        while !self.pending.is_empty() {
            match rustix::io::write(master, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::AGAIN) => return,
                Err(e) => {
                    // The task's side is gone: nobody reads this input any more.
                    tracing::debug!("console input: {e}");
                    self.pending.clear();
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_reach_the_pty_in_order_and_the_socket_goes_with_the_console() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Longer than a socket address takes: bound and connected through /proc/self/fd.
        let deep = dir.path().join("x".repeat(60)).join("y".repeat(60));
        std::fs::create_dir_all(&deep).expect("mkdir");
        let path = deep.join("console.sock");
        let mut input = ConsoleInput::bind(&path).expect("bind");
        let (master, slave) = pty::open(Some((24, 80))).expect("pty");
        let (_d, at) = reachable(&path).expect("path");
        let mut client = UnixStream::connect(&at).expect("connect");
        let mut second = UnixStream::connect(&at).expect("connect 2");
        input.serve(&[true], &master);
        let mut greeting = [0u8; 1];
        client.read_exact(&mut greeting).expect("greeting");
        assert_eq!(greeting[0], GREETING);
        // The second one was refused: closed without a greeting.
        assert_eq!(second.read(&mut greeting).expect("eof"), 0);
        let mut sent = data_frame(b"hello\n");
        sent.extend(window_frame(30, 100));
        client.write_all(&sent).expect("send");
        input.serve(&[false, true], &master);
        let w = rustix::termios::tcgetwinsize(&slave).expect("size");
        assert_eq!((w.ws_row, w.ws_col), (30, 100));
        let mut got = [0u8; 64];
        let n = rustix::io::read(&slave, &mut got).expect("read slave");
        assert_eq!(&got[..n], b"hello\n");
        // The client goes and another comes in the same round: the newcomer is served.
        drop(client);
        let mut third = UnixStream::connect(&at).expect("connect 3");
        input.serve(&[true, true], &master);
        third.read_exact(&mut greeting).expect("greeting 3");
        assert_eq!(greeting[0], GREETING);
        drop(input);
        assert!(!path.exists());
    }

    #[test]
    fn a_bad_frame_drops_the_client() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("console.sock");
        let mut input = ConsoleInput::bind(&path).expect("bind");
        let (master, _slave) = pty::open(None).expect("pty");
        let mut client = UnixStream::connect(&path).expect("connect");
        input.serve(&[true], &master);
        client.write_all(&frame(b'?', b"x")).expect("send");
        input.serve(&[false, true], &master);
        assert!(input.client.is_none());
    }
}
