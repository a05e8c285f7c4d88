//! Fetch progress: with `ucr fetch`, a bar per download on a TTY or one JSON event per line with `--json`;
//! with `ucr run`/`launch`, one line per URI on stderr (unless quiet), as the pull prints "Pulling".

use ucr_runtime::fetcher::{FetchEvent, FetchObserver, Origin};

use crate::progress::{json_line, notice, Bars};

pub struct FetchProgress {
    json: bool,
    bars: Option<Bars>,
}

impl FetchProgress {
    pub fn new(json: bool) -> FetchProgress {
        FetchProgress {
            json,
            bars: Bars::on_tty().filter(|_| !json),
        }
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
            json_line(&e);
            return;
        }
        let Some(bars) = &self.bars else {
            return;
        };
        match e {
            FetchEvent::Started { uri, total } => {
                let name = uri.rsplit('/').next().unwrap_or(&uri).to_string();
                bars.start(uri, total, name);
            }
            FetchEvent::Progress { uri, bytes, .. } => bars.set(&uri, bytes),
            FetchEvent::Done { uri, bytes, from } => {
                bars.set(&uri, bytes);
                if !bars.finish(&uri, from_text(from)) {
                    bars.println(format!("{uri}: {bytes} bytes {}", from_text(from)));
                }
            }
            FetchEvent::Extracted { file, .. } => bars.println(format!("{file}: extracted")),
        }
    }
}

/// One line per fetched URI on stderr, for a launch.
pub struct FetchLines;

impl FetchObserver for FetchLines {
    fn on(&self, e: FetchEvent) {
        if let FetchEvent::Done { uri, bytes, from } = e {
            notice(format_args!(
                "Fetched {uri} ({bytes} bytes, {})",
                from_text(from)
            ));
        }
    }
}
