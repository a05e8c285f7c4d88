//! `cgroups/cpu`: CPU shares from `cpus` and a CFS quota from `limits.cpus` (or from `cpus` with
//! `--cgroups_enable_cfs`), as Mesos's cgroups cpu isolator sets them.
//!
//! v1: `cpu.shares` = 1024 per cpu (at least 2). v2: `cpu.weight` = 100 per cpu (1..=10000), linear like the v1
//! shares, so two containers' weights keep the ratio of their `cpus`. libcgroups 0.7 maps OCI shares to a weight
//! with runc's quadratic fit (1024 → 100 but 2048 → 173), so on v2 `isolate` overwrites the weight the placement
//! wrote with the linear one, before the task runs. The quota's period is 100 ms (cpu.cfs_* on v1, cpu.max on
//! v2).

use std::path::Path;

use oci_spec::runtime::{LinuxCpu, LinuxResources};

use super::{apply, stats, Controller, Hierarchy, Tree, Version};
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};
use crate::stats::ResourceStatistics;
use crate::vocab::{Limits, Resources};

const NAME: &str = "cgroups/cpu";
pub const SHARES_PER_CPU: f64 = 1024.0;
pub const MIN_SHARES: u64 = 2;
pub const WEIGHT_PER_CPU: f64 = 100.0;
pub const MAX_WEIGHT: u64 = 10_000;
pub const CFS_PERIOD_US: u64 = 100_000;
/// Mesos's floor: a smaller quota starves the task for most of every period.
pub const MIN_CFS_QUOTA_US: i64 = 1_000;
/// The weight `prepare` decided, kept for `isolate` (which gets no request).
const WEIGHT_FILE: &str = "cpu.weight";

/// `cgroups/cpu`'s settings.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CpuConfig {
    /// `--cgroups_enable_cfs`: a CFS quota from `cpus` when no `limits.cpus` is given.
    #[serde(default)]
    pub enable_cfs: bool,
}

pub struct Cpu {
    enable_cfs: bool,
    tree: Tree,
}

impl Cpu {
    pub fn new(config: &CpuConfig) -> Self {
        Self::with_tree(config, Tree::Host)
    }

    pub fn with_tree(config: &CpuConfig, tree: Tree) -> Self {
        Cpu {
            enable_cfs: config.enable_cfs,
            tree,
        }
    }

    /// The OCI cpu resources for a request; None when it asks for nothing. A `limits.cpus` of infinity (Mesos's
    /// "no limit") means no quota even with `--cgroups_enable_cfs`.
    pub fn linux_cpu(&self, resources: &Resources, limits: &Limits) -> Result<Option<LinuxCpu>> {
        let cpus = valid(resources.cpus, "cpus")?;
        let unlimited = limits.cpus == Some(f64::INFINITY);
        let limit = if unlimited {
            None
        } else {
            valid(limits.cpus, "limits.cpus")?
        };
        let mut cpu = LinuxCpu::default();
        if let Some(c) = cpus {
            cpu.set_shares(Some(shares(c)));
        }
        let quota_cpus = limit.or(if self.enable_cfs && !unlimited {
            cpus
        } else {
            None
        });
        match quota_cpus {
            Some(q) => {
                let us = ((q * CFS_PERIOD_US as f64) as i64).max(MIN_CFS_QUOTA_US);
                cpu.set_quota(Some(us)).set_period(Some(CFS_PERIOD_US));
            }
            // Explicitly unlimited, so an update that drops the limit lifts the quota.
            None if cpus.is_some() || unlimited => {
                cpu.set_quota(Some(-1)).set_period(Some(CFS_PERIOD_US));
            }
            None => {}
        }
        Ok((cpus.is_some() || quota_cpus.is_some() || unlimited).then_some(cpu))
    }
}

fn valid(v: Option<f64>, what: &str) -> Result<Option<f64>> {
    match v {
        Some(x) if !x.is_finite() || x <= 0.0 => Err(IsolatorError::invalid(
            NAME,
            format!("{what} must be a positive number, not {x}"),
        )),
        other => Ok(other),
    }
}

pub fn shares(cpus: f64) -> u64 {
    ((cpus * SHARES_PER_CPU) as u64).max(MIN_SHARES)
}

pub fn weight(cpus: f64) -> u64 {
    ((cpus * WEIGHT_PER_CPU).round() as u64).clamp(1, MAX_WEIGHT)
}

