//! `exec -t`'s terminal on the caller's side: the caller's own terminal in raw mode while the command runs (keys
//! reach the command unchanged, and the command's terminal does the only echo), input copied to the pty,
//! output copied back, and the caller's window size followed. `run -it` has the same terminal on the caller's
//! side, its input sent to the task's console socket (`supervisor::console_input`; the supervisor holds the pty
//! and the output comes through the sandbox's stdout, as for any task). The size is checked at each wakeup of
//! the poll (at most every `TICK`) rather than on SIGWINCH: a handler would need a signalfd or a self-pipe
//! for no gain at the speed a person resizes a window. `attach` feeds a console the same way, and watches the
//! keys for its detach sequence (`DETACH_KEYS`, ctrl-p ctrl-q, as docker's).

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::termios::{self, OptionalActions, Termios};

use crate::container::paths::Paths;
use crate::launcher::pty;
use crate::supervisor::console_input;

/// The caller's terminal size (rows, columns), if its stdout or stdin is one.
pub fn caller_size() -> Option<(u16, u16)> {
    [std::io::stdout().as_fd(), std::io::stdin().as_fd()]
        .into_iter()
        .find_map(|fd| termios::tcgetwinsize(fd).ok())
        .filter(|w| w.ws_row > 0 && w.ws_col > 0)
        .map(|w| (w.ws_row, w.ws_col))
}

/// The longest wait of a relay's poll: how soon a resized window is seen.
const TICK: Timespec = Timespec {
    tv_sec: 0,
    tv_nsec: 100_000_000,
};

/// The caller's window size as last sent on.
struct Window(Option<(u16, u16)>);

impl Window {
    fn now() -> Window {
        Window(caller_size())
    }

    /// The caller's size if it changed since the last look.
    fn changed(&mut self) -> Option<(u16, u16)> {
        let now = caller_size();
        let changed = (now != self.0).then_some(now).flatten();
        self.0 = now;
        changed
    }
}

/// The caller's terminal, raw until dropped.
pub struct Raw {
    saved: Termios,
}

impl Raw {
    fn enter(fd: BorrowedFd<'_>) -> Option<Raw> {
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(fd, OptionalActions::Now, &raw).ok()?;
        Some(Raw { saved })
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin(), OptionalActions::Now, &self.saved);
    }
}

/// Relay between the caller and the pty `master` until the command's side closes. `stdin`: the caller's input
/// goes to the command.
pub fn run(master: &OwnedFd, stdin: bool) {
    let _raw = stdin
        .then(|| Raw::enter(std::io::stdin().as_fd()))
        .flatten();
    let mut input_open = stdin;
    let mut window = Window::now();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let stdin_fd = std::io::stdin();
        let mut set = vec![PollFd::new(master, PollFlags::IN)];
        if input_open {
            set.push(PollFd::from_borrowed_fd(stdin_fd.as_fd(), PollFlags::IN));
        }
        match poll(&mut set, Some(&TICK)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
        let out_ready = !set[0].revents().is_empty();
        let in_ready = set.get(1).is_some_and(|p| !p.revents().is_empty());
        drop(set);
        if out_ready && !pty::copy_out(master, &mut std::io::stdout().lock()) {
            return;
        }
        if in_ready {
            match std::io::stdin().lock().read(&mut buf) {
                Ok(0) | Err(_) => input_open = false,
                Ok(n) => write_all(master, &buf[..n]),
            }
        }
        if let Some(s) = window.changed() {
            let _ = pty::resize(master, s);
        }
    }
}

/// The keys that detach `ucr attach` from a console, leaving the task running: ctrl-p ctrl-q, as docker's.
pub const DETACH_KEYS: [u8; 2] = [0x10, 0x11];

