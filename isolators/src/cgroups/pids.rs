//! `cgroups/pids`: `pids.max` from a `pids` resource, else `--default-pids-limit`, so a fork bomb stays capped
//! (fork and clone fail with EAGAIN at the limit). Also counts the container's processes and threads for
//! `usage` (Mesos's `processes`, `threads`).

use oci_spec::runtime::LinuxPids;

use super::{stats, Controller, Hierarchy, Tree};
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};
use crate::stats::ResourceStatistics;

const NAME: &str = "cgroups/pids";

/// `cgroups/pids`'s settings.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PidsConfig {
    /// `--default_pids_limit`: `pids.max` for containers that ask for no `pids` resource.
    #[serde(default)]
    pub default_limit: Option<u64>,
}

pub struct Pids {
    default_limit: Option<u64>,
    tree: Tree,
}

impl Pids {
    pub fn new(config: &PidsConfig) -> Self {
        Self::with_tree(config, Tree::Host)
    }

    pub fn with_tree(config: &PidsConfig, tree: Tree) -> Self {
        Pids {
            default_limit: config.default_limit,
            tree,
        }
    }

    pub fn limit(&self, requested: Option<u64>) -> Result<Option<LinuxPids>> {
        let Some(n) = requested.or(self.default_limit) else {
            return Ok(None);
        };
        // 0 would mean "no limit" to libcgroups on v1 and 1 on v2; neither is what a user asking for 0 wants.
        if n == 0 || n > i64::MAX as u64 {
            return Err(IsolatorError::invalid(
                NAME,
                format!("pids must be between 1 and {}, not {n}", i64::MAX),
            ));
        }
        let mut p = LinuxPids::default();
        p.set_limit(n as i64);
        Ok(Some(p))
    }
}

/// Lines of a cgroup's `cgroup.procs`: its processes (v1 `tasks` and v2 `pids.current` count threads).
fn processes(h: &dyn Hierarchy, c: &Container<'_>) -> Result<u32> {
    let procs = h.read(Controller::Pids, c.cgroup, "cgroup.procs")?;
    Ok(procs.lines().filter(|l| !l.trim().is_empty()).count() as u32)
}

impl Isolator for Pids {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, _c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        Ok(Contribution {
            pids: self.limit(r.resources.pids)?,
            ..Default::default()
        })
    }

    fn usage(&self, c: &Container<'_>, out: &mut ResourceStatistics) -> Result<()> {
        let h = self.tree.get()?;
        let s = stats(&*h, NAME, c.cgroup)?;
        out.threads = Some(s.pids.current.min(u32::MAX as u64) as u32);
        out.processes = Some(processes(&*h, c)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::super::fake::{container, put, Req};
    use super::super::V2;
    use super::*;
    use crate::vocab::Resources;

    #[test]
    fn requested_then_default_then_none() {
        let config = PidsConfig {
            default_limit: Some(1000),
        };
        let p = Pids::new(&config);
        assert_eq!(
            p.limit(Some(64)).ok().flatten().map(|l| l.limit()),
            Some(64)
        );
        assert_eq!(p.limit(None).ok().flatten().map(|l| l.limit()), Some(1000));
        assert!(Pids::new(&PidsConfig::default())
            .limit(None)
            .ok()
            .flatten()
            .is_none());
        let e = p
            .limit(Some(0))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("cgroups/pids: pids must be between 1"), "{e}");
        let r = Req {
            resources: Resources {
                pids: Some(64),
                ..Default::default()
            },
            ..Default::default()
        };
        let t = tempfile::tempdir().expect("tmp");
        let c = p
            .prepare(&container(t.path()), &r.request())
            .expect("prepare");
        assert_eq!(c.pids.map(|p| p.limit()), Some(64));
    }

    #[test]
    fn usage_counts_processes_and_threads() {
        let t = tempfile::tempdir().expect("tmp");
        let dir = t.path().join("ucr/c");
        put(
            &dir,
            &[
                ("pids.current", "7\n"),
                ("pids.max", "64\n"),
                ("cgroup.procs", "10\n11\n12\n"),
            ],
        );
        let h: Arc<dyn Hierarchy> = Arc::new(V2::at(t.path()));
        let state = t.path().join("state");
        let c = container(&state);
        assert_eq!(processes(&*h, &c).ok(), Some(3));
        assert_eq!(
            h.read_u64(Controller::Pids, Path::new("/ucr/c"), "pids.max")
                .ok(),
            Some(Some(64))
        );
    }
}
