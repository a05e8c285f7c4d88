//! cgroup v1 limits, written file by file before any process joins: what the OCI `linux.resources` values
//! mean on v1 (0 is "not set", pids <= 0 is `max`, device rules in their `Display` form, as libcgroups' v1
//! controllers write them), and the values v1 cannot take, refused by name rather than dropped.

use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

use super::files::{fail, put_each, read};
use super::{Controller, Hierarchy};
use crate::error::Result;

pub(super) const MEMSW: &str = "memory.memsw.limit_in_bytes";

/// What libcgroups would have written on v1 and this module does not: refused, not dropped.
pub(super) fn unsupported_v1(r: &LinuxResources) -> Option<&'static str> {
    let cpu = r.cpu().clone().unwrap_or_default();
    let mem = r.memory().unwrap_or_default();
    [
        ("blockIO", r.block_io().is_some()),
        (
            "hugepageLimits",
            r.hugepage_limits().iter().flatten().next().is_some(),
        ),
        ("network", r.network().is_some()),
        ("rdma", r.rdma().iter().flatten().next().is_some()),
        ("unified", r.unified().iter().flatten().next().is_some()),
        (
            "cpu.realtimeRuntime/idle",
            cpu.realtime_runtime().or(cpu.idle()).is_some(),
        ),
        (
            "cpu.realtimePeriod/burst",
            cpu.realtime_period().or(cpu.burst()).is_some(),
        ),
        (
            "memory.kernel/kernelTCP",
            mem.kernel().or(mem.kernel_tcp()).is_some(),
        ),
        (
            "memory.disableOOMKiller",
            mem.disable_oom_killer() == Some(true),
        ),
    ]
    .into_iter()
    .find_map(|(what, set)| set.then_some(what))
}

/// Every write is planned first (a controller that is not mounted fails before anything is written), then done
/// in order.
pub(super) fn limits_v1(h: &dyn Hierarchy, cgroup: &Path, r: &LinuxResources) -> Result<()> {
    let mut writes: Vec<(PathBuf, String)> = Vec::new();
    if let Some(cpu) = r.cpu() {
        for (f, v) in [("cpuset.cpus", cpu.cpus()), ("cpuset.mems", cpu.mems())] {
            if let Some(v) = v {
                writes.push((h.file(Controller::CpuSet, cgroup, f)?, v.clone()));
            }
        }
        // The period before the quota: the kernel checks a quota against the period it has.
        let cfs = [
            ("cpu.shares", nonzero(cpu.shares())),
            ("cpu.cfs_period_us", nonzero(cpu.period())),
            ("cpu.cfs_quota_us", nonzero(cpu.quota())),
        ];
        for (f, v) in cfs {
            if let Some(v) = v {
                writes.push((h.file(Controller::Cpu, cgroup, f)?, v));
            }
        }
    }
    if let Some(m) = r.memory() {
        let dir = h.dir(Controller::Memory, cgroup)?;
        let limit = nonzero(m.limit()).map(|v| (dir.join("memory.limit_in_bytes"), v));
        // memsw exists where the kernel accounts swap, in every cgroup of the hierarchy or in none.
        let swap = nonzero(m.swap())
            .filter(|_| h.exists(Controller::Memory, Path::new("/"), MEMSW))
            .map(|v| (dir.join(MEMSW), v));
        // memsw >= limit at every step: a swap limit at or above the current limit goes first (raising), else the
        // limit does (a fresh cgroup is unlimited: the limit first).
        let swap_first = match (&limit, &swap, m.swap()) {
            (Some((f, _)), Some(_), Some(s)) => {
                let current = read(f, cgroup)?.trim().parse::<i64>().unwrap_or(i64::MAX);
                s == -1 || current <= s
            }
            _ => false,
        };
        let (first, second) = if swap_first {
            (swap, limit)
        } else {
            (limit, swap)
        };
        writes.extend(first.into_iter().chain(second));
        if let Some(v) = nonzero(m.reservation()) {
            writes.push((dir.join("memory.soft_limit_in_bytes"), v));
        }
        if let Some(s) = m.swappiness() {
            let f = dir.join("memory.swappiness");
            if s > 100 {
                return Err(fail(cgroup, &f, format!("swappiness {s} > 100")));
            }
            writes.push((f, s.to_string()));
        }
    }
    if let Some(p) = r.pids() {
        let v = if p.limit() > 0 {
            p.limit().to_string()
        } else {
            "max".into()
        };
        writes.push((h.file(Controller::Pids, cgroup, "pids.max")?, v));
    }
    // In order: the last rule that matches a device decides.
    for d in r.devices().iter().flatten() {
        let f = if d.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        writes.push((h.file(Controller::Devices, cgroup, f)?, d.to_string()));
    }
    put_each(&writes, cgroup)
}

/// libcgroups' v1 convention: 0 means "not set".
fn nonzero<T: PartialEq + Default + ToString>(v: Option<T>) -> Option<String> {
    v.filter(|v| *v != T::default()).map(|v| v.to_string())
}
