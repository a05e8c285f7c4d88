//! Where a container's secret values live while it runs: files under `<runtime>/containers/<id>/secrets/` (a
//! tmpfs in a normal install, as Mesos keeps secrets on a tmpfs), each created 0400 and never readable by anyone
//! else, removed at teardown (`container::teardown`). Secret volumes are such files bound into the container;
//! secret env values are one such file (`env`) that the supervisor adds to the task's environment, so the OCI
//! bundle, the checkpoints and `inspect` carry the names only.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use crate::container::error::{ContainerError, Result};
use crate::container::paths::Paths;
use crate::spec::ContainerConfig;

/// The file holding the secret env values (`NAME=VALUE` lines).
const ENV_FILE: &str = "env";

/// Write one secret file `name` for container `id`, owned by `uid`/`gid`; returns its path.
pub fn write(
    paths: &Paths,
    id: &str,
    name: &str,
    value: &str,
    uid: u32,
    gid: u32,
) -> Result<PathBuf> {
    let dir = paths.secrets_dir(id);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| ContainerError::io(&dir, e))?;
    let file = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o400)
        .open(&file)
        .map_err(|e| ContainerError::io(&file, e))?;
    f.write_all(value.as_bytes())
        .map_err(|e| ContainerError::io(&file, e))?;
    std::os::unix::fs::chown(&file, Some(uid), Some(gid))
        .map_err(|e| ContainerError::io(&file, e))?;
    Ok(file)
}

/// The secret env values of `cfg` (those the request's own env does not override), for the supervisor; root's.
pub fn write_env(paths: &Paths, cfg: &ContainerConfig) -> Result<()> {
    let lines: Vec<String> = cfg
        .task_secret_env()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if lines.is_empty() {
        return Ok(());
    }
    write(paths, &cfg.id, ENV_FILE, &(lines.join("\n") + "\n"), 0, 0).map(drop)
}

/// What the supervisor adds to the task's environment (empty when there are no secret env values).
pub fn read_env(paths: &Paths, id: &str) -> Result<Vec<String>> {
    let file = paths.secrets_dir(id).join(ENV_FILE);
    match std::fs::read_to_string(&file) {
        Ok(s) => Ok(s.lines().map(str::to_string).collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(ContainerError::io(&file, e)),
    }
}
