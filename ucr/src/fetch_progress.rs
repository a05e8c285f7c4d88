//! Fetch progress: with `ucr fetch`, a bar per download on a TTY (indicatif) or one JSON event per line with
//! `--json`; with `ucr run`/`launch`, one line per URI on stderr (unless quiet), as the pull prints "Pulling".

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use ucr_runtime::fetcher::{FetchEvent, FetchObserver, Origin};

pub struct FetchProgress {
    json: bool,
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
}

impl FetchProgress {
    pub fn new(json: bool) -> FetchProgress {
        let tty = std::io::stderr().is_terminal();
        let bars = (!json && tty).then(|| {
            (
                MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                Mutex::new(HashMap::new()),
            )
        });
        FetchProgress { json, bars }
    }
}

fn from_text(from: Origin) -> &'static str {
    match from {
        Origin::Network => "downloaded",
        Origin::Cache => "from the fetcher cache",
        Origin::Local => "copied",
    }
}

impl FetchObserver for FetchProgress {
    fn on(&self, e: FetchEvent) {
        if self.json {
            if let Ok(s) = serde_json::to_string(&e) {
                // A reader that went away (`| head`) is not a reason to fail the fetch.
                let _ = writeln!(std::io::stdout().lock(), "{s}");
            }
            return;
        }
        let Some((multi, bars)) = &self.bars else {
            return;
        };
        let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            FetchEvent::Started { uri, total } => {
                let pb = multi.add(match total {
                    Some(t) => ProgressBar::new(t),
                    None => ProgressBar::no_length(),
                });
                if let Ok(style) =
                    ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {msg}")
                {
                    pb.set_style(style.progress_chars("=> "));
                }
                pb.set_prefix(uri.rsplit('/').next().unwrap_or(&uri).to_string());
                bars.insert(uri, pb);
            }
            FetchEvent::Progress { uri, bytes, .. } => {
                if let Some(pb) = bars.get(&uri) {
                    pb.set_position(bytes);
                }
            }
            FetchEvent::Done { uri, bytes, from } => match bars.get(&uri) {
                Some(pb) => {
                    pb.set_position(bytes);
                    pb.finish_with_message(from_text(from));
                }
                None => {
                    let _ = multi.println(format!("{uri}: {bytes} bytes {}", from_text(from)));
                }
            },
            FetchEvent::Extracted { file, .. } => {
                let _ = multi.println(format!("{file}: extracted"));
            }
        }
    }
}

/// One line per fetched URI on stderr, for a launch.
pub struct FetchLines;

impl FetchObserver for FetchLines {
    fn on(&self, e: FetchEvent) {
        if let FetchEvent::Done { uri, bytes, from } = e {
            eprintln!("Fetched {uri} ({bytes} bytes, {})", from_text(from));
        }
    }
}
