//! `--isolation`: the Mesos names of the isolators to run, and the ordered set built from them.
//!
//! The order is fixed by the set, not by the flag: the root filesystem's own mounts come before volumes, and
//! network files last, because a mount must follow the mount of its parent path. Cleanup runs in reverse.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};
use crate::stats::{Limitation, ResourceStatistics};
use crate::vocab::{Limits, NetworkMode, Resources, VolumeSource};
use crate::{cgroups, filesystem, linux, network, posix, volume};

/// Every isolator this build has, in launch order.
pub const KNOWN: &[&str] = &[
    "filesystem/linux",
    "volume/sandbox_path",
    "volume/host_path",
    "cgroups/cpu",
    "cgroups/mem",
    "cgroups/pids",
    "cgroups/devices",
    "posix/rlimits",
    "linux/capabilities",
    "linux/seccomp",
    "network/cni",
];

/// Mesos names accepted for what ucr always does, so an agent's existing `--isolation` works unchanged:
/// every container gets its own pid and ipc namespace (unless its `linux_info` shares them) and the image's
/// runtime config (`docker/runtime`, `appc/runtime`) is always applied by the launcher.
const ALWAYS_ON: &[&str] = &[
    "namespaces/pid",
    "namespaces/ipc",
    "docker/runtime",
    "appc/runtime",
];

/// The default when `--isolation` is not given: everything. A shared agent must be safe without tuning.
pub fn default_names() -> Vec<String> {
    KNOWN.iter().map(|s| s.to_string()).collect()
}

/// Parse a `--isolation` value (comma-separated Mesos names). `cgroups/all` means every cgroups isolator.
pub fn parse_isolation(value: &str) -> Result<Vec<String>> {
    let mut wanted = Vec::new();
    for name in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if name == "cgroups/all" {
            wanted.extend(KNOWN.iter().filter(|k| k.starts_with("cgroups/")).copied());
        } else if let Some(k) = KNOWN.iter().find(|k| **k == name) {
            wanted.push(*k);
        } else if !ALWAYS_ON.contains(&name) {
            let mut known: Vec<&str> = KNOWN.to_vec();
            known.push("cgroups/all");
            known.extend(ALWAYS_ON);
            return Err(IsolatorError::Unknown {
                name: name.to_string(),
                known: known.join(", "),
            });
        }
    }
    Ok(KNOWN
        .iter()
        .filter(|k| wanted.contains(k))
        .map(|s| s.to_string())
        .collect())
}

/// Agent-wide settings the isolators read. Checkpointed with each container, so a later process cleans up with
/// the settings the container was made with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Flags {
    /// `--cgroups_enable_cfs`: a CFS quota from `cpus` when no `limits.cpus` is given.
    #[serde(default)]
    pub cgroups_enable_cfs: bool,
    /// `pids.max` for containers that ask for no `pids` resource.
    #[serde(default)]
    pub default_pids_limit: Option<u64>,
    /// `--seccomp_config_dir`: where named seccomp profiles are.
    #[serde(default)]
    pub seccomp_config_dir: Option<PathBuf>,
    /// `--seccomp_profile_name`: the profile for containers that name none (default: ucr's own).
    #[serde(default)]
    pub seccomp_profile_name: Option<String>,
    /// `--network_cni_config_dir`.
    #[serde(default)]
    pub network_cni_config_dir: Option<PathBuf>,
    /// `--network_cni_plugins_dir`.
    #[serde(default)]
    pub network_cni_plugins_dir: Option<PathBuf>,
    /// The agent's `ports` resource (`--resources 'ports:[31000-32000]'`), inclusive ranges the host ports of
    /// containers come from; empty = Mesos's default 31000-32000.
    #[serde(default)]
    pub agent_ports: Vec<(u16, u16)>,
}

/// The chosen isolators, in launch order.
pub struct Isolators {
    list: Vec<Box<dyn Isolator>>,
}

impl Isolators {
    pub fn new(names: &[String], flags: &Flags) -> Result<Self> {
        let unknown = |name: &str| IsolatorError::Unknown {
            name: name.to_string(),
            known: KNOWN.join(", "),
        };
        if let Some(n) = names.iter().find(|n| !KNOWN.contains(&n.as_str())) {
            return Err(unknown(n));
        }
        let mut list = Vec::new();
        for name in KNOWN.iter().filter(|k| names.iter().any(|n| n == *k)) {
            list.push(build(name, flags).ok_or_else(|| unknown(name))?);
        }
        Ok(Isolators { list })
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.list.iter().map(|i| i.name()).collect()
    }

    fn enabled(&self, name: &str) -> bool {
        self.list.iter().any(|i| i.name() == name)
    }

