//! Pull credentials fetched with the task, Marathon's documented way to use a private registry: a URI whose
//! file is `docker.tar.gz` (an archive of `.docker/config.json`) or `.dockercfg` is fetched into the sandbox
//! *before* the image is pulled, and the docker config it leaves there gives the pull its credentials. Mesos
//! honours these only in its Docker containerizer (by running `docker pull` with the sandbox as HOME); here they
//! work for both container types. The rest of the URIs are fetched at the usual step.
//!
//! The config is read through the confined resolver, so a symlink in the archive cannot make ucr read a host
//! file (the operator's own `~/.docker/config.json`) as the task's credentials.

use std::path::Path;

use ucr_registry::confined;

use super::{fetch_uris, file_name, FetchOptions};
use crate::container::error::{ContainerError, Result};
use crate::spec::UriSpec;

/// The files a credential URI leaves, in the order they are looked for (Docker's current file first).
const CONFIGS: [&str; 2] = [".docker/config.json", ".dockercfg"];

/// Largest docker config read.
const MAX_CONFIG: u64 = 1 << 20;

/// Whether `u` fetches docker credentials (`docker.tar.gz`, `docker.tgz` or `.dockercfg`).
pub fn is_credential_uri(u: &UriSpec) -> bool {
    file_name(u).is_ok_and(|n| matches!(n.as_str(), "docker.tar.gz" | "docker.tgz" | ".dockercfg"))
}

/// Fetch the credential URIs among `uris` into `sandbox` (made if missing); the docker config they gave and
/// which file it came from, None when there are none.
pub fn fetch_credentials(
    id: &str,
    uris: &[UriSpec],
    sandbox: &Path,
    opts: &FetchOptions,
) -> Result<Option<(String, &'static str)>> {
    let wanted: Vec<UriSpec> = uris
        .iter()
        .filter(|u| is_credential_uri(u))
        .cloned()
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    std::fs::create_dir_all(sandbox).map_err(|e| ContainerError::io(sandbox, e))?;
    fetch_uris(id, &wanted, sandbox, opts)?;
    for file in CONFIGS {
        let text = confined::read_text(sandbox, file, MAX_CONFIG)
            .map_err(|e| ContainerError::io(sandbox.join(file), e))?;
        if let Some(text) = text {
            return Ok(Some((text, file)));
        }
    }
    let names: Vec<&str> = wanted.iter().map(|u| u.value.as_str()).collect();
    Err(ContainerError::launch(
        id,
        "fetching",
        format!(
            "{} left neither {} nor {} in the sandbox",
            names.join(", "),
            CONFIGS[0],
            CONFIGS[1]
        ),
        125,
    ))
}
