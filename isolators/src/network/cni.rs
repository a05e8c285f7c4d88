//! `network/cni`: a container's own network, as Mesos's `network/cni` isolator gives it.
//!
//! - host (the default): nothing here; the container stays in the host's network namespace and the launcher
//!   binds the host's name-resolution files.
//! - none: a network namespace of its own with only loopback (up).
//! - a named CNI network: a network namespace, then CNI ADD of the network's plugin chain into it (with the
//!   container's host ports as `runtimeConfig.portMappings`); the container's address goes into its
//!   `/etc/hosts`, `MESOS_CONTAINER_IP` and its status (`network_infos`, in Mesos's shape).
//!
//! Everything cleanup needs is checkpointed under `Container::module_dir("network/cni")`: `netns` (the bound
//! namespace), `cni.json` (the attachment, see `attachment.rs`) and the generated `/etc` files. Cleanup DELs
//! the chain in reverse, unmounts the namespace and removes the dir; it tolerates any partial prepare and runs
//! again after a crash. A DEL that fails after a completed ADD keeps the checkpoint and the namespace, so a later
//! cleanup (`ucr rm --force`) retries it instead of leaking iptables rules and address leases; after an ADD that
//! failed, a failing DEL is not retried (it would fail the same way on the same checkpointed config). After an
//! ADD whose caller died, DEL waits for the plugins still running (`stray.rs`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType};
use serde_json::{json, Value};

use super::attachment::Attachment;
use super::host_lock::HostLock;
use super::plugin::PLUGIN_TIMEOUT;
use super::{conf, files, netns, result};
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};
use crate::stats::ResourceStatistics;
use crate::vocab::{NetworkMode, PortMapping};

const NAME: &str = "network/cni";
/// The container-side interface name (what Mesos uses).
/// The first network's interface; the further ones are `eth1`, `eth2`, ... in order.
fn ifname(index: usize) -> String {
    format!("eth{index}")
}

/// `network/cni`'s settings.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CniConfig {
    /// `--network_cni_config_dir` (default `/etc/ucr/cni`).
    #[serde(default)]
    pub config_dir: Option<PathBuf>,
    /// `--network_cni_plugins_dir`: a `:`-separated search path (default `/usr/lib/cni:/opt/cni/bin`).
    #[serde(default)]
    pub plugins_dir: Option<PathBuf>,
}

pub struct Cni {
    config_dir: PathBuf,
    /// `:`-separated plugin search path.
    plugins_path: String,
}

impl Cni {
    pub fn new(config: &CniConfig) -> Self {
        Cni {
            config_dir: config
                .config_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(conf::DEFAULT_CONFIG_DIR)),
            plugins_path: config
                .plugins_dir
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| conf::DEFAULT_PLUGINS_PATH.to_string()),
        }
    }
}

fn netns_file(dir: &Path) -> PathBuf {
    dir.join("netns")
}

fn checkpoint_file(dir: &Path) -> PathBuf {
    dir.join("cni.json")
}

/// The attachment to the `index`th network (0: `cni.json`, as before several networks were joined).
fn checkpoint_file_of(dir: &Path, index: usize) -> PathBuf {
    match index {
        0 => checkpoint_file(dir),
        i => dir.join(format!("cni-{i}.json")),
    }
}

/// Every network's checkpoint that exists, the last joined first (the order of DEL).
fn checkpoints_last_first(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..)
        .map(|i| checkpoint_file_of(dir, i))
        .take_while(|f| f.exists())
        .collect();
    files.reverse();
    files.push(checkpoint_file(dir));
    files
}