/// Feeds the console of container `id` from the caller: its terminal raw (until the returned guard drops, if
/// stdin is one), its keys as data frames, its size as window frames, from a thread of its own that ends with
/// the console or the input (whose end is sent as the terminal's end-of-file, ^D). With `detach`, the keys
/// `DETACH_KEYS` typed in a row are not sent: the thread sets `detach` and ends.
pub fn feed_console(
    paths: &Paths,
    id: &str,
    detach: Option<&'static AtomicBool>,
) -> std::io::Result<Option<Raw>> {
    use std::io::Write;
    let mut console = console_input::connect(paths, id)?;
    let mut greeting = [0u8; 1];
    console.read_exact(&mut greeting)?;
    if greeting[0] != console_input::GREETING {
        return Err(std::io::Error::other("the console takes another client"));
    }
    let raw = Raw::enter(std::io::stdin().as_fd());
    let mut window = Window::now();
    if let Some((rows, columns)) = window.0 {
        console.write_all(&console_input::window_frame(rows, columns))?;
    }
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        let mut keys = Keys::default();
        loop {
            let stdin = std::io::stdin();
            let mut set = [PollFd::from_borrowed_fd(stdin.as_fd(), PollFlags::IN)];
            match poll(&mut set, Some(&TICK)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => return,
            }
            let ready = !set[0].revents().is_empty();
            let sent = match ready.then(|| stdin.lock().read(&mut buf)) {
                None => Ok(()),
                Some(Ok(0)) | Some(Err(_)) => {
                    let _ = console.write_all(&console_input::data_frame(b"\x04"));
                    return;
                }
                Some(Ok(n)) => match detach {
                    Some(flag) => {
                        let (data, detached) = keys.take(&buf[..n]);
                        let sent = match data.is_empty() {
                            true => Ok(()),
                            false => console.write_all(&console_input::data_frame(&data)),
                        };
                        if detached {
                            flag.store(true, Ordering::SeqCst);
                            return;
                        }
                        sent
                    }
                    None => console.write_all(&console_input::data_frame(&buf[..n])),
                },
            };
            let resized = match window.changed() {
                Some((rows, columns)) => {
                    console.write_all(&console_input::window_frame(rows, columns))
                }
                None => Ok(()),
            };
            if sent.and(resized).is_err() {
                return;
            }
        }
    });
    Ok(raw)
}

/// The watch for `DETACH_KEYS` in a stream of keys that may split them across reads.
#[derive(Default)]
struct Keys {
    /// The first detach key ended the last read: held until the next key says whether it was one.
    held: bool,
}

impl Keys {
    /// What of `input` to send on, and whether the detach keys were typed (nothing after them is sent).
    fn take(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len() + 1);
        for &b in input {
            if self.held {
                self.held = false;
                if b == DETACH_KEYS[1] {
                    return (out, true);
                }
                out.push(DETACH_KEYS[0]);
            }
            match b == DETACH_KEYS[0] {
                true => self.held = true,
                false => out.push(b),
            }
        }
        (out, false)
    }
}

/// Write all of `data` to the non-blocking master, waiting while its buffer is full.
fn write_all(master: &OwnedFd, mut data: &[u8]) {
    while !data.is_empty() {
        match rustix::io::write(master, data) {
            Ok(n) => data = &data[n..],
            Err(rustix::io::Errno::AGAIN) => {
                let mut set = [PollFd::new(master, PollFlags::OUT)];
                let _ = poll(&mut set, None);
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detach_keys_are_found_across_reads_and_never_sent() {
        let mut k = Keys::default();
        assert_eq!(k.take(b"ls\n"), (b"ls\n".to_vec(), false));
        // ctrl-p alone is held, then sent with the key after it; ctrl-p ctrl-p ctrl-q is one ctrl-p and a detach.
        assert_eq!(k.take(b"a\x10"), (b"a".to_vec(), false));
        assert_eq!(k.take(b"b"), (b"\x10b".to_vec(), false));
        assert_eq!(k.take(b"\x10\x10"), (b"\x10".to_vec(), false));
        assert_eq!(k.take(b"\x11rest"), (Vec::new(), true));
        let mut k = Keys::default();
        assert_eq!(k.take(b"x\x10\x11y"), (b"x".to_vec(), true));
    }
}
