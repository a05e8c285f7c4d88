//! Persistent volumes seen from containers: attached at launch (each becomes a bind of its directory, and a
//! relative `hostPath` volume naming one mounts that same directory again, as Marathon's re-mount of a
//! persistent volume at an absolute path does), listed with the containers using them, and removed only when
//! no container that has not exited uses one. Secret volumes are files written here too, beside the container's
//! checkpoint (the runtime dir, a tmpfs in a normal install), and removed at its teardown.

use std::path::Path;

use crate::container::error::{ContainerError, Result};
use crate::container::paths::Paths;
use crate::container::state::State;
use crate::spec::{ContainerConfig, Volume, VolumeMode, VolumeSource};
use crate::volumes::{VolumeRecord, Volumes};

/// The container's volumes with its persistent ones attached and its secret files written (owned by the task's
/// `uid`/`gid`, readable by it alone), and the persistent volumes' records.
pub fn attach(
    paths: &Paths,
    cfg: &ContainerConfig,
    uid: u32,
    gid: u32,
) -> Result<(Vec<Volume>, Vec<VolumeRecord>)> {
    let store = Volumes::new(paths.volumes());
    let mut records = Vec::new();
    for p in &cfg.persistent_volumes {
        records.push(store.attach(&p.name, p.size_mb)?);
    }
    let named = |path: &str| {
        let clean = |s: &str| s.trim_start_matches("./").trim_end_matches('/').to_string();
        cfg.persistent_volumes
            .iter()
            .zip(&records)
            .find(|(p, _)| clean(&p.container_path) == clean(path))
            .map(|(_, r)| r.path.to_string_lossy().into_owned())
    };
    let mut volumes: Vec<Volume> = cfg
        .persistent_volumes
        .iter()
        .zip(&records)
        .map(|(p, r)| Volume {
            container_path: p.container_path.clone(),
            mode: p.mode,
            source: VolumeSource::HostPath {
                path: r.path.to_string_lossy().into_owned(),
            },
        })
        .collect();
    for v in &cfg.volumes {
        let mut v = v.clone();
        if let VolumeSource::SandboxSelf { path } = &v.source {
            if let Some(dir) = named(path) {
                v.source = VolumeSource::HostPath { path: dir };
            }
        }
        volumes.push(v);
    }
    for (i, (at, value)) in cfg.secret_volumes.iter().enumerate() {
        let file = super::secrets::write(paths, &cfg.id, &i.to_string(), value.expose(), uid, gid)?;
        volumes.push(Volume {
            container_path: at.clone(),
            mode: VolumeMode::Ro,
            source: VolumeSource::HostPath {
                path: file.to_string_lossy().into_owned(),
            },
        });
    }
    Ok((volumes, records))
}

/// Every volume with the ids of the containers (exited or not) that name it.
pub fn list(paths: &Paths) -> Result<Vec<(VolumeRecord, Vec<String>)>> {
    let users = users(paths)?;
    Ok(Volumes::new(paths.volumes())
        .list()?
        .into_iter()
        .map(|r| {
            let by = users
                .iter()
                .filter(|(_, names, _)| names.contains(&r.name))
                .map(|(id, _, _)| id.clone())
                .collect();
            (r, by)
        })
        .collect())
}

/// Remove a volume and its data, unless a container that has not exited uses it.
pub fn remove(paths: &Paths, name: &str) -> Result<()> {
    let live: Vec<String> = users(paths)?
        .into_iter()
        .filter(|(_, names, live)| *live && names.iter().any(|n| n == name))
        .map(|(id, _, _)| id)
        .collect();
    if !live.is_empty() {
        return Err(ContainerError::Volume {
            name: name.to_string(),
            why: format!("in use by {}", live.join(", ")),
        });
    }
    Volumes::new(paths.volumes()).remove(name)
}

/// (container id, the volume names it uses, whether it has not exited) for every container.
fn users(paths: &Paths) -> Result<Vec<(String, Vec<String>, bool)>> {
    let mut out = Vec::new();
    for (_, st) in crate::container::records::tree(paths)? {
        let id = st.id;
        let cfg = config_of(&paths.config_file(&id));
        let names: Vec<String> = cfg
            .map(|c| c.persistent_volumes.into_iter().map(|p| p.name).collect())
            .unwrap_or_default();
        if names.is_empty() {
            continue;
        }
        let live = st.state != State::Exited;
        out.push((id, names, live));
    }
    Ok(out)
}

fn config_of(file: &Path) -> Option<ContainerConfig> {
    crate::container::checkpoint::read_json(file).ok().flatten()
}
