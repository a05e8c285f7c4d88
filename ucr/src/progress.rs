//! Pull progress: a bar per layer on a TTY (indicatif), one JSON event per line with `--json`, nothing with
//! `--quiet` or when stderr is not a terminal.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use ucr_runtime::registry::pull::{Event, Observer};

pub struct Progress {
    json: bool,
    bars: Option<(MultiProgress, Mutex<HashMap<String, ProgressBar>>)>,
}

impl Progress {
    pub fn new(json: bool, quiet: bool) -> Progress {
        let tty = std::io::stderr().is_terminal();
        let bars = (!json && !quiet && tty).then(|| {
            (
                MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                Mutex::new(HashMap::new()),
            )
        });
        Progress {
            json: json && !quiet,
            bars,
        }
    }

    pub fn finish(&self) {
        if let Some((m, _)) = &self.bars {
            let _ = m.clear();
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
                if let Ok(s) = serde_json::to_string(&e) {
                    // A reader that went away (`| head`) is not a reason to fail the pull.
                    let _ = writeln!(std::io::stdout().lock(), "{s}");
                }
            }
            return;
        }
        let Some((multi, bars)) = &self.bars else {
            return;
        };
        let mut bars = bars.lock().unwrap_or_else(|p| p.into_inner());
        match e {
            Event::LayerStart { digest, size } => {
                let pb = multi.add(ProgressBar::new(size));
                if let Ok(style) =
                    ProgressStyle::with_template("{prefix} [{bar:30}] {bytes}/{total_bytes} {msg}")
                {
                    pb.set_style(style.progress_chars("=> "));
                }
                pb.set_prefix(short(&digest).to_string());
                bars.insert(digest, pb);
            }
            Event::LayerProgress { digest, bytes, .. } => {
                if let Some(pb) = bars.get(&digest) {
                    pb.set_position(bytes);
                }
            }
            Event::LayerDone { digest, cached } => match bars.get(&digest) {
                Some(pb) => pb.finish_with_message("done"),
                None if cached => {
                    let _ = multi.println(format!("{}: already present", short(&digest)));
                }
                None => {}
            },
            _ => {}
        }
    }
}
