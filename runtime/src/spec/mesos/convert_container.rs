//! Mesos `ContainerInfo` → the container half of a `ContainerConfig`: image, container type, volumes, network,
//! hostname, Linux settings and rlimits.

use super::container::{
    ContainerInfo, ContainerKind, DockerNetwork, IpcMode, LinuxInfo, PortMapping as MesosPort,
    PropagationMode, RLimitInfo, RLimitType, SandboxType, SourceType, Volume as MesosVolume,
};
use super::convert::{secret_value, Store};
pub use super::image::{image_name, image_spec};
use super::types::VolumeMode as MesosMode;
use crate::spec::config::{
    ContainerConfig, ContainerType, ImageSpec, NetworkMode, PortMapping, Rlimit, Tty, Volume,
    VolumeMode, VolumeSource,
};
use crate::spec::docker_params::apply_docker_parameters;
use crate::spec::error::{Result, SpecError};
use ucr_registry::secret::Secret;

/// The CNI network Marathon's `container/bridge` and Docker's `BRIDGE` become (Mesos' `mesos-bridge`).
pub const BRIDGE_NETWORK: &str = "mesos-bridge";

/// Applies a `ContainerInfo` at JSON path `path` onto `cfg`.
pub fn apply_container(
    cfg: &mut ContainerConfig,
    info: ContainerInfo,
    path: &str,
    store: Store<'_>,
) -> Result<()> {
    if let Some(t) = info.tty_info {
        let size = t.window_size;
        cfg.tty = Some(Tty {
            rows: size.as_ref().map(|s| s.rows),
            columns: size.as_ref().map(|s| s.columns),
        });
    }
    let mut docker_network = None;
    let mut docker_ports = Vec::new();
    match info.kind {
        ContainerKind::Mesos => {
            if info.docker.is_some() {
                return Err(SpecError::field(
                    format!("{path}.docker"),
                    "set on a MESOS container (DockerInfo is for type DOCKER; use mesos.image)",
                ));
            }
            cfg.container_type = ContainerType::Mesos;
            if let Some(image) = info.mesos.and_then(|m| m.image) {
                cfg.image = Some(image_spec(image, &format!("{path}.mesos.image"), store)?);
            }
        }
        ContainerKind::Docker => {
            if info.mesos.is_some() {
                return Err(SpecError::field(
                    format!("{path}.mesos"),
                    "set on a DOCKER container (MesosInfo is for type MESOS)",
                ));
            }
            let docker = info.docker.ok_or_else(|| {
                SpecError::field(format!("{path}.docker"), "missing for a DOCKER container")
            })?;
            if docker.volume_driver.is_some() {
                return Err(SpecError::field(
                    format!("{path}.docker.volume_driver"),
                    "deprecated since Mesos 1.0 and not supported",
                ));
            }
            if docker.image.is_empty() {
                return Err(SpecError::field(format!("{path}.docker.image"), "empty"));
            }
            cfg.container_type = ContainerType::Docker;
            cfg.image = Some(ImageSpec {
                reference: image_name(&docker.image, &format!("{path}.docker.image"))?,
                cached: !docker.force_pull_image.unwrap_or(false),
                docker_config: None,
            });
            cfg.linux.privileged = docker.privileged.unwrap_or(false);
            apply_docker_parameters(
                cfg,
                docker
                    .parameters
                    .iter()
                    .map(|p| (p.key.as_str(), p.value.as_str())),
                &format!("{path}.docker.parameters"),
            )?;
            docker_network = Some(docker.network.unwrap_or(DockerNetwork::Host));
            docker_ports = docker.port_mappings;
        }
    }
    for (i, v) in info.volumes.into_iter().enumerate() {
        let at = format!("{path}.volumes[{i}]");
        match secret_volume(v, &at, store)? {
            Ok(file) => cfg.secret_volumes.push(file),
            Err(v) if v.image.is_some() => cfg
                .image_volumes
                .push(super::image::image_volume(v, &at, store)?),
            Err(v) => cfg.volumes.push(volume(v, &at)?),
        }
    }
    apply_network(cfg, info.network_infos, docker_network, docker_ports, path)?;
    if info.hostname.is_some() {
        cfg.hostname = info.hostname;
    }
    if let Some(linux) = info.linux_info {
        apply_linux(cfg, linux, &format!("{path}.linux_info"))?;
    }
    if let Some(r) = info.rlimit_info {
        cfg.rlimits = rlimits(r, &format!("{path}.rlimit_info"))?;
    }
    Ok(())
}

