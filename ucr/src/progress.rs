//! Progress on the terminal, shared by the pull and the fetcher: a bar per layer or download on a TTY
//! (indicatif, [`Bars`]), one JSON event per line with `--json` ([`json_line`]), nothing with `--quiet` or when
//! stderr is not a terminal. The pull's observer is here; the fetcher's is `fetch_progress.rs`. A launch's
//! one-line notices on stderr ("Pulling", "Fetched") go through [`notice`].

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use ucr_runtime::registry::pull::{Event, Observer};

/// Byte bars on stderr, by key (a layer digest, a URI).
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    /// Some when stderr is a terminal.
    pub fn on_tty() -> Option<Bars> {
        std::io::stderr().is_terminal().then(|| Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(HashMap::new()),
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProgressBar>> {
        self.bars.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A bar of `total` bytes (or no length) named `prefix`.
    pub fn start(&self, key: String, total: Option<u64>, prefix: String) {
        let pb = self.multi.add(match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::no_length(),
        });
        if let Ok(style) =
            ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {msg}")
        {
            pb.set_style(style.progress_chars("=> "));
        }
        pb.set_prefix(prefix);
        self.map().insert(key, pb);
    }

    pub fn set(&self, key: &str, bytes: u64) {
        if let Some(pb) = self.map().get(key) {
            pb.set_position(bytes);
        }
    }

    /// Ends the bar of `key` with `msg`; false when there is none.
    pub fn finish(&self, key: &str, msg: &'static str) -> bool {
        match self.map().get(key) {
            Some(pb) => {
                pb.finish_with_message(msg);
                true
            }
            None => false,
        }
    }

    pub fn println(&self, line: String) {
        let _ = self.multi.println(line);
    }

    pub fn clear(&self) {
        let _ = self.multi.clear();
    }
}

/// One JSON event on stdout; a reader that went away (`| head`) is not a reason to fail the command.
pub fn json_line(e: &impl serde::Serialize) {
    if let Ok(s) = serde_json::to_string(e) {
        let _ = writeln!(std::io::stdout().lock(), "{s}");
    }
}

/// One line on stderr in one write(2). A pod's members are made, and print what they pull and fetch, by
/// processes of their own at once; `eprintln!` would write each piece of the line apart (stderr has no buffer),
/// so their lines could mix mid-line. One write of a line under the pipe's atomic size is never split.
pub fn notice(args: std::fmt::Arguments<'_>) {
    let _ = line_to(&mut std::io::stderr().lock(), args);
}

fn line_to(w: &mut impl Write, args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let mut line = args.to_string();
    line.push('\n');
    w.write_all(line.as_bytes())
}

pub struct Progress {
    json: bool,
    bars: Option<Bars>,
}

impl Progress {
    pub fn new(json: bool, quiet: bool) -> Progress {
        Progress {
            json: json && !quiet,
            bars: Bars::on_tty().filter(|_| !json && !quiet),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bars {
            b.clear();
        }
    }
}

fn short(d: &str) -> &str {
    let hex = d.split_once(':').map(|(_, h)| h).unwrap_or(d);
    &hex[..hex.len().min(12)]
}

impl Observer for Progress {
    fn event(&self, e: Event) {
        if self.json {
            // Progress events are frequent; the JSON stream keeps the ones a consumer acts on.
            if !matches!(e, Event::LayerProgress { .. }) {
                json_line(&e);
            }
            return;
        }
        let Some(bars) = &self.bars else {
            return;
        };
        match e {
            Event::LayerStart { digest, size } => {
                let prefix = short(&digest).to_string();
                bars.start(digest, Some(size), prefix);
            }
            Event::LayerProgress { digest, bytes, .. } => bars.set(&digest, bytes),
            Event::LayerDone { digest, cached } => {
                let had_bar = bars.finish(&digest, "done");
                if !had_bar && cached {
                    bars.println(format!("{}: already present", short(&digest)));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each write it is given, as the kernel would see them.
    #[derive(Default)]
    struct Writes(Vec<Vec<u8>>);

    impl Write for Writes {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_notice_is_one_write_of_the_whole_line() {
        let (uri, bytes, from) = ("http://127.0.0.1:8080/a.tgz", 42, "downloaded");
        let mut w = Writes::default();
        line_to(
            &mut w,
            format_args!("Fetched {uri} ({bytes} bytes, {from})"),
        )
        .expect("write");
        assert_eq!(
            w.0,
            [b"Fetched http://127.0.0.1:8080/a.tgz (42 bytes, downloaded)\n".to_vec()]
        );
        // What `eprintln!` does with the same line: a write per piece, which another process's can come between.
        let mut pieces = Writes::default();
        writeln!(pieces, "Fetched {uri} ({bytes} bytes, {from})").expect("write");
        assert!(pieces.0.len() > 1, "{:?}", pieces.0);
    }
}
