//! `--isolation`: the Mesos names of the isolators this build has, what a flag value selects, and the module
//! behind each name.

use crate::config::Config;
use crate::error::{IsolatorError, Result};
use crate::isolator::Isolator;
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
    "disk/du",
    "linux/capabilities",
    "linux/seccomp",
    "network/cni",
];

/// Mesos names accepted for what ucr always does, so an agent's existing `--isolation` works unchanged:
/// every container gets its own pid and ipc namespace (unless its `linux_info` shares them), the image's
/// runtime config (`docker/runtime`, `appc/runtime`) is always applied by the launcher, and image and secret
/// volumes (`volume/image`, `volume/secret`) are always the runtime's to provide.
const ALWAYS_ON: &[&str] = &[
    "namespaces/pid",
    "namespaces/ipc",
    "docker/runtime",
    "appc/runtime",
    "volume/image",
    "volume/secret",
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

pub(crate) fn build(name: &str, config: &Config) -> Option<Box<dyn Isolator>> {
    Some(match name {
        "filesystem/linux" => Box::new(filesystem::linux::FilesystemLinux),
        "volume/sandbox_path" => Box::new(volume::sandbox_path::SandboxPath),
        "volume/host_path" => Box::new(volume::host_path::HostPath),
        "cgroups/cpu" => Box::new(cgroups::cpu::Cpu::new(&config.cpu)),
        "cgroups/mem" => Box::new(cgroups::mem::Mem::new()),
        "cgroups/pids" => Box::new(cgroups::pids::Pids::new(&config.pids)),
        "cgroups/devices" => Box::new(cgroups::devices::Devices),
        "posix/rlimits" => Box::new(posix::rlimits::Rlimits),
        "disk/du" => Box::new(posix::disk::DiskDu::new(&config.disk)),
        "linux/capabilities" => Box::new(linux::capabilities::CapabilitiesIsolator),
        "linux/seccomp" => Box::new(linux::seccomp::Seccomp::new(&config.seccomp)),
        "network/cni" => Box::new(network::cni::Cni::new(&config.cni)),
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
        // DC/OS's agents name these, beside modules ucr does not have.
        let n =
            parse_isolation("disk/du,volume/secret,volume/image,posix/rlimits").unwrap_or_default();
        assert_eq!(n, vec!["posix/rlimits", "disk/du"]);
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