/// A SECRET volume as (container path, value): a read-only file holding the secret. Any other volume is given
/// back.
fn secret_volume(
    mut v: MesosVolume,
    at: &str,
    store: Store<'_>,
) -> Result<std::result::Result<(String, Secret), MesosVolume>> {
    let Some(src) = v
        .source
        .as_mut()
        .filter(|s| s.kind == Some(SourceType::Secret))
    else {
        return Ok(Err(v));
    };
    let secret = src.secret.take().ok_or_else(|| {
        SpecError::field(format!("{at}.source.secret"), "missing for a SECRET volume")
    })?;
    let path = &v.container_path;
    if path.is_empty() || path.split('/').any(|c| c == "..") || path.ends_with('/') {
        return Err(SpecError::field(
            format!("{at}.container_path"),
            format!("{path:?}: a secret volume is a file path without '..'"),
        ));
    }
    let value = secret_value(secret, &format!("{at}.source.secret"), store)?;
    Ok(Ok((v.container_path, value)))
}

fn volume(v: MesosVolume, at: &str) -> Result<Volume> {
    if v.container_path.is_empty() {
        return Err(SpecError::field(format!("{at}.container_path"), "empty"));
    }
    let mode = match v.mode {
        MesosMode::Rw => VolumeMode::Rw,
        MesosMode::Ro => VolumeMode::Ro,
    };
    let source = match (v.host_path, v.source) {
        (Some(_), Some(_)) => {
            return Err(SpecError::field(
                at,
                "both host_path and source are set; give one",
            ))
        }
        // Legacy form: a relative host_path is a path in the sandbox (Mesos volume/host_path isolator).
        (Some(p), None) if p.starts_with('/') => VolumeSource::HostPath { path: p },
        (Some(p), None) if !p.is_empty() => VolumeSource::SandboxSelf { path: p },
        (Some(_), None) => return Err(SpecError::field(format!("{at}.host_path"), "empty")),
        (None, None) => return Err(SpecError::field(at, "needs host_path or source")),
        (None, Some(src)) => {
            let sat = format!("{at}.source");
            match src.kind.unwrap_or(SourceType::Unknown) {
                SourceType::HostPath => {
                    let hp = src.host_path.ok_or_else(|| {
                        SpecError::field(
                            format!("{sat}.host_path"),
                            "missing for a HOST_PATH volume",
                        )
                    })?;
                    if !hp.path.starts_with('/') {
                        return Err(SpecError::field(
                            format!("{sat}.host_path.path"),
                            format!("{:?} is not absolute", hp.path),
                        ));
                    }
                    if hp.mount_propagation.and_then(|m| m.mode)
                        == Some(PropagationMode::Bidirectional)
                    {
                        return Err(SpecError::field(
                            format!("{sat}.host_path.mount_propagation.mode"),
                            "BIDIRECTIONAL propagation is not supported",
                        ));
                    }
                    VolumeSource::HostPath { path: hp.path }
                }
                SourceType::SandboxPath => {
                    let sp = src.sandbox_path.ok_or_else(|| {
                        SpecError::field(
                            format!("{sat}.sandbox_path"),
                            "missing for a SANDBOX_PATH volume",
                        )
                    })?;
                    if sp.path.is_empty() || sp.path.starts_with('/') {
                        return Err(SpecError::field(
                            format!("{sat}.sandbox_path.path"),
                            format!("{:?} must be a relative path in the sandbox", sp.path),
                        ));
                    }
                    match sp.kind.unwrap_or(SandboxType::Unknown) {
                        SandboxType::SelfSandbox => VolumeSource::SandboxSelf { path: sp.path },
                        // Only a nested container has a parent sandbox: the launch checks.
                        SandboxType::Parent => VolumeSource::SandboxParent { path: sp.path },
                        SandboxType::Unknown => {
                            return Err(SpecError::field(
                                format!("{sat}.sandbox_path.type"),
                                "expected SELF or PARENT",
                            ))
                        }
                    }
                }
                SourceType::Unknown => {
                    return Err(SpecError::field(
                        format!("{sat}.type"),
                        "expected HOST_PATH or SANDBOX_PATH",
                    ))
                }
                other => {
                    return Err(SpecError::field(
                        format!("{sat}.type"),
                        format!(
                        "{} volumes are not supported (ucr supports HOST_PATH and SANDBOX_PATH)",
                        other.as_str()
                    ),
                    ))
                }
            }
        }
    };
    Ok(Volume {
        container_path: v.container_path,
        mode,
        source,
    })
}

