//! `volume/host_path`: `HOST_PATH` volumes (and the legacy top-level `host_path` form, which the spec parser
//! turns into the same thing). The host path must be absolute; a missing one is created as a directory, as
//! Mesos does, so a task can be given a fresh data dir by name.

use std::path::{Component, Path};

use super::{bind, target};
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};
use crate::vocab::VolumeSource;

const NAME: &str = "volume/host_path";

pub struct HostPath;

impl Isolator for HostPath {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        let mut out = Contribution::default();
        for v in r.volumes {
            let VolumeSource::HostPath { path } = &v.source else {
                continue;
            };
            let host = Path::new(path);
            if !host.is_absolute() || host.components().any(|c| c == Component::ParentDir) {
                return Err(IsolatorError::invalid(
                    NAME,
                    format!(
                        "volume {}: host path {path:?} must be absolute without '..'",
                        v.container_path
                    ),
                ));
            }
            if !host.exists() {
                std::fs::create_dir_all(host).map_err(|e| IsolatorError::io(host, e))?;
            }
            out.mounts
                .push(bind(NAME, host, &target(NAME, c, v)?, v.mode)?);
        }
        Ok(out)
    }
}
