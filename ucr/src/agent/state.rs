//! What every request of the agent shares: the containerizer over the on-disk state (the same the CLI uses),
//! whether recovery is done, the counters, the credentials, the flags `GET_FLAGS` shows, the sessions.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ucr_runtime::registry::ImageName;
use ucr_runtime::spec::DirSecrets;
use ucr_runtime::Containerizer;

use super::auth::Credentials;
use super::metrics::Metrics;
use super::sessions::Sessions;

pub struct Agent {
    pub c: Arc<Containerizer>,
    ready: AtomicBool,
    pub metrics: Metrics,
    pub auth: Option<Credentials>,
    /// `GET_FLAGS`: every option of this agent, by its Mesos name, as strings (credentials left out).
    pub flags: Vec<(String, String)>,
    /// `--image_gc_config`'s `excluded_images`, also kept by `PRUNE_IMAGES`.
    pub gc_excluded: Vec<ImageName>,
    /// `--secrets-dir`: where LAUNCH_CONTAINER's REFERENCE secrets are read.
    pub secrets: Option<DirSecrets>,
    /// The running (and lately ended) LAUNCH_NESTED_CONTAINER_SESSIONs.
    pub sessions: Sessions,
}

impl Agent {
    pub fn new(
        c: Containerizer,
        auth: Option<Credentials>,
        flags: Vec<(String, String)>,
        gc_excluded: Vec<ImageName>,
        secrets: Option<DirSecrets>,
    ) -> Arc<Agent> {
        Arc::new(Agent {
            c: Arc::new(c),
            ready: AtomicBool::new(false),
            metrics: Metrics::new(),
            auth,
            flags,
            gc_excluded,
            secrets,
            sessions: Sessions::default(),
        })
    }

    /// Recovery is done: calls are served (before, every `/api/v1` call answers 503).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }
}
