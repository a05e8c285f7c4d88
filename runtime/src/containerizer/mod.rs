//! The `Containerizer`: the operations every front end calls — the CLI, the agent (`ucr agent`) and the OCI
//! runtime mode — over the on-disk state they all share, so a container launched by one is seen, waited for,
//! killed and removed by any other, and a restarted agent recovers it.
//!
//! Each operation is its own file, a function of the configuration and the paths: `launch` (claim, provision,
//! prepare, bundle, fetch) with `image_volumes` and `spawn` (the supervisor), `ops` (kill, stop, wait, destroy,
//! remove), `resources` (usage, processes, update), `exec` with `relay`, `recover`. This file only holds them
//! together with the `Images` service.

mod appc_app;
mod bound;
pub mod config;
pub mod dry_run;
pub mod exec;
pub(crate) mod fork;
pub mod forker;
pub mod image_volumes;
pub mod launch;
mod member_process;
pub mod nested;
pub mod ops;
mod pending;
pub mod pod;
mod provision;
pub mod recover;
pub mod relay;
pub mod resources;
pub mod secrets;
pub mod spawn;
pub mod volumes;

use std::time::Duration;

use ucr_isolators::ResourceStatistics;

pub use config::{Config, SupervisorCommand};
pub use forker::Forker;
pub use recover::Recovered;
pub use resources::Update;
pub use spawn::{Launched, Reaper};

use crate::container::error::Result;
use crate::container::health::HealthReport;
use crate::container::paths::{cgroup_parent, Paths};
use crate::container::records;
use crate::container::state::ContainerState;
use crate::container::termination::Termination;
use crate::images::{Images, Keep, Notices};
use crate::spec::ContainerConfig;

pub use crate::spec::config::DEFAULT_KILL_GRACE;

pub struct Containerizer {
    config: Config,
    images: Images,
}

