//! runc's log: `--log FILE` (else stderr) in `--log-format text` (`time="…" level=error msg="…"`) or `json`
//! (`{"level":"error","msg":"…","time":"…"}` per line). containerd's shim shows the last `error` line of the
//! JSON log when a command fails, so every line must be one well-formed object.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

pub struct RuncLog {
    out: Mutex<Box<dyn Write + Send>>,
    json: bool,
}

/// Install the log for this command; an unwritable `--log` falls back to stderr (the error says so there).
pub fn init(path: Option<&Path>, format: &str, debug: bool) -> Result<(), String> {
    let json = match format {
        "json" => true,
        "text" => false,
        other => return Err(format!("--log-format {other:?}: use text or json")),
    };
    let out: Box<dyn Write + Send> = match path {
        Some(p) => Box::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("--log {}: {e}", p.display()))?,
        ),
        None => Box::new(std::io::stderr()),
    };
    // Without --debug: warnings of the OCI mode itself (a failed poststart hook), not the cgroup probe's
    // notes about controllers this host lacks, which every command would repeat.
    let filter = match debug {
        true => Targets::new().with_default(Level::DEBUG),
        false => Targets::new()
            .with_default(Level::WARN)
            .with_target("ucr_isolators", Level::ERROR)
            .with_target("libcgroups", Level::ERROR),
    };
    let layer = RuncLog {
        out: Mutex::new(out),
        json,
    }
    .with_filter(filter);
    let _ = tracing_subscriber::registry().with(layer).try_init();
    Ok(())
}

/// One line in the chosen format.
pub fn line(json: bool, level: &str, msg: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let time = ucr_runtime::oci::record::rfc3339(now.as_secs(), now.subsec_nanos());
    match json {
        true => serde_json::json!({"level": level, "msg": msg, "time": time}).to_string(),
        false => format!(
            "time={} level={level} msg={}",
            serde_json::Value::from(time),
            serde_json::Value::from(msg)
        ),
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.0 = format!("{} {}={value:?}", self.0, field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.0 = value.to_string(),
            name => self.0 = format!("{} {name}={value}", self.0),
        }
    }
}

impl<S: Subscriber> Layer<S> for RuncLog {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut m = Message(String::new());
        event.record(&mut m);
        // logrus's names, which runc's readers expect.
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            _ => "debug",
        };
        let text = line(self.json, level, &m.0);
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{text}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_what_go_runc_parses() {
        let l = line(true, "error", "container \"x\" does not exist\nsecond line");
        let v: serde_json::Value = serde_json::from_str(&l).expect("one JSON object");
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "container \"x\" does not exist\nsecond line");
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert!(!l.contains('\n'));
        let t = line(false, "warning", "a \"quoted\" word");
        assert!(
            t.contains("level=warning msg=\"a \\\"quoted\\\" word\""),
            "{t}"
        );
    }
}
