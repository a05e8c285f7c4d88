//! `exec -t`'s terminal on the caller's side: the caller's own terminal in raw mode while the command runs (keys
//! reach the command unchanged, and the command's terminal does the only echo), input copied to the pty,
//! output copied back, and the caller's window size followed. `run -it` has the same terminal on the caller's
//! side, its input sent to the task's console socket (`supervisor::console_input`; the supervisor holds the pty
//! and the output comes through the sandbox's stdout, as for any task). The size is checked at each wakeup of
//! the poll (at most every `TICK`) rather than on SIGWINCH: a handler would need a signalfd or a self-pipe
//! for no gain at the speed a person resizes a window.

use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

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

/// Feeds the console of container `id` from the caller: its terminal raw (until the returned guard drops, if
/// stdin is one), its keys as data frames, its size as window frames, from a thread of its own that ends with
/// the console or the input (whose end is sent as the terminal's end-of-file, ^D).
pub fn feed_console(paths: &Paths, id: &str) -> std::io::Result<Option<Raw>> {
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
                Some(Ok(n)) => console.write_all(&console_input::data_frame(&buf[..n])),
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