/// The CPUs a container may use: its quota if it has one, else its share of one CPU's worth.
fn cpus_limit(h: &dyn Hierarchy, cg: &Path) -> Result<f64> {
    let (quota, period) = match h.version() {
        Version::V1 => (
            h.read_u64(Controller::Cpu, cg, "cpu.cfs_quota_us")?,
            h.read_u64(Controller::Cpu, cg, "cpu.cfs_period_us")?,
        ),
        Version::V2 => {
            let max = h.read(Controller::Cpu, cg, "cpu.max")?;
            let mut it = max.split_whitespace();
            let q = it.next().and_then(|q| q.parse().ok());
            (q, it.next().and_then(|p| p.parse().ok()))
        }
    };
    if let (Some(q), Some(p)) = (quota, period) {
        if p > 0 {
            return Ok(q as f64 / p as f64);
        }
    }
    Ok(match h.version() {
        Version::V1 => {
            h.read_u64(Controller::Cpu, cg, "cpu.shares")?
                .unwrap_or(1024) as f64
                / SHARES_PER_CPU
        }
        Version::V2 => {
            h.read_u64(Controller::Cpu, cg, "cpu.weight")?
                .unwrap_or(100) as f64
                / WEIGHT_PER_CPU
        }
    })
}

impl Isolator for Cpu {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        let cpu = self.linux_cpu(r.resources, r.limits)?;
        if let Some(cpus) = r.resources.cpus {
            let dir = c.module_dir(NAME);
            std::fs::create_dir_all(&dir).map_err(|e| IsolatorError::io(&dir, e))?;
            let f = dir.join(WEIGHT_FILE);
            std::fs::write(&f, weight(cpus).to_string()).map_err(|e| IsolatorError::io(&f, e))?;
        }
        Ok(Contribution {
            cpu,
            ..Default::default()
        })
    }

    fn isolate(&self, c: &Container<'_>, _pid: i32) -> Result<()> {
        let h = self.tree.get()?;
        if h.version() != Version::V2 {
            return Ok(());
        }
        let f = c.module_dir(NAME).join(WEIGHT_FILE);
        let w = match std::fs::read_to_string(&f) {
            Ok(w) => w,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(IsolatorError::io(&f, e)),
        };
        h.write(Controller::Cpu, c.cgroup, "cpu.weight", w.trim())
    }

    fn update(&self, c: &Container<'_>, resources: &Resources, limits: &Limits) -> Result<()> {
        let h = self.tree.get()?;
        let Some(cpu) = self.linux_cpu(resources, limits)? else {
            return Ok(());
        };
        let mut res = LinuxResources::default();
        res.set_cpu(Some(cpu));
        apply(&*h, NAME, c.cgroup, &res)?;
        if let (Version::V2, Some(cpus)) = (h.version(), resources.cpus) {
            h.write(
                Controller::Cpu,
                c.cgroup,
                "cpu.weight",
                &weight(cpus).to_string(),
            )?;
        }
        Ok(())
    }

    fn usage(&self, c: &Container<'_>, out: &mut ResourceStatistics) -> Result<()> {
        let h = self.tree.get()?;
        let s = stats(&*h, NAME, c.cgroup)?;
        let (u, t) = (&s.cpu.usage, &s.cpu.throttling);
        // libcgroups passes the kernel's units through: v1 cpuacct.stat counts clock ticks and throttled_time
        // nanoseconds; v2 cpu.stat counts microseconds.
        let (time_unit, throttle_unit) = match h.version() {
            Version::V1 => (clock_ticks_per_sec(), 1e9),
            Version::V2 => (1e6, 1e6),
        };
        out.cpus_user_time_secs = Some(u.usage_user as f64 / time_unit);
        out.cpus_system_time_secs = Some(u.usage_kernel as f64 / time_unit);
        out.cpus_nr_periods = Some(t.periods.min(u32::MAX as u64) as u32);
        out.cpus_nr_throttled = Some(t.throttled_periods.min(u32::MAX as u64) as u32);
        out.cpus_throttled_time_secs = Some(t.throttled_time as f64 / throttle_unit);
        out.cpus_limit = Some(cpus_limit(&*h, c.cgroup)?);
        Ok(())
    }

    fn cleanup(&self, c: &Container<'_>) -> Result<()> {
        let dir = c.module_dir(NAME);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(IsolatorError::io(dir, e)),
            _ => Ok(()),
        }
    }
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no memory effects.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::fake::{container, get, put};
    use super::super::{V1, V2};
    use super::*;

    fn req(cpus: Option<f64>, limit: Option<f64>) -> (Resources, Limits) {
        (
            Resources {
                cpus,
                ..Default::default()
            },
            Limits {
                cpus: limit,
                ..Default::default()
            },
        )
    }

    #[test]
    fn shares_quota_and_weight_follow_mesos() {
        let cpu = Cpu::new(&CpuConfig::default());
        let (r, l) = req(Some(0.5), None);
        let c = cpu.linux_cpu(&r, &l).ok().flatten().expect("cpu");
        assert_eq!((c.shares(), c.quota()), (Some(512), Some(-1)));
        let (r, l) = req(Some(0.001), Some(1.5));
        let c = cpu.linux_cpu(&r, &l).ok().flatten().expect("cpu");
        assert_eq!(
            (c.shares(), c.quota(), c.period()),
            (Some(MIN_SHARES), Some(150_000), Some(100_000))
        );
        let cfs = Cpu::new(&CpuConfig { enable_cfs: true });
        let (r, l) = req(Some(0.005), None);
        let c = cfs.linux_cpu(&r, &l).ok().flatten().expect("cpu");
        assert_eq!(c.quota(), Some(MIN_CFS_QUOTA_US));
        let (r, l) = req(None, None);
        assert!(cpu.linux_cpu(&r, &l).ok().flatten().is_none());
        let (r, l) = req(Some(1.0), Some(f64::INFINITY));
        let c = cfs.linux_cpu(&r, &l).ok().flatten().expect("cpu");
        assert_eq!(
            (c.shares(), c.quota()),
            (Some(1024), Some(-1)),
            "infinity: no quota"
        );
        let (r, l) = req(Some(-1.0), None);
        let e = cpu.linux_cpu(&r, &l).err().map(|e| e.to_string());
        assert!(e.unwrap_or_default().contains("cpus must be a positive"));
        assert_eq!(
            (weight(1.0), weight(2.0), weight(0.001), weight(500.0)),
            (100, 200, 1, 10_000)
        );
    }

    #[test]
    fn v2_isolate_writes_the_linear_weight() {
        let t = tempfile::tempdir().expect("tmp");
        let cg = t.path().join("cg/ucr/c");
        put(&cg, &[("cpu.weight", "173")]);
        let state = t.path().join("state");
        let cpu = Cpu::with_tree(
            &CpuConfig::default(),
            Tree::Given(Arc::new(V2::at(&t.path().join("cg")))),
        );
        let (r, l) = req(Some(2.0), None);
        let hold = super::super::fake::Req {
            resources: r,
            limits: l,
            ..Default::default()
        };
        let contribution = cpu
            .prepare(&container(&state), &hold.request())
            .expect("prepare");
        assert_eq!(contribution.cpu.and_then(|c| c.shares()), Some(2048));
        cpu.isolate(&container(&state), 1).expect("isolate");
        assert_eq!(get(&cg, "cpu.weight"), "200");
        cpu.cleanup(&container(&state)).expect("cleanup");
        cpu.cleanup(&container(&state))
            .expect("cleanup is idempotent");
    }

    #[test]
    fn cpus_limit_reads_quota_or_shares() {
        let t = tempfile::tempdir().expect("tmp");
        let v1 = V1::at(t.path());
        let cg = Path::new("/ucr/c");
        let dir = t.path().join("cpu/ucr/c");
        put(
            &dir,
            &[
                ("cpu.cfs_quota_us", "-1\n"),
                ("cpu.cfs_period_us", "100000\n"),
                ("cpu.shares", "2048\n"),
            ],
        );
        assert_eq!(cpus_limit(&v1, cg).ok(), Some(2.0));
        put(&dir, &[("cpu.cfs_quota_us", "50000\n")]);
        assert_eq!(cpus_limit(&v1, cg).ok(), Some(0.5));
        let v2 = V2::at(t.path());
        let dir = t.path().join("ucr/c");
        put(&dir, &[("cpu.max", "max 100000\n"), ("cpu.weight", "50\n")]);
        assert_eq!(cpus_limit(&v2, cg).ok(), Some(0.5));
        put(&dir, &[("cpu.max", "150000 100000\n")]);
        assert_eq!(cpus_limit(&v2, cg).ok(), Some(1.5));
    }
}
