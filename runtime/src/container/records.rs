//! Reading the containers' checkpoints from any process: one container's state and config, whether an id is
//! taken, and every container.

use super::checkpoint::read_json;
use super::error::{ContainerError, Result};
use super::paths::Paths;
use super::state::ContainerState;
use crate::spec::ContainerConfig;

pub fn load(paths: &Paths, id: &str) -> Result<ContainerState> {
    read_json(&paths.state_file(id))?.ok_or_else(|| ContainerError::NotFound(id.to_string()))
}

/// The config a container was launched with (as `update` last changed it); None if it has none recorded.
pub fn config(paths: &Paths, id: &str) -> Result<Option<ContainerConfig>> {
    read_json(&paths.config_file(id))
}

pub fn exists(paths: &Paths, id: &str) -> bool {
    !id.is_empty() && !id.contains('/') && paths.runtime(id).is_dir()
}

/// Every container with a readable checkpoint, oldest first.
pub fn list(paths: &Paths) -> Result<Vec<ContainerState>> {
    let dir = paths.containers();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ContainerError::io(&dir, e)),
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if let Ok(Some(st)) = read_json::<ContainerState>(&paths.state_file(&id)) {
            out.push(st);
        }
    }
    out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    Ok(out)
}