/// CNI_CONTAINERID must be `[A-Za-z0-9][A-Za-z0-9_.-]*` (CNI spec); Mesos ids may hold more, so those get a
/// stable hash-derived id instead. It is checkpointed, so DEL always uses the one ADD used.
pub fn cni_container_id(id: &str) -> String {
    let ok = id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        return id.to_string();
    }
    // FNV-1a, twice with different offsets: 128 bits, no dependency, and only uniqueness matters here.
    let fnv = |offset: u64| {
        id.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "ucr-{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

fn namespace(path: &Path) -> Result<LinuxNamespace> {
    LinuxNamespaceBuilder::default()
        .typ(LinuxNamespaceType::Network)
        .path(path)
        .build()
        .map_err(|e| IsolatorError::invalid(NAME, e.to_string()))
}

/// Mesos `NetworkInfo.PortMapping`s, and CNI's `runtimeConfig.portMappings` entries.
fn mesos_ports(ports: &[PortMapping]) -> Vec<Value> {
    ports
        .iter()
        .map(|p| json!({"host_port": p.host_port, "container_port": p.container_port, "protocol": p.protocol}))
        .collect()
}

fn cni_ports(ports: &[PortMapping]) -> Vec<Value> {
    ports
        .iter()
        .map(|p| json!({"hostPort": p.host_port, "containerPort": p.container_port, "protocol": p.protocol}))
        .collect()
}

/// One Mesos `NetworkInfo` of `ContainerStatus.network_infos`, for an attachment.
pub fn network_info(network: &str, ips: &[IpAddr], ports: &[Value]) -> Value {
    let addrs: Vec<Value> = ips
        .iter()
        .map(|ip| {
            let proto = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
            json!({"protocol": proto, "ip_address": ip.to_string()})
        })
        .collect();
    let mut info = json!({"name": network, "ip_addresses": addrs});
    if !ports.is_empty() {
        info["port_mappings"] = Value::from(ports.to_vec());
    }
    info
}

/// Whether mapping `p` is on network `name`, the `index`th joined (a mapping naming none is on the first).
fn maps_on(p: &PortMapping, name: &str, index: usize) -> bool {
    if p.networks.is_empty() {
        index == 0
    } else {
        p.networks.iter().any(|n| n == name)
    }
}

impl Cni {
    fn prepare_mode(&self, c: &Container<'_>, r: &Request<'_>, dir: &Path) -> Result<Contribution> {
        let network = match &r.network.mode {
            NetworkMode::Host => return Ok(Contribution::default()),
            NetworkMode::None => None,
            NetworkMode::Cni(n) => Some(n.as_str()),
        };
        let hostname =
            files::hostname(r.hostname, c.id).map_err(|why| IsolatorError::invalid(NAME, why))?;
        if network.is_none() && !r.ports.is_empty() {
            return Err(IsolatorError::invalid(
                NAME,
                "port mappings need a container network; network mode none has nothing to map",
            ));
        }
        let networks: Vec<&str> = network
            .into_iter()
            .chain(r.network.extra_networks.iter().map(String::as_str))
            .collect();
        let ns = netns_file(dir);
        // The configs, the plugins and the ports are checked before anything is made, so a typo costs nothing
        // to undo.
        let atts = networks
            .iter()
            .enumerate()
            .map(|(i, n)| self.attachment(c, r, n, i, &ns))
            .collect::<Result<Vec<_>>>()?;
        std::fs::create_dir_all(dir).map_err(|e| IsolatorError::io(dir, e))?;
        netns::create(&ns)?;

        let mut out = Contribution::default();
        out.namespaces.push(namespace(&ns)?);
        out.hostname = Some(hostname.clone());
        // The first network's addresses and DNS name the container (hosts, resolv.conf, MESOS_CONTAINER_IP).
        let mut attached = result::Attached::default();
        let mut infos = Vec::new();
        for (i, mut att) in atts.into_iter().enumerate() {
            // Checkpointed before the first ADD: a crash in the middle of the chain still leaves what DEL needs.
            let file = checkpoint_file_of(dir, i);
            att.write(&file)?;
            let added = {
                let lock = HostLock::take()?;
                let started = std::time::Instant::now();
                let r = att.add(&lock);
                tracing::debug!(network = att.network, elapsed = ?started.elapsed(), "CNI ADD");
                r?
            };
            let this = result::parse(&added);
            att.result = Some(added);
            att.write(&file)?;
            // The mappings actually made: none when the chain has no port mapper (see `attachment`).
            let mapped: Vec<PortMapping> = match att.port_mappings.is_empty() {
                true => Vec::new(),
                false => r
                    .ports
                    .iter()
                    .filter(|p| maps_on(p, networks[i], i))
                    .cloned()
                    .collect(),
            };
            infos.push(network_info(&att.network, &this.ips, &mesos_ports(&mapped)));
            if i == 0 {
                attached = this;
            }
        }
        if let Some(ip) = attached
            .ips
            .iter()
            .find(|ip| ip.is_ipv4())
            .or(attached.ips.first())
        {
            out.env.push(("MESOS_CONTAINER_IP".into(), ip.to_string()));
        }
        if !infos.is_empty() {
            out.status
                .push(("network_infos".into(), Value::Array(infos)));
        }
        let hosts = files::with_extra_hosts(
            files::hosts(&hostname, &attached.ips),
            &r.network.extra_hosts,
        );
        let resolv = files::with_resolver(
            &files::resolv_conf(&attached.dns, &files::host_resolv_conf()),
            &r.network.resolver,
        );
        out.mounts = files::write(dir, &hostname, &hosts, &resolv)?;
        Ok(out)
    }

    /// The attachment to network `name` this container will get: its config (the bundled one written first if
    /// need be), every plugin found, and the host ports for the chain's port mapper.
    fn attachment(
        &self,
        c: &Container<'_>,
        r: &Request<'_>,
        name: &str,
        index: usize,
        ns: &Path,
    ) -> Result<Attachment> {
        let config = conf::find_or_default(&self.config_dir, name)?;
        let mut att = Attachment {
            network: config.name,
            cni_version: config.cni_version,
            plugins: config.plugins,
            config_file: config.file,
            container_id: cni_container_id(c.id),
            netns: ns.to_path_buf(),
            ifname: ifname(index),
            cni_path: self.plugins_path.clone(),
            port_mappings: cni_ports(
                &r.ports
                    .iter()
                    .filter(|p| maps_on(p, name, index))
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
            result: None,
        };
        for p in &att.plugins {
            att.invocation().find(Attachment::plugin_type(p))?;
        }
        if !att.maps_ports() && !att.port_mappings.is_empty() {
            let asked = r
                .network
                .port_mappings
                .iter()
                .filter(|m| maps_on(m, name, index))
                .any(|m| m.host_port != 0 || m.container_port != 0);
            if asked {
                return Err(IsolatorError::Cni {
                    network: att.network,
                    plugin: format!("config {}", att.config_file.display()),
                    why:
                        "port mappings were asked for but no plugin has the portMappings capability"
                            .into(),
                });
            }
            // Only the default mapping Marathon adds on container networks: there is nothing to map it with.
            tracing::warn!(
                network = att.network,
                "no portMappings plugin; the default port mapping is not mapped"
            );
            att.port_mappings.clear();
        }
        Ok(att)
    }
}

impl Isolator for Cni {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        let dir = c.module_dir(NAME);
        let made = self.prepare_mode(c, r, &dir);
        if made.is_err() {
            // Undo here rather than rely on the caller: a half-made attachment must not outlive the error.
            if let Err(e) = self.cleanup(c) {
                tracing::warn!(id = c.id, "cleanup after failed prepare: {e}");
            }
        }
        made
    }

    fn recover(&self, c: &Container<'_>) -> Result<()> {
        // A checkpointed attachment must still have its namespace; if not (unmounted by hand, or a runtime dir
        // kept across a reboot), the container has lost its network, and recovery says so.
        let dir = c.module_dir(NAME);
        if Attachment::read(&checkpoint_file(&dir))?.is_some()
            && !netns::is_netns(&netns_file(&dir))
        {
            return Err(IsolatorError::Failed {
                isolator: NAME,
                why: format!(
                    "{}: the network namespace is gone",
                    netns_file(&dir).display()
                ),
            });
        }
        Ok(())
    }

    fn usage(&self, c: &Container<'_>, stats: &mut ResourceStatistics) -> Result<()> {
        let ns = netns_file(&c.module_dir(NAME));
        if !netns::is_netns(&ns) {
            return Ok(());
        }
        let dev = netns::within(&ns, || std::fs::read_to_string("/proc/thread-self/net/dev"))?;
        super::counters::add(&dev, stats);
        Ok(())
    }

    fn cleanup(&self, c: &Container<'_>) -> Result<()> {
        let dir = c.module_dir(NAME);
        if !dir.exists() {
            return Ok(());
        }
        for file in checkpoints_last_first(&dir) {
            let Some(att) = Attachment::read(&file)? else {
                continue;
            };
            if att.result.is_none() {
                // An ADD never recorded as complete: its caller may have died with a plugin still running.
                super::stray::wait_for_plugins(&att.container_id, &att.netns, PLUGIN_TIMEOUT);
            }
            let lock = HostLock::take()?;
            let started = std::time::Instant::now();
            match att.del(&lock) {
                Ok(()) => {}
                // The ADD never completed: the chain failed on this very config (which the checkpoint keeps, so
                // no retry can do better), and the ADD's error already said why. What the plugins made before
                // failing is theirs to have undone; the namespace goes below.
                Err(e) if att.result.is_none() => {
                    tracing::debug!(id = c.id, "DEL after an incomplete ADD: {e}")
                }
                // A completed ADD must be undone, or rules and leases leak: keep everything for the next try.
                Err(e) => return Err(e),
            }
            tracing::debug!(network = att.network, elapsed = ?started.elapsed(), "CNI DEL");
            // Done: a retry after a later failure must not DEL it twice.
            if file != checkpoint_file(&dir) {
                let _ = std::fs::remove_file(&file);
            }
        }
        netns::remove(&netns_file(&dir))?;
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(IsolatorError::io(&dir, e)),
        }
    }
}

#[cfg(test)]
#[path = "cni_tests.rs"]
mod tests;
