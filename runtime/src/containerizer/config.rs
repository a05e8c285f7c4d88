//! What a containerizer is configured with: where its containers live, how their root filesystems are made,
//! which isolators they get and with what settings, the host ports it hands out, and how a supervisor is
//! started in a process of its own.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use super::forker::Forker;

use crate::container::paths::{Paths, DEFAULT_SANDBOX_DIRECTORY};

#[derive(Clone, Debug)]
pub struct Config {
    /// `--root` (work dir: sandboxes, rootfs) and `--runtime-dir` (checkpoints, bundles).
    pub paths: Paths,
    /// `--image_provisioner_backend`: overlay or copy; None = what the filesystem supports.
    pub backend: Option<String>,
    /// `--sandbox_directory`: where the sandbox appears inside containers.
    pub sandbox_directory: String,
    /// `--isolation`: the isolators new containers get (Mesos names); checkpointed with each container.
    pub isolation: Vec<String>,
    /// The isolators' settings; checkpointed with each container.
    pub isolator_config: ucr_isolators::Config,
    /// The agent's `ports` resource (`--resources 'ports:[...]'`): inclusive ranges host ports are given from;
    /// empty = Mesos's default 31000-32000.
    pub agent_ports: Vec<(u16, u16)>,
    /// Mesos `--cgroups_root`: the cgroup parent of this instance's containers; None = `/ucr/<instance>`.
    pub cgroups_root: Option<String>,
    /// Mesos `--fetcher_stall_timeout`: a URI download that receives nothing for this long fails.
    pub fetcher_stall_timeout: std::time::Duration,
    /// Mesos `--fetcher_cache_dir` / `--fetcher_cache_size`, for URIs with `cache: true`; None = no cache (each
    /// such URI is downloaded).
    pub fetcher_cache: Option<crate::fetcher::CacheOptions>,
    /// How to start a supervisor when this process cannot fork one (it has more than one thread): by the
    /// forker if the caller started one, else by this command.
    pub supervisor: SupervisorCommand,
    pub forker: Option<Arc<Forker>>,
}

/// The command that runs `__supervise ID`: the `ucr` executable and the global options that make it find the
/// same directories.
#[derive(Clone, Debug, Default)]
pub struct SupervisorCommand {
    pub exe: PathBuf,
    pub args: Vec<OsString>,
}

impl Config {
    /// Every isolator, the overlay-or-copy probe, the default sandbox directory and ports.
    pub fn new(paths: Paths, supervisor: SupervisorCommand) -> Config {
        Config {
            paths,
            backend: None,
            sandbox_directory: DEFAULT_SANDBOX_DIRECTORY.to_string(),
            isolation: ucr_isolators::default_names(),
            isolator_config: ucr_isolators::Config::default(),
            agent_ports: Vec::new(),
            cgroups_root: None,
            fetcher_stall_timeout: crate::fetcher::DEFAULT_STALL_TIMEOUT,
            fetcher_cache: None,
            supervisor,
            forker: None,
        }
    }
}
