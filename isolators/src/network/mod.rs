//! Network isolation: `network/cni` (modes none and named CNI networks, host ports through CNI's portmap).
//! Host networking needs no isolator.
//!
//! - `cni`: the isolator (what each mode gets, cleanup, counters);
//! - `netns`: a network namespace bound onto a file under the container's state dir;
//! - `conf`: network configs by name from `--network_cni_config_dir`, and the bundled `mesos-bridge`;
//! - `attachment`: one container on one network: the plugin chain's ADD and DEL, and its checkpoint;
//! - `plugin`: running one plugin per the CNI spec; `result`: reading its result;
//! - `host_lock`: the host-wide lock every ADD and DEL runs under, held by the plugins too;
//! - `stray`: waiting out the plugins of an ADD whose caller died, before its DEL;
//! - `files`: the container's /etc/hosts, /etc/resolv.conf and /etc/hostname; `counters`: net statistics.

pub mod attachment;
pub mod cni;
pub mod conf;
pub mod counters;
pub mod files;
pub mod host_lock;
pub mod netns;
pub mod plugin;
pub mod result;
pub mod stray;
