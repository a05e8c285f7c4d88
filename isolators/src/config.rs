//! The isolators' settings: each isolator owns a small config in its own module (`CpuConfig`, `PidsConfig`,
//! `SeccompConfig`, `CniConfig`); this is only their sum, as the agent flags fill it in. It is checkpointed with
//! every container, so cleanup, usage and update in a later process use the settings the container was made
//! with, whatever that process's own flags say.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::cgroups::cpu::CpuConfig;
use crate::cgroups::pids::PidsConfig;
use crate::linux::seccomp::SeccompConfig;
use crate::network::cni::CniConfig;
use crate::posix::disk::DiskConfig;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Wire")]
pub struct Config {
    pub cpu: CpuConfig,
    pub pids: PidsConfig,
    pub seccomp: SeccompConfig,
    pub cni: CniConfig,
    pub disk: DiskConfig,
}

/// What a checkpoint may hold: this shape, or the single flat `Flags` of containers made before the isolators
/// had configs of their own (its `agent_ports` now belongs to the runtime and is ignored here).
#[derive(Default, Deserialize)]
#[serde(default)]
struct Wire {
    cpu: Option<CpuConfig>,
    pids: Option<PidsConfig>,
    seccomp: Option<SeccompConfig>,
    cni: Option<CniConfig>,
    disk: Option<DiskConfig>,
    cgroups_enable_cfs: bool,
    default_pids_limit: Option<u64>,
    seccomp_config_dir: Option<PathBuf>,
    seccomp_profile_name: Option<String>,
    network_cni_config_dir: Option<PathBuf>,
    network_cni_plugins_dir: Option<PathBuf>,
}

impl From<Wire> for Config {
    fn from(w: Wire) -> Config {
        Config {
            cpu: w.cpu.unwrap_or(CpuConfig {
                enable_cfs: w.cgroups_enable_cfs,
            }),
            pids: w.pids.unwrap_or(PidsConfig {
                default_limit: w.default_pids_limit,
            }),
            seccomp: w.seccomp.unwrap_or(SeccompConfig {
                config_dir: w.seccomp_config_dir,
                profile_name: w.seccomp_profile_name,
            }),
            cni: w.cni.unwrap_or(CniConfig {
                config_dir: w.network_cni_config_dir,
                plugins_dir: w.network_cni_plugins_dir,
            }),
            disk: w.disk.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_shape_and_the_flat_flags_of_older_checkpoints() {
        let c = Config {
            cpu: CpuConfig { enable_cfs: true },
            pids: PidsConfig {
                default_limit: Some(7),
            },
            ..Config::default()
        };
        let json = serde_json::to_string(&c).expect("ser");
        assert_eq!(serde_json::from_str::<Config>(&json).expect("de"), c);
        let old = r#"{"cgroups_enable_cfs":true,"default_pids_limit":7,"seccomp_config_dir":null,
            "seccomp_profile_name":null,"network_cni_config_dir":"/etc/cni","network_cni_plugins_dir":null,
            "agent_ports":[[31000,32000]]}"#;
        let read: Config = serde_json::from_str(old).expect("old shape");
        assert_eq!(read.cpu, c.cpu);
        assert_eq!(read.pids, c.pids);
        assert_eq!(
            read.cni.config_dir.as_deref(),
            Some(std::path::Path::new("/etc/cni"))
        );
    }
}