    /// Refuse a request that needs an isolator the operator left out, instead of silently ignoring part of it.
    fn check_request(&self, c: &Container<'_>, r: &Request<'_>) -> Result<()> {
        let need = |what: String, isolator: &'static str| -> Result<()> {
            if self.enabled(isolator) {
                Ok(())
            } else {
                Err(IsolatorError::NotEnabled { what, isolator })
            }
        };
        if c.rootfs.is_some() {
            need("a container image".into(), "filesystem/linux")?;
        }
        for v in r.volumes {
            match &v.source {
                VolumeSource::HostPath { path } => need(
                    format!("volume {} from host path {path}", v.container_path),
                    "volume/host_path",
                )?,
                VolumeSource::SandboxSelf { .. } | VolumeSource::SandboxParent { .. } => need(
                    format!("sandbox volume {}", v.container_path),
                    "volume/sandbox_path",
                )?,
            }
        }
        match &r.network.mode {
            NetworkMode::Host => {}
            NetworkMode::None => need("network mode none".into(), "network/cni")?,
            NetworkMode::Cni(n) => need(format!("network {n}"), "network/cni")?,
        }
        Ok(())
    }

    /// Prepare every isolator in order. If one fails, the ones already prepared are cleaned up (in reverse)
    /// before the error is returned, so a failed prepare leaves nothing behind.
    pub fn prepare(&self, c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        self.check_request(c, r)?;
        let mut all = Contribution::default();
        for (n, iso) in self.list.iter().enumerate() {
            match iso.prepare(c, r) {
                Ok(part) => all.merge(part),
                Err(e) => {
                    for done in self.list[..=n].iter().rev() {
                        if let Err(ce) = done.cleanup(c) {
                            tracing::warn!(isolator = done.name(), error = %ce, "cleanup after failed prepare");
                        }
                    }
                    return Err(e);
                }
            }
        }
        Ok(all)
    }

    pub fn isolate(&self, c: &Container<'_>, pid: i32) -> Result<()> {
        self.list.iter().try_for_each(|i| i.isolate(c, pid))
    }

    pub fn recover(&self, c: &Container<'_>) -> Result<()> {
        self.list.iter().try_for_each(|i| i.recover(c))
    }

    /// The fds the supervisor polls for limitations.
    pub fn watch_fds(&self, c: &Container<'_>) -> Result<Vec<OwnedFd>> {
        let mut fds = Vec::new();
        for i in &self.list {
            fds.extend(i.watch_fd(c)?);
        }
        Ok(fds)
    }

    /// The first limitation any isolator reports.
    pub fn watch(&self, c: &Container<'_>) -> Option<Limitation> {
        self.list.iter().find_map(|i| i.watch(c))
    }

    pub fn update(&self, c: &Container<'_>, resources: &Resources, limits: &Limits) -> Result<()> {
        self.list
            .iter()
            .try_for_each(|i| i.update(c, resources, limits))
    }

    pub fn usage(&self, c: &Container<'_>) -> Result<ResourceStatistics> {
        let mut stats = ResourceStatistics {
            timestamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default(),
            ..Default::default()
        };
        for i in &self.list {
            i.usage(c, &mut stats)?;
        }
        Ok(stats)
    }

    /// Clean up every isolator in reverse order; all run even if one fails, and the first error is returned.
    pub fn cleanup(&self, c: &Container<'_>) -> Result<()> {
        let mut first = None;
        for i in self.list.iter().rev() {
            if let Err(e) = i.cleanup(c) {
                tracing::warn!(isolator = i.name(), error = %e, "cleanup");
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

fn build(name: &str, flags: &Flags) -> Option<Box<dyn Isolator>> {
    Some(match name {
        "filesystem/linux" => Box::new(filesystem::linux::FilesystemLinux),
        "volume/sandbox_path" => Box::new(volume::sandbox_path::SandboxPath),
        "volume/host_path" => Box::new(volume::host_path::HostPath),
        "cgroups/cpu" => Box::new(cgroups::cpu::Cpu::new(flags)),
        "cgroups/mem" => Box::new(cgroups::mem::Mem::new(flags)),
        "cgroups/pids" => Box::new(cgroups::pids::Pids::new(flags)),
        "cgroups/devices" => Box::new(cgroups::devices::Devices),
        "posix/rlimits" => Box::new(posix::rlimits::Rlimits),
        "linux/capabilities" => Box::new(linux::capabilities::CapabilitiesIsolator),
        "linux/seccomp" => Box::new(linux::seccomp::Seccomp::new(flags)),
        "network/cni" => Box::new(network::cni::Cni::new(flags)),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolation_names() {
        let n = parse_isolation("cgroups/mem, filesystem/linux,namespaces/pid").unwrap_or_default();
        assert_eq!(n, vec!["filesystem/linux", "cgroups/mem"]);
        let all = parse_isolation("cgroups/all").unwrap_or_default();
        assert_eq!(all.len(), 4);
        let err = parse_isolation("cgroups/cpu,gpu/nvidia")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("\"gpu/nvidia\"") && err.contains("network/cni"),
            "{err}"
        );
    }
}
