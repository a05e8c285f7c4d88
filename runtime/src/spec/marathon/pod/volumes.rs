//! A pod's `volumes` and each container's `volumeMounts` (Marathon `TaskGroupBuilder.computeContainerInfo`,
//! `PodsValidation`):
//! - ephemeral `{name}`: the directory `volumes/<name>` in the parent's sandbox, mounted into each container
//!   that names it (Mesos `SANDBOX_PATH` of type PARENT, as Marathon asks for it);
//! - host `{name, host}`: an absolute `host` is that host path; a relative one is "the relative path of the
//!   directory in the executor's sandbox" (pods.md), i.e. in the parent's sandbox;
//! - persistent `{name, persistent}`: a local persistent volume (see `crate::volumes`) named
//!   `apps/<pod container id>/<name>` — the pod's, as an app's are `apps/<app>/<path>` (Marathon keeps apps and
//!   pods in one id space) — attached to each container that mounts it, at its `mountPath`;
//! - secret `{name, secret}`: a read-only file holding the secret's value at each `mountPath`.
//!
//! `readOnly` (default false) is the mount's mode. Every volume must be mounted by some container and every
//! mount must name a volume, as Marathon validates.

use ucr_registry::secret::Secret;

use super::ctx::{check_name, first_duplicate, Ctx};
use super::types::{PodContainer, PodVolume};
use crate::spec::config::{PersistentVolume, Volume, VolumeMode, VolumeSource};
use crate::spec::error::{Result, SpecError};

/// Where Marathon puts ephemeral volumes in the executor's sandbox (`ephemeralVolumePathPrefix`).
const EPHEMERAL_PREFIX: &str = "volumes/";

/// What one container's `volumeMounts` become.
#[derive(Default)]
pub struct Mounts {
    pub volumes: Vec<Volume>,
    pub persistent: Vec<PersistentVolume>,
    pub secrets: Vec<(String, Secret)>,
}

/// Checks the pod's volumes; returns the names of its ephemeral ones, in the pod's order.
pub fn pod_volumes(ctx: &Ctx) -> Result<Vec<String>> {
    let vols = &ctx.pod.volumes;
    for (i, v) in vols.iter().enumerate() {
        let at = format!("volumes[{i}]");
        check_name(&v.name, &format!("{at}.name"))?;
        let kinds = [v.host.is_some(), v.persistent.is_some(), v.secret.is_some()];
        if kinds.iter().filter(|k| **k).count() > 1 {
            return Err(SpecError::field(
                at,
                "give one of host, persistent and secret (none: an ephemeral volume)",
            ));
        }
        let used = ctx
            .pod
            .containers
            .iter()
            .any(|c| c.volume_mounts.iter().any(|m| m.name == v.name));
        if !used {
            return Err(SpecError::field(
                format!("{at}.name"),
                format!("volume {:?} is mounted by no container", v.name),
            ));
        }
    }
    let names = vols
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.as_str(), format!("volumes[{i}].name")));
    if let Some((at, name)) = first_duplicate(names) {
        return Err(SpecError::field(
            at,
            format!("volume {name:?} is defined twice"),
        ));
    }
    Ok(vols
        .iter()
        .filter(|v| v.host.is_none() && v.persistent.is_none() && v.secret.is_none())
        .map(|v| v.name.clone())
        .collect())
}

/// Container `i`'s mounts.
pub fn mounts(ctx: &Ctx, c: &PodContainer, i: usize) -> Result<Mounts> {
    let mut out = Mounts::default();
    for (j, m) in c.volume_mounts.iter().enumerate() {
        let at = format!("containers[{i}].volumeMounts[{j}]");
        check_name(&m.name, &format!("{at}.name"))?;
        if m.mount_path.is_empty() || m.mount_path.len() > 1024 {
            return Err(SpecError::field(
                format!("{at}.mountPath"),
                "must be 1 to 1024 characters long",
            ));
        }
        let (vi, v) = ctx
            .pod
            .volumes
            .iter()
            .enumerate()
            .find(|(_, v)| v.name == m.name)
            .ok_or_else(|| {
                SpecError::field(
                    format!("{at}.name"),
                    format!("{:?} is not one of the pod's volumes", m.name),
                )
            })?;
        let mode = if m.read_only.unwrap_or(false) {
            VolumeMode::Ro
        } else {
            VolumeMode::Rw
        };
        mount(ctx, v, vi, &m.mount_path, mode, &at, &mut out)?;
    }
    Ok(out)
}

/// Pod volume `v` (the `vi`-th) mounted at `path` by the mount at JSON path `at`.
fn mount(
    ctx: &Ctx,
    v: &PodVolume,
    vi: usize,
    path: &str,
    mode: VolumeMode,
    at: &str,
    out: &mut Mounts,
) -> Result<()> {
    let vat = format!("volumes[{vi}]");
    if let Some(p) = &v.persistent {
        // Marathon's size is MiB, 0 allowed; ucr's quota needs at least one (as for apps).
        if p.size == 0 {
            return Err(SpecError::field(
                format!("{vat}.persistent.size"),
                "must be at least 1 (MiB)",
            ));
        }
        let name = format!("apps/{}/{}", ctx.id, v.name);
        crate::volumes::Volumes::check_name(&name)
            .map_err(|e| SpecError::field(format!("{vat}.name"), e.to_string()))?;
        out.persistent.push(PersistentVolume {
            name,
            container_path: path.to_string(),
            mode,
            size_mb: Some(p.size),
        });
    } else if let Some(secret) = &v.secret {
        if path.split('/').any(|c| c == "..") || path.ends_with('/') {
            return Err(SpecError::field(
                format!("{at}.mountPath"),
                format!("{path:?}: a secret volume is a file path without '..'"),
            ));
        }
        let value = ctx.secret(secret, &format!("{vat}.secret"))?;
        out.secrets.push((path.to_string(), value));
    } else {
        let source = match &v.host {
            None => VolumeSource::SandboxParent {
                path: format!("{EPHEMERAL_PREFIX}{}", v.name),
            },
            Some(h) if h.starts_with('/') => VolumeSource::HostPath { path: h.clone() },
            Some(h) => {
                if h.is_empty() || h.split('/').any(|c| c == "..") {
                    return Err(SpecError::field(
                        format!("{vat}.host"),
                        format!(
                            "{h:?}: an absolute path, or a path in the pod's sandbox without '..'"
                        ),
                    ));
                }
                VolumeSource::SandboxParent { path: h.clone() }
            }
        };
        out.volumes.push(Volume {
            container_path: path.to_string(),
            mode,
            source,
        });
    }
    Ok(())
}
