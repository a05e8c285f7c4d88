//! `cgroups/mem`: a hard limit from `limits.mem` (or `mem`), a soft limit (reservation) of `mem`, no swap, and
//! the OOM watch (`oom.rs`) that turns a kill by the memory cgroup into `REASON_CONTAINER_LIMITATION_MEMORY`.
//!
//! Like Mesos, the hard limit is at least 32 MB. Swap is off by default: v1 `memory.memsw.limit_in_bytes` equals
//! the limit when the kernel accounts swap (the file exists), v2 `memory.swap.max` is 0 (OCI swap = limit, which
//! libcgroups turns into swap.max = swap - limit). Soft limit: v1 `memory.soft_limit_in_bytes`, v2 `memory.low`.

use std::os::fd::OwnedFd;
use std::path::Path;

use oci_spec::runtime::{LinuxMemory, LinuxResources};

use super::{apply, oom, stats, Controller, Hierarchy, Tree, Version};
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};
use crate::stats::{Limitation, ResourceStatistics};
use crate::vocab::{Limits, Resources};

const NAME: &str = "cgroups/mem";
pub const MB: u64 = 1 << 20;
/// Mesos's `MIN_MEMORY`: below this a task rarely even starts.
pub const MIN_MEMORY_MB: f64 = 32.0;

#[derive(Default)]
pub struct Mem {
    tree: Tree,
}

impl Mem {
    pub fn new() -> Self {
        Self::with_tree(Tree::Host)
    }

    pub fn with_tree(tree: Tree) -> Self {
        Mem { tree }
    }
}

fn valid(v: Option<f64>, what: &str) -> Result<Option<f64>> {
    match v {
        Some(x) if !x.is_finite() || x <= 0.0 => Err(IsolatorError::invalid(
            NAME,
            format!("{what} must be a positive number of MB, not {x}"),
        )),
        other => Ok(other),
    }
}

/// The OCI memory resources for a request; None when it asks for no memory. A `limits.mem` of infinity (Mesos's
/// "no limit") leaves the hard limit (and swap) unlimited and keeps the soft limit.
pub fn linux_memory(
    resources: &Resources,
    limits: &Limits,
    swap_accounted: bool,
) -> Result<Option<LinuxMemory>> {
    let mem = valid(resources.mem_mb, "mem")?;
    let limit = if limits.mem_mb == Some(f64::INFINITY) {
        -1
    } else {
        let Some(hard_mb) = valid(limits.mem_mb, "limits.mem")?.or(mem) else {
            return Ok(None);
        };
        (hard_mb.max(MIN_MEMORY_MB) * MB as f64) as i64
    };
    let mut m = LinuxMemory::default();
    m.set_limit(Some(limit));
    if let Some(soft) = mem {
        let soft = (soft * MB as f64) as i64;
        m.set_reservation(Some(if limit < 0 { soft } else { soft.min(limit) }));
    }
    if swap_accounted {
        m.set_swap(Some(limit));
    }
    Ok(Some(m))
}

/// Whether the kernel accounts swap per cgroup (else there is no swap limit to set).
fn swap_accounted(h: &dyn Hierarchy, cgroup: &Path) -> Result<bool> {
    match h.version() {
        Version::V1 => Ok(h.exists(
            Controller::Memory,
            Path::new("/"),
            "memory.memsw.limit_in_bytes",
        )),
        Version::V2 => {
            // The root cgroup has no memory.* files: look at the container's parent (`/ucr`), made now if this
            // is the first container (runc would make it the same way), with memory enabled for it.
            let Some(parent) = cgroup.parent().filter(|p| p.parent().is_some()) else {
                return Ok(false);
            };
            let dir = h.dir(Controller::Memory, parent)?;
            if !dir.exists() {
                let _ = h.write(
                    Controller::Memory,
                    Path::new("/"),
                    "cgroup.subtree_control",
                    "+memory",
                );
                if let Err(e) = std::fs::create_dir_all(&dir) {
                    return Err(IsolatorError::io(dir, e));
                }
            }
            Ok(dir.join("memory.swap.max").exists())
        }
    }
}