fn apply_network(
    cfg: &mut ContainerConfig,
    infos: Vec<super::container::NetworkInfo>,
    docker_network: Option<DockerNetwork>,
    docker_ports: Vec<MesosPort>,
    path: &str,
) -> Result<()> {
    // Several NetworkInfos: the first is the container's network, the others are joined after it, each
    // NetworkInfo's port mappings on its own network.
    let mut infos = infos.into_iter();
    let info = infos.next();
    let mut extra = Vec::new();
    for (i, more) in infos.enumerate() {
        let at = format!("{path}.network_infos[{}]", i + 1);
        let name = more.name.filter(|n| !n.is_empty()).ok_or_else(|| {
            SpecError::field(
                format!("{at}.name"),
                "missing: ucr joins CNI networks by name",
            )
        })?;
        extra.push((name, more.port_mappings, format!("{at}.port_mappings")));
    }
    if !extra.is_empty() && !matches!(docker_network, None | Some(DockerNetwork::User)) {
        return Err(SpecError::field(
            format!("{path}.network_infos"),
            "several networks are joined only without a docker network or with USER",
        ));
    }
    let named = |info: Option<super::container::NetworkInfo>| -> Result<(String, Vec<MesosPort>)> {
        let info = info.ok_or_else(|| {
            SpecError::field(
                format!("{path}.network_infos"),
                "missing for docker network USER",
            )
        })?;
        match info.name {
            Some(n) if !n.is_empty() => Ok((n, info.port_mappings)),
            _ => Err(SpecError::field(
                format!("{path}.network_infos[0].name"),
                "missing: ucr joins CNI networks by name",
            )),
        }
    };
    let (mode, ports, ports_path) = match docker_network {
        None => match info {
            None => (NetworkMode::Host, Vec::new(), String::new()),
            Some(i) => {
                let (name, ports) = named(Some(i))?;
                (
                    NetworkMode::Cni(name),
                    ports,
                    format!("{path}.network_infos[0].port_mappings"),
                )
            }
        },
        Some(DockerNetwork::User) => {
            let (name, ports) = named(info)?;
            let mut all = docker_ports;
            all.extend(ports);
            (
                NetworkMode::Cni(name),
                all,
                format!("{path}.docker.port_mappings"),
            )
        }
        Some(other) => {
            if info.is_some() {
                return Err(SpecError::field(
                    format!("{path}.network_infos"),
                    format!(
                        "set with docker network {}; it is used only with USER",
                        other.as_str()
                    ),
                ));
            }
            let mode = match other {
                DockerNetwork::Bridge => NetworkMode::Cni(BRIDGE_NETWORK.to_string()),
                DockerNetwork::None => NetworkMode::None,
                _ => NetworkMode::Host,
            };
            (mode, docker_ports, format!("{path}.docker.port_mappings"))
        }
    };
    if !ports.is_empty() && !matches!(mode, NetworkMode::Cni(_)) {
        return Err(SpecError::field(
            ports_path,
            "port mappings need a container network (host and none networking have nothing to map)",
        ));
    }
    push_ports(cfg, ports, &ports_path, None)?;
    for (name, ports, at) in extra {
        push_ports(cfg, ports, &at, Some(&name))?;
        cfg.network.extra_networks.push(name);
    }
    cfg.network.mode = mode;
    Ok(())
}

/// A NetworkInfo's port mappings, on network `on` (None: the first).
fn push_ports(
    cfg: &mut ContainerConfig,
    ports: Vec<MesosPort>,
    ports_path: &str,
    on: Option<&str>,
) -> Result<()> {
    for (i, p) in ports.into_iter().enumerate() {
        let at = format!("{ports_path}[{i}]");
        let port = |v: crate::spec::proto::PInt, what: &str| -> Result<u16> {
            v.to("a port")
                .map_err(|e| SpecError::field(format!("{at}.{what}"), e))
        };
        let host_port = port(p.host_port, "host_port")?;
        let container_port = port(p.container_port, "container_port")?;
        for protocol in protocols(p.protocol.as_deref(), &format!("{at}.protocol"))? {
            cfg.network.port_mappings.push(PortMapping {
                host_port,
                container_port,
                protocol,
                name: None,
                networks: on.map(|n| vec![n.to_string()]).unwrap_or_default(),
            });
        }
    }
    Ok(())
}

