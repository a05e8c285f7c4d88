//! What the agent counts, and the two ways it shows them: `GET /metrics` in the Prometheus text format (through
//! `prometheus-client`, not formatted by hand) and `GET /metrics/snapshot` as Mesos's flat JSON. Counters are
//! counted as things happen; the per-state container counts and the image store's size are read when asked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use ucr_runtime::{ContainerState, State};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub call: String,
    pub code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

pub struct Metrics {
    registry: Registry,
    started: Instant,
    recovery_ms: AtomicU64,
    pub launched: Counter,
    pub launch_errors: Counter,
    pub destroy_errors: Counter,
    pub recovered_lost: Counter,
    pub orphans_destroyed: Counter,
    pub gc_runs: Counter,
    pub calls: Family<CallLabels, Counter>,
    containers: Family<StateLabels, Gauge>,
    store_blob_bytes: Gauge,
    store_images: Gauge,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ucr");
        let m = Metrics {
            registry: Registry::default(),
            started: Instant::now(),
            recovery_ms: AtomicU64::new(0),
            launched: Counter::default(),
            launch_errors: Counter::default(),
            destroy_errors: Counter::default(),
            recovered_lost: Counter::default(),
            orphans_destroyed: Counter::default(),
            gc_runs: Counter::default(),
            calls: Family::default(),
            containers: Family::default(),
            store_blob_bytes: Gauge::default(),
            store_images: Gauge::default(),
        };
        let r = &mut registry;
        for (name, help, counter) in [
            ("container_launches", "Containers launched", &m.launched),
            (
                "container_launch_errors",
                "Launches that failed",
                &m.launch_errors,
            ),
            (
                "container_destroy_errors",
                "Teardowns that failed",
                &m.destroy_errors,
            ),
            (
                "recovered_lost_containers",
                "Lost containers finished by recovery",
                &m.recovered_lost,
            ),
            (
                "orphans_destroyed",
                "Orphans (cgroups, rootfs, runtime dirs) recovery destroyed",
                &m.orphans_destroyed,
            ),
            ("image_gc_runs", "Image garbage collections", &m.gc_runs),
        ] {
            r.register(name, help, counter.clone());
        }
        r.register(
            "api_calls",
            "Agent API calls by call type and HTTP status",
            m.calls.clone(),
        );
        r.register("containers", "Containers by state", m.containers.clone());
        r.register(
            "image_store_blob_bytes",
            "Bytes of blobs in the image store",
            m.store_blob_bytes.clone(),
        );
        r.register(
            "image_store_images",
            "Image records in the image store",
            m.store_images.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn recovered_in(&self, ms: u64) {
        self.recovery_ms.store(ms, Ordering::Relaxed);
    }

    /// Reads what is not counted as it happens: containers by state, the image store.
    fn refresh(&self, containers: &[ContainerState], store: &std::path::Path) {
        for s in [
            State::Starting,
            State::Provisioning,
            State::Preparing,
            State::Isolating,
            State::Fetching,
            State::Running,
            State::Destroying,
            State::Exited,
        ] {
            let n = containers.iter().filter(|c| c.state == s).count();
            self.containers
                .get_or_create(&StateLabels {
                    state: s.as_str().to_lowercase(),
                })
                .set(n as i64);
        }
        let blobs = std::fs::read_dir(store.join("blobs/sha256"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum::<u64>();
        self.store_blob_bytes.set(blobs as i64);
        let images = std::fs::read_dir(store.join("images"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .count();
        self.store_images.set(images as i64);
    }

    /// The Prometheus text exposition.
    pub fn prometheus(&self, containers: &[ContainerState], store: &std::path::Path) -> String {
        self.refresh(containers, store);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Mesos's `/metrics/snapshot`: one flat JSON object of numbers.
    pub fn snapshot(
        &self,
        containers: &[ContainerState],
        store: &std::path::Path,
    ) -> serde_json::Value {
        self.refresh(containers, store);
        let mut m = serde_json::Map::new();
        let mut put = |k: &str, v: f64| {
            m.insert(k.to_string(), serde_json::json!(v));
        };
        let recovery = self.recovery_ms.load(Ordering::Relaxed) as f64 / 1000.0;
        let counted = [
            ("slave/container_launch_errors", &self.launch_errors),
            ("slave/containers_launched", &self.launched),
            (
                "containerizer/mesos/container_destroy_errors",
                &self.destroy_errors,
            ),
            ("containerizer/ucr/recovered_lost", &self.recovered_lost),
            (
                "containerizer/ucr/orphans_destroyed",
                &self.orphans_destroyed,
            ),
            ("containerizer/ucr/image_gc_runs", &self.gc_runs),
        ];
        let measured = [
            (
                "containerizer/ucr/image_store/blob_bytes",
                &self.store_blob_bytes,
            ),
            ("containerizer/ucr/image_store/images", &self.store_images),
        ];
        put("slave/uptime_secs", self.started.elapsed().as_secs_f64());
        put("slave/recovery_time_secs", recovery);
        for (k, c) in counted {
            put(k, c.get() as f64);
        }
        for (k, g) in measured {
            put(k, g.get() as f64);
        }
        for c in containers {
            let k = format!(
                "containerizer/ucr/containers/{}",
                c.state.as_str().to_lowercase()
            );
            let n = m.get(&k).and_then(|v| v.as_f64()).unwrap_or(0.0);
            m.insert(k, serde_json::json!(n + 1.0));
        }
        let running = containers
            .iter()
            .filter(|c| c.state == State::Running)
            .count();
        m.insert(
            "slave/containers_running".into(),
            serde_json::json!(running as f64),
        );
        serde_json::Value::Object(m)
    }
}
