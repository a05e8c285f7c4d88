//! Image garbage collection in the agent: PRUNE_IMAGES (`excluded_images` of the call and of
//! `--image_gc_config` are kept, and every image a live container uses), and the automatic collection
//! `--image_gc_config` asks for (Mesos's JSON: `image_disk_headroom`, `image_disk_watch_interval`,
//! `excluded_images`): when the store's filesystem has less free space than the headroom, unused images go.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use ucr_runtime::registry::ImageName;

use super::reply::blocking;
use super::reply::Reply;
use super::state::Agent;

/// `--image_gc_config`.
#[derive(Clone, Debug)]
pub struct GcConfig {
    /// Fraction of the store's filesystem to keep free (Mesos default 0.1).
    pub headroom: f64,
    pub interval: Duration,
    pub excluded: Vec<ImageName>,
}

/// A Mesos `Image` (`{"type":"DOCKER","docker":{"name":...}}`) as a name; AppC images have no store to prune.
fn image_name(v: &Value, at: &str) -> Result<Option<ImageName>, String> {
    match v.get("type").and_then(|t| t.as_str()) {
        Some("APPC") => Ok(None),
        Some("DOCKER") | None => {
            let name = v
                .get("docker")
                .and_then(|d| d.get("name"))
                .and_then(|n| n.as_str())
                .ok_or_else(|| format!("{at}.docker.name: missing"))?;
            ImageName::parse(name)
                .map(Some)
                .map_err(|e| format!("{at}.docker.name: {e}"))
        }
        Some(other) => Err(format!("{at}.type: unknown image type {other:?}")),
    }
}

fn image_names(list: Option<&Value>, at: &str) -> Result<Vec<ImageName>, String> {
    let mut out = Vec::new();
    for (i, v) in list
        .and_then(|l| l.as_array())
        .into_iter()
        .flatten()
        .enumerate()
    {
        out.extend(image_name(v, &format!("{at}[{i}]"))?);
    }
    Ok(out)
}

impl GcConfig {
    /// Mesos's JSON (`image_disk_watch_interval` as `{"nanoseconds": N}`), inline or in a file.
    pub fn parse(value: &str) -> Result<GcConfig, String> {
        let text = if value.trim_start().starts_with('{') {
            value.to_string()
        } else {
            let p = value.strip_prefix("file://").unwrap_or(value);
            std::fs::read_to_string(p).map_err(|e| format!("--image_gc_config {p}: {e}"))?
        };
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("--image_gc_config: {e}"))?;
        let headroom = v
            .get("image_disk_headroom")
            .and_then(|h| h.as_f64())
            .unwrap_or(0.1);
        if !(0.0..=1.0).contains(&headroom) {
            return Err(format!(
                "--image_gc_config: image_disk_headroom {headroom} is not between 0 and 1"
            ));
        }
        let nanos = v
            .get("image_disk_watch_interval")
            .and_then(|i| i.get("nanoseconds"))
            .and_then(|n| n.as_u64())
            .unwrap_or(300_000_000_000);
        Ok(GcConfig {
            headroom,
            interval: Duration::from_nanos(nanos.max(1_000_000)),
            excluded: image_names(v.get("excluded_images"), "excluded_images")
                .map_err(|e| format!("--image_gc_config: {e}"))?,
        })
    }
}

/// Removes unused images (keeping `excluded` and the agent's own exclusions); the bytes freed.
async fn collect(agent: &Arc<Agent>, excluded: Vec<ImageName>) -> Result<u64, String> {
    let a = agent.clone();
    let r = blocking(move || -> Result<u64, String> {
        let keeping = || {
            let mut keep = a.c.images_in_use().map_err(|e| e.to_string())?;
            keep.names = excluded.clone();
            keep.names.extend(a.gc_excluded.iter().cloned());
            Ok(keep)
        };
        let pruned =
            a.c.images()
                .prune_unused(&keeping)
                .map_err(|e| e.to_string())?;
        tracing::info!(removed = ?pruned.images, freed = pruned.freed, "images pruned");
        Ok(pruned.freed)
    })
    .await
    .map_err(|_| "the pruning task failed".to_string())?;
    agent.metrics.gc_runs.inc();
    r
}

pub async fn prune(agent: &Arc<Agent>, call: &Value) -> Reply {
    let excluded = match image_names(
        call.get("prune_images")
            .and_then(|p| p.get("excluded_images")),
        "prune_images.excluded_images",
    ) {
        Ok(n) => n,
        Err(why) => return Reply::error(StatusCode::BAD_REQUEST, why),
    };
    match collect(agent, excluded).await {
        Ok(_) => Reply::empty(StatusCode::OK),
        Err(why) => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, why),
    }
}

/// The automatic collection: every `interval`, when the store's filesystem has less than `headroom` of its space
/// free, unused images are removed.
pub async fn gc_loop(agent: Arc<Agent>, gc: GcConfig) {
    loop {
        tokio::time::sleep(gc.interval).await;
        let dir = agent.c.images().store_dir().to_path_buf();
        let free = rustix::fs::statvfs(&dir)
            .ok()
            .filter(|s| s.f_blocks > 0)
            .map(|s| s.f_bavail as f64 / s.f_blocks as f64);
        match free {
            Some(f) if f < gc.headroom => {
                if let Err(e) = collect(&agent, Vec::new()).await {
                    tracing::warn!(error = %e, "image garbage collection");
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesos_gc_config() {
        let c = GcConfig::parse(
            r#"{"image_disk_headroom":0.2,"image_disk_watch_interval":{"nanoseconds":60000000000},
            "excluded_images":[{"type":"DOCKER","docker":{"name":"busybox"}},{"type":"APPC","appc":{"name":"x"}}]}"#,
        )
        .expect("parse");
        assert_eq!(c.headroom, 0.2);
        assert_eq!(c.interval, Duration::from_secs(60));
        assert_eq!(c.excluded.len(), 1);
        assert!(GcConfig::parse(r#"{"image_disk_headroom":2}"#).is_err());
        let e = GcConfig::parse(
            r#"{"excluded_images":[{"type":"DOCKER","docker":{"name":"BAD NAME"}}]}"#,
        )
        .expect_err("bad name");
        assert!(e.contains("excluded_images[0].docker.name"), "{e}");
    }
}