impl Containerizer {
    pub fn new(config: Config, images: Images) -> Containerizer {
        Containerizer { config, images }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn paths(&self) -> &Paths {
        &self.config.paths
    }

    pub fn images(&self) -> &Images {
        &self.images
    }

    /// Launch a container: returns once its task runs (or with the launch's error, the failure recorded).
    pub fn launch(&self, cfg: &ContainerConfig, notices: &dyn Notices) -> Result<Launched> {
        launch::launch(&self.config, &self.images, cfg, notices)
    }

    /// Launch a pod: its parent, then each member nested in it; all or nothing (see `pod.rs`).
    pub fn launch_pod(
        &self,
        pod: &crate::spec::PodConfig,
        notices: &dyn Notices,
    ) -> Result<Vec<Launched>> {
        pod::launch_pod(&self.config, &self.images, pod, notices)
    }

    /// The id a user means: `name` itself, or a nested id in Mesos's dotted form (`pod.web` → `pod/web`).
    pub fn resolve(&self, name: &str) -> String {
        records::resolve(self.paths(), name)
    }

    /// The nested containers of `id` (one level).
    pub fn children(&self, id: &str) -> Result<Vec<ContainerState>> {
        records::children(self.paths(), id)
    }

    /// Every container, each nested one right after its parent, with its depth.
    pub fn tree(&self) -> Result<Vec<(usize, ContainerState)>> {
        records::tree(self.paths())
    }

    /// Block until the container has exited (or `timeout` passed); its termination. A container whose
    /// supervisor died is finished here once its task is gone (see `ops::wait`).
    pub fn wait(&self, id: &str, timeout: Option<Duration>) -> Result<Termination> {
        ops::wait(self.paths(), self.images.store_dir(), id, timeout)
    }

    /// Send `signal`: SIGKILL to every process of the container, any other to its task's init.
    pub fn kill(&self, id: &str, signal: i32) -> Result<()> {
        ops::kill(self.paths(), id, signal)
    }

    /// The kill policy: SIGTERM to every process, SIGKILL after `grace` (None: the container's own
    /// `kill_policy.grace_period` / `taskKillGracePeriodSeconds`, else Mesos's default of 3 seconds); returns
    /// the termination.
    /// A given `grace` applies to its nested containers too (`ucr stop -t 0` of a pod stops every member at
    /// once); without one, each has its own.
    pub fn stop(&self, id: &str, grace: Option<Duration>) -> Result<Termination> {
        ops::stop(self.paths(), self.images.store_dir(), id, grace)
    }

    /// Kill everything and see the container torn down; its record stays until `remove`.
    pub fn destroy(&self, id: &str) -> Result<Termination> {
        ops::destroy(self.paths(), self.images.store_dir(), id)
    }

    /// Remove the container and its sandbox; a live one only with `force`.
    pub fn remove(&self, id: &str, force: bool) -> Result<()> {
        ops::remove(self.paths(), self.images.store_dir(), id, force)
    }

    /// Every top-level container, oldest first.
    pub fn containers(&self) -> Result<Vec<ContainerState>> {
        records::list(self.paths())
    }

    /// Every container, nested ones included (each after its parent).
    pub fn all_containers(&self) -> Result<Vec<ContainerState>> {
        Ok(self.tree()?.into_iter().map(|(_, st)| st).collect())
    }

    pub fn container(&self, id: &str) -> Result<ContainerState> {
        records::load(self.paths(), id)
    }

    /// The config the container runs with (as `update` last changed it).
    pub fn container_config(&self, id: &str) -> Result<Option<ContainerConfig>> {
        records::config(self.paths(), id)
    }

    /// The results of its health checks as its supervisor last recorded them; None without health checks.
    /// Run one more process in a running container (`ucr exec`); returns its exit code. The caller must be
    /// single-threaded.
    pub fn exec(&self, id: &str, req: &exec::ExecRequest) -> Result<i32> {
        exec::exec(self.paths(), id, req)
    }

    /// Every persistent volume with the containers that name it.
    pub fn volumes(&self) -> Result<Vec<(crate::volumes::VolumeRecord, Vec<String>)>> {
        volumes::list(self.paths())
    }

    /// Remove a persistent volume and its data (refused while a live container uses it).
    pub fn remove_volume(&self, name: &str) -> Result<()> {
        volumes::remove(self.paths(), name)
    }

    pub fn health(&self, id: &str) -> Option<HealthReport> {
        crate::container::health::read(self.paths(), id)
    }

    pub fn exists(&self, id: &str) -> bool {
        records::exists(self.paths(), id)
    }

    pub fn usage(&self, id: &str) -> Result<ResourceStatistics> {
        resources::usage(self.paths(), id)
    }

    /// What the running container's processes are doing (`ucr top`).
    pub fn processes(&self, id: &str) -> Result<Vec<crate::process::top::Row>> {
        resources::processes(self.paths(), id)
    }

    pub fn update(&self, id: &str, update: &Update) -> Result<()> {
        resources::update(self.paths(), id, update)
    }

    /// What live containers stand on, for image garbage collection: their images' digests once provisioned,
    /// their references before.
    pub fn images_in_use(&self) -> Result<Keep> {
        let mut keep = Keep::default();
        for c in self.all_containers()?.into_iter().filter(|c| c.is_live()) {
            match (c.image_digest, c.image) {
                (Some(d), _) => keep.digests.push(d),
                (None, Some(r)) => keep.references.push(r),
                (None, None) => {}
            }
            keep.digests.extend(c.volume_images);
        }
        Ok(keep)
    }

    /// Account for every container found on disk (see `recover.rs`).
    pub fn recover(&self) -> Result<Recovered> {
        recover::recover(
            self.paths(),
            self.images.store_dir(),
            &self.cgroup_parent()?,
        )
    }

    /// The cgroup parent of this instance's containers.
    pub fn cgroup_parent(&self) -> Result<std::path::PathBuf> {
        cgroup_parent(self.config.cgroups_root.as_deref(), self.paths()).map_err(|why| {
            crate::container::ContainerError::State {
                id: "(instance)".into(),
                why,
            }
        })
    }
}