/// A port mapping's protocol: `tcp` (the default), `udp`, or both comma-separated (Marathon's `udp,tcp`), which
/// becomes one mapping per protocol as Marathon does when it builds the Mesos mappings.
pub fn protocols(p: Option<&str>, path: &str) -> Result<Vec<String>> {
    let p = p.unwrap_or("tcp");
    p.split(',')
        .map(|one| match one.to_ascii_lowercase().as_str() {
            "tcp" => Ok("tcp".to_string()),
            "udp" => Ok("udp".to_string()),
            _ => Err(SpecError::field(
                path,
                format!("{p:?}: expected tcp, udp or udp,tcp"),
            )),
        })
        .collect()
}

fn apply_linux(cfg: &mut ContainerConfig, linux: LinuxInfo, path: &str) -> Result<()> {
    let names = |c: super::container::CapabilityInfo| {
        c.capabilities
            .iter()
            .map(|c| c.as_str().to_string())
            .collect::<Vec<_>>()
    };
    match (linux.capability_info, linux.effective_capabilities) {
        (Some(_), Some(_)) => {
            return Err(SpecError::field(
                format!("{path}.capability_info"),
                "deprecated alias of effective_capabilities; give only one",
            ))
        }
        (Some(c), None) | (None, Some(c)) => cfg.linux.effective_capabilities = Some(names(c)),
        (None, None) => {}
    }
    if let Some(c) = linux.bounding_capabilities {
        cfg.linux.bounding_capabilities = Some(names(c));
    }
    cfg.linux.share_pid_namespace = linux.share_pid_namespace.unwrap_or(false);
    cfg.linux.share_cgroups = linux.share_cgroups;
    if let Some(s) = linux.seccomp {
        cfg.linux.seccomp = match (s.unconfined.unwrap_or(false), s.profile_name) {
            (true, Some(_)) => {
                return Err(SpecError::field(
                    format!("{path}.seccomp"),
                    "unconfined and profile_name both set; give one",
                ))
            }
            (true, None) => Some("unconfined".to_string()),
            (false, name) => name,
        };
    }
    let ipc = match linux.ipc_mode {
        Some(IpcMode::Unknown) => {
            return Err(SpecError::field(
                format!("{path}.ipc_mode"),
                "expected PRIVATE or SHARE_PARENT",
            ))
        }
        other => other,
    };
    cfg.linux.ipc_mode = ipc.map(|m| m.as_str().to_string());
    if let Some(size) = linux.shm_size {
        // Mesos: /dev/shm is sized only for a container with its own IPC namespace.
        if ipc != Some(IpcMode::Private) {
            return Err(SpecError::field(
                format!("{path}.shm_size"),
                "only allowed with ipc_mode PRIVATE",
            ));
        }
        let mb: u64 = size
            .to("shm_size")
            .map_err(|e| SpecError::field(format!("{path}.shm_size"), e))?;
        cfg.linux.shm_size = Some(mb);
    }
    Ok(())
}

fn rlimits(info: RLimitInfo, path: &str) -> Result<Vec<Rlimit>> {
    let mut out: Vec<Rlimit> = Vec::new();
    for (i, r) in info.rlimits.into_iter().enumerate() {
        let at = format!("{path}.rlimits[{i}]");
        let kind = match r.kind {
            None | Some(RLimitType::Unknown) => {
                return Err(SpecError::field(
                    format!("{at}.type"),
                    "missing (e.g. RLMT_NOFILE)",
                ))
            }
            Some(k) => k.as_str(),
        };
        if out.iter().any(|o| o.kind == kind) {
            return Err(SpecError::field(
                format!("{at}.type"),
                format!("{kind} given twice"),
            ));
        }
        let value = |v: crate::spec::proto::PInt, what: &str| -> Result<u64> {
            v.to(what)
                .map_err(|e| SpecError::field(format!("{at}.{what}"), e))
        };
        // Mesos: both set, or neither (= unlimited).
        let (soft, hard) = match (r.soft, r.hard) {
            (Some(s), Some(h)) => (Some(value(s, "soft")?), Some(value(h, "hard")?)),
            (None, None) => (None, None),
            _ => {
                return Err(SpecError::field(
                    at,
                    "soft and hard must both be set, or neither (unlimited)",
                ))
            }
        };
        if let (Some(s), Some(h)) = (soft, hard) {
            if s > h {
                return Err(SpecError::field(
                    format!("{at}.soft"),
                    format!("{s} is above the hard limit {h}"),
                ));
            }
        }
        out.push(Rlimit {
            kind: kind.to_string(),
            soft,
            hard,
        });
    }
    Ok(out)
}
