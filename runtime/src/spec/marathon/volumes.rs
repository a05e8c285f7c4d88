//! `container.volumes[]` of a Marathon app: host volumes (`hostPath`; a relative one is in the sandbox, which is
//! how Marathon re-mounts a persistent volume at an absolute path) and local persistent volumes, which on one
//! node are directories that outlive the task (see `crate::volumes`). External (DVDI/CSI) volumes are a cluster
//! storage service's, refused by name. A secret volume is a read-only file holding the secret's value.

use super::types::{AppVolume, PersistentInfo, ReadMode};
use crate::spec::config::{PersistentVolume, Volume, VolumeMode, VolumeSource};
use crate::spec::error::{Result, SpecError};

pub(super) fn volume(v: &AppVolume, at: &str) -> Result<Volume> {
    let kind = if v.external.is_some() {
        Some("external")
    } else {
        None
    };
    if let Some(kind) = kind {
        return Err(SpecError::field(
            at,
            format!("{kind} volumes are not supported (ucr supports hostPath volumes)"),
        ));
    }
    if v.container_path.is_empty() {
        return Err(SpecError::field(format!("{at}.containerPath"), "empty"));
    }
    let host = v
        .host_path
        .clone()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| SpecError::field(format!("{at}.hostPath"), "missing"))?;
    let mode = mode(v, at)?;
    // Marathon passes hostPath as Mesos' legacy `host_path`, where a relative path is in the sandbox.
    let source = if host.starts_with('/') {
        VolumeSource::HostPath { path: host }
    } else {
        VolumeSource::SandboxSelf { path: host }
    };
    Ok(Volume {
        container_path: v.container_path.clone(),
        mode,
        source,
    })
}

fn mode(v: &AppVolume, at: &str) -> Result<VolumeMode> {
    match v.mode {
        Some(ReadMode::Ro) => Ok(VolumeMode::Ro),
        Some(ReadMode::Rw) => Ok(VolumeMode::Rw),
        None => Err(SpecError::field(format!("{at}.mode"), "missing (RO or RW)")),
    }
}

/// A persistent volume of the app whose container id is `app`: `apps/<app>/<containerPath>`, so the next launch
/// of the same app finds it. Its `type` (root, path, mount) asks Marathon for a kind of disk to reserve; on one
/// node every kind is a directory under the work dir, its `size` a quota where the filesystem has them.
pub(super) fn persistent(
    v: &AppVolume,
    p: &PersistentInfo,
    app: &str,
    at: &str,
) -> Result<PersistentVolume> {
    // Marathon: "containerPath must be a single-level relative path" for persistent volumes.
    let path = v.container_path.as_str();
    if path.is_empty() || path.contains('/') || path == "." || path == ".." {
        return Err(SpecError::field(
            format!("{at}.containerPath"),
            format!("{path:?}: a persistent volume's path is one relative name (e.g. \"data\")"),
        ));
    }
    if v.host_path.is_some() {
        return Err(SpecError::field(
            format!("{at}.hostPath"),
            "a persistent volume has no hostPath (mount it elsewhere with a second volume whose hostPath names it)",
        ));
    }
    if p.size == 0 {
        return Err(SpecError::field(
            format!("{at}.persistent.size"),
            "must be at least 1 (MiB)",
        ));
    }
    Ok(PersistentVolume {
        name: format!("apps/{app}/{path}"),
        container_path: path.to_string(),
        mode: mode(v, at)?,
        size_mb: Some(p.size),
    })
}

/// Where a secret volume's file appears: absolute, or relative to the sandbox; never `..`.
pub(super) fn secret_path(v: &AppVolume, at: &str) -> Result<String> {
    let p = v.container_path.as_str();
    if p.is_empty() || p.split('/').any(|c| c == "..") || p.ends_with('/') {
        return Err(SpecError::field(
            format!("{at}.containerPath"),
            format!("{p:?}: a secret volume is a file path without '..'"),
        ));
    }
    if v.host_path.is_some() || v.external.is_some() {
        return Err(SpecError::field(
            at,
            "a secret volume has only containerPath and secret",
        ));
    }
    Ok(p.to_string())
}
