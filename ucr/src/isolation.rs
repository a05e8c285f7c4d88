//! The agent-wide isolation options (Mesos flag names accepted): which isolators run and the settings they
//! read. They are global so `run`, `launch` and the agent share them; a container checkpoints what it was made
//! with, so later commands never need them again.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ucr_runtime::container::ports::parse_resources;
use ucr_runtime::isolators::{
    default_names, parse_isolation, CniConfig, Config, CpuConfig, DiskConfig, PidsConfig,
    SeccompConfig,
};

/// What the isolation options decide for a new container.
pub struct Isolation {
    pub names: Vec<String>,
    pub config: Config,
    pub ports: Vec<(u16, u16)>,
}

#[derive(Args, Debug, Clone)]
pub struct IsolationArgs {
    /// Isolators by Mesos name, comma-separated (default: all of them). `cgroups/all` = every cgroups one.
    #[arg(long)]
    pub isolation: Option<String>,
    /// A CFS quota from `cpus` when a container gives no `limits.cpus`.
    #[arg(long = "cgroups-enable-cfs", alias = "cgroups_enable_cfs")]
    pub cgroups_enable_cfs: bool,
    /// pids.max for containers that ask for no `pids` resource.
    #[arg(long = "default-pids-limit", alias = "default_pids_limit")]
    pub default_pids_limit: Option<u64>,
    /// Directory of named seccomp profiles.
    #[arg(long = "seccomp-config-dir", alias = "seccomp_config_dir")]
    pub seccomp_config_dir: Option<PathBuf>,
    /// Seccomp profile for containers that name none (a file in --seccomp-config-dir, or `unconfined`).
    #[arg(long = "seccomp-profile-name", alias = "seccomp_profile_name")]
    pub seccomp_profile_name: Option<String>,
    /// CNI network configurations.
    #[arg(long = "network-cni-config-dir", alias = "network_cni_config_dir")]
    pub network_cni_config_dir: Option<PathBuf>,
    /// CNI plugin binaries.
    #[arg(long = "network-cni-plugins-dir", alias = "network_cni_plugins_dir")]
    pub network_cni_plugins_dir: Option<PathBuf>,
    /// Mesos --enforce_container_disk_quota: `disk/du` kills a container whose sandbox and root filesystem
    /// writes exceed its `disk` (REASON_CONTAINER_LIMITATION_DISK).
    #[arg(
        long = "enforce-container-disk-quota",
        alias = "enforce_container_disk_quota"
    )]
    pub enforce_container_disk_quota: bool,
    /// Mesos --container_disk_watch_interval: how often `disk/du` measures a container with a quota
    /// (`15secs`, `500ms`).
    #[arg(
        long = "container-disk-watch-interval",
        alias = "container_disk_watch_interval",
        default_value = "15secs",
        value_parser = crate::duration::parse
    )]
    pub container_disk_watch_interval: std::time::Duration,
    /// The agent's resources, Mesos syntax (`cpus:8;mem:4096;ports:[31000-32000]`, or the JSON list); ucr reads
    /// `ports`, the host ports it gives containers (default 31000-32000).
    #[arg(long)]
    pub resources: Option<String>,
}

impl IsolationArgs {
    /// The isolator names and settings for a new container; an unknown name is an error listing the known.
    /// The isolator names, their settings, and the agent's `ports` ranges (empty: the default range).
    pub fn resolve(&self) -> anyhow::Result<Isolation> {
        let names = match &self.isolation {
            Some(v) => parse_isolation(v).context("--isolation")?,
            None => default_names(),
        };
        let abs = |p: &Option<PathBuf>| -> anyhow::Result<Option<PathBuf>> {
            // Checkpointed and used by later processes from other working dirs.
            p.as_ref()
                .map(|p| std::path::absolute(p).with_context(|| p.display().to_string()))
                .transpose()
        };
        let config = Config {
            cpu: CpuConfig {
                enable_cfs: self.cgroups_enable_cfs,
            },
            pids: PidsConfig {
                default_limit: self.default_pids_limit,
            },
            seccomp: SeccompConfig {
                config_dir: abs(&self.seccomp_config_dir)?,
                profile_name: self.seccomp_profile_name.clone(),
            },
            cni: CniConfig {
                config_dir: abs(&self.network_cni_config_dir)?,
                // A search path like CNI_PATH: each colon-separated entry made absolute on its own.
                plugins_dir: self
                    .network_cni_plugins_dir
                    .as_ref()
                    .map(|v| -> anyhow::Result<PathBuf> {
                        let parts = std::env::split_paths(v)
                            .map(|p| {
                                std::path::absolute(&p).with_context(|| p.display().to_string())
                            })
                            .collect::<anyhow::Result<Vec<_>>>()?;
                        Ok(std::env::join_paths(parts)
                            .context("--network_cni_plugins_dir")?
                            .into())
                    })
                    .transpose()?,
            },
            disk: DiskConfig {
                enforce_quota: self.enforce_container_disk_quota,
                watch_interval_ms: self.container_disk_watch_interval.as_millis().max(1) as u64,
            },
        };
        let ports = match &self.resources {
            Some(r) => parse_resources(r)
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("--resources {r}"))?
                .unwrap_or_default(),
            None => Vec::new(),
        };
        Ok(Isolation {
            names,
            config,
            ports,
        })
    }
}