/// v2: `memory.swap.max` 0 under a hard limit. libcgroups 0.7 turns OCI swap = limit into swap.max = 0 and
/// then skips writing it (it reads 0 as "not set"), so the launch and `update` leave swap unlimited; this
/// writes it. A cgroup without a hard limit, or a kernel without swap accounting, keeps its swap.
fn no_swap_v2(h: &dyn Hierarchy, cgroup: &Path) -> Result<()> {
    if h.version() != Version::V2 || !h.exists(Controller::Memory, cgroup, "memory.swap.max") {
        return Ok(());
    }
    match h.read_u64(Controller::Memory, cgroup, "memory.max")? {
        Some(_) => h.write(Controller::Memory, cgroup, "memory.swap.max", "0"),
        None => Ok(()),
    }
}

impl Isolator for Mem {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        if r.resources.mem_mb.is_none() && r.limits.mem_mb.is_none() {
            return Ok(Contribution::default());
        }
        let h = self.tree.get()?;
        Ok(Contribution {
            memory: linux_memory(r.resources, r.limits, swap_accounted(&*h, c.cgroup)?)?,
            ..Default::default()
        })
    }

    fn isolate(&self, c: &Container<'_>, _pid: i32) -> Result<()> {
        let h = self.tree.get()?;
        no_swap_v2(&*h, c.cgroup)?;
        oom::arm_early(&*h, c.cgroup)
    }

    fn watch_fd(&self, c: &Container<'_>) -> Result<Option<OwnedFd>> {
        let h = self.tree.get()?;
        oom::watch_fd(&*h, c.cgroup).map(Some)
    }

    fn watch(&self, c: &Container<'_>, _exited: bool) -> Option<Limitation> {
        let h = match self.tree.get() {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "memory watch");
                return None;
            }
        };
        oom::limitation(&*h, c.cgroup)
    }

    fn update(&self, c: &Container<'_>, resources: &Resources, limits: &Limits) -> Result<()> {
        let h = self.tree.get()?;
        let Some(m) = linux_memory(resources, limits, swap_accounted(&*h, c.cgroup)?)? else {
            return Ok(());
        };
        let mut res = LinuxResources::default();
        res.set_memory(Some(m));
        apply(&*h, NAME, c.cgroup, &res)?;
        no_swap_v2(&*h, c.cgroup)
    }

    fn usage(&self, c: &Container<'_>, out: &mut ResourceStatistics) -> Result<()> {
        let h = self.tree.get()?;
        let s = stats(&*h, NAME, c.cgroup)?;
        let m = &s.memory;
        let stat = |k: &str| m.stats.get(k).copied();
        let sum = |a: &str, b: &str| Some(stat(a)? + stat(b)?);
        let limited = |v: u64| (v < 1 << 62).then_some(v);
        out.mem_total_bytes = Some(m.memory.usage);
        out.mem_limit_bytes = limited(m.memory.limit);
        match h.version() {
            // v1 `total_*` count the whole subtree, as Mesos reads them.
            Version::V1 => {
                out.mem_rss_bytes = stat("total_rss");
                out.mem_cache_bytes = stat("total_cache");
                out.mem_mapped_file_bytes = stat("total_mapped_file");
                out.mem_swap_bytes = stat("total_swap");
                out.mem_anon_bytes = sum("total_active_anon", "total_inactive_anon");
                out.mem_file_bytes = sum("total_active_file", "total_inactive_file");
                out.mem_total_memsw_bytes = (m.memswap.usage > 0).then_some(m.memswap.usage);
                out.mem_soft_limit_bytes =
                    h.read_u64(Controller::Memory, c.cgroup, "memory.soft_limit_in_bytes")?;
            }
            Version::V2 => {
                out.mem_rss_bytes = stat("anon");
                out.mem_cache_bytes = stat("file");
                out.mem_mapped_file_bytes = stat("file_mapped");
                out.mem_anon_bytes = stat("anon");
                out.mem_file_bytes = stat("file");
                out.mem_swap_bytes = Some(m.memswap.usage);
                out.mem_soft_limit_bytes = h
                    .read_u64(Controller::Memory, c.cgroup, "memory.low")?
                    .filter(|v| *v > 0);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::fake::{container, put, Req};
    use super::super::{V1, V2};
    use super::*;

    fn req(mem: Option<f64>, limit: Option<f64>) -> Req {
        Req {
            resources: Resources {
                mem_mb: mem,
                ..Default::default()
            },
            limits: Limits {
                mem_mb: limit,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn limits_reservation_and_swap() {
        let r = req(Some(64.0), None);
        let m = linux_memory(&r.resources, &r.limits, true)
            .ok()
            .flatten()
            .expect("mem");
        assert_eq!(
            (m.limit(), m.reservation(), m.swap()),
            (Some(64 << 20), Some(64 << 20), Some(64 << 20))
        );
        let r = req(Some(64.0), Some(128.0));
        let m = linux_memory(&r.resources, &r.limits, false)
            .ok()
            .flatten()
            .expect("mem");
        assert_eq!(
            (m.limit(), m.reservation(), m.swap()),
            (Some(128 << 20), Some(64 << 20), None)
        );
        // Mesos's floor of 32 MB; the reservation never exceeds the limit.
        let r = req(Some(8.0), None);
        let m = linux_memory(&r.resources, &r.limits, false)
            .ok()
            .flatten()
            .expect("mem");
        assert_eq!(
            (m.limit(), m.reservation()),
            (Some(32 << 20), Some(8 << 20))
        );
        let r = req(None, None);
        assert!(linux_memory(&r.resources, &r.limits, true)
            .ok()
            .flatten()
            .is_none());
        let r = req(Some(64.0), Some(f64::INFINITY));
        let m = linux_memory(&r.resources, &r.limits, true)
            .ok()
            .flatten()
            .expect("mem");
        assert_eq!(
            (m.limit(), m.reservation(), m.swap()),
            (Some(-1), Some(64 << 20), Some(-1))
        );
        let r = req(Some(f64::NAN), None);
        assert!(linux_memory(&r.resources, &r.limits, true).is_err());
    }

    #[test]
    fn swap_accounting_is_probed_per_version() {
        let t = tempfile::tempdir().expect("tmp");
        let state = t.path().join("state");
        let v1 = Mem::with_tree(Tree::Given(Arc::new(V1::at(t.path()))));
        let r = req(Some(64.0), None);
        put(
            &t.path().join("memory"),
            &[("memory.limit_in_bytes", "max")],
        );
        let m = v1
            .prepare(&container(&state), &r.request())
            .expect("prepare")
            .memory;
        assert_eq!(m.and_then(|m| m.swap()), None);
        put(
            &t.path().join("memory"),
            &[("memory.memsw.limit_in_bytes", "max")],
        );
        let m = v1
            .prepare(&container(&state), &r.request())
            .expect("prepare")
            .memory;
        assert_eq!(m.and_then(|m| m.swap()), Some(64 << 20));

        let root = t.path().join("v2");
        put(&root, &[("cgroup.subtree_control", "")]);
        let v2 = Mem::with_tree(Tree::Given(Arc::new(V2::at(&root))));
        let m = v2
            .prepare(&container(&state), &r.request())
            .expect("prepare")
            .memory;
        assert_eq!(m.and_then(|m| m.swap()), None);
        assert!(
            root.join("ucr").is_dir(),
            "the parent is made for the probe"
        );
        put(&root.join("ucr"), &[("memory.swap.max", "max")]);
        let m = v2
            .prepare(&container(&state), &r.request())
            .expect("prepare")
            .memory;
        assert_eq!(m.and_then(|m| m.swap()), Some(64 << 20));
        let none = v2.prepare(&container(&state), &req(None, None).request());
        assert!(none.expect("prepare").memory.is_none());

        // After the placement wrote the limit, isolate closes swap itself (see no_swap_v2).
        let cg = root.join("ucr/c");
        put(
            &cg,
            &[
                ("memory.max", "67108864\n"),
                ("memory.swap.max", "max\n"),
                ("memory.events", ""),
            ],
        );
        no_swap_v2(&V2::at(&root), Path::new("/ucr/c")).expect("swap");
        assert_eq!(
            std::fs::read_to_string(cg.join("memory.swap.max"))
                .ok()
                .as_deref(),
            Some("0")
        );
        put(&cg, &[("memory.max", "max\n"), ("memory.swap.max", "max")]);
        no_swap_v2(&V2::at(&root), Path::new("/ucr/c")).expect("swap");
        assert_eq!(
            std::fs::read_to_string(cg.join("memory.swap.max"))
                .ok()
                .as_deref(),
            Some("max")
        );
    }
}
