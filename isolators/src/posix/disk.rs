//! `disk/du`: a container's disk use against its `disk` resource, as Mesos's `disk/du` isolator measures it
//! (Mesos `docs/isolators/disk-du.md`, `isolators/posix/disk.cpp`). What counts is everything the container
//! writes that is not a volume of its own ([`Container::ephemeral`]: its sandbox, its nested containers'
//! sandboxes, its root filesystem's writable part), measured as `du -s` does (`du.rs`).
//!
//! - Its statistics carry `disk_limit_bytes` (the quota) and `disk_used_bytes`.
//! - With `enforce_quota` (Mesos `--enforce_container_disk_quota`, off by default) the supervisor measures every
//!   `watch_interval` (`--container_disk_watch_interval`, 15 s by default) through a timerfd, and a container
//!   past its quota is killed: `REASON_CONTAINER_LIMITATION_DISK`, with Mesos's message, "Disk usage (5MB)
//!   exceeds quota (2MB)". Like Mesos's this is soft isolation: between two checks a task may write past it.
//! - A container without a `disk` resource is neither measured nor limited. A nested container has no quota of
//!   its own, as in Mesos: its sandbox counts against its parent's (a pod's `disk` is the sum of its members').
//!
//! The quota is checkpointed by `prepare` (`<module dir>/quota`, bytes), since `watch` and `usage` run in later
//! processes.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::du;
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};
use crate::stats::{Limitation, LimitedResource, ResourceStatistics};

const NAME: &str = "disk/du";
const MB: f64 = (1u64 << 20) as f64;

/// Mesos's `disk/du` flags.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DiskConfig {
    /// `--enforce_container_disk_quota`: kill a container past its quota.
    pub enforce_quota: bool,
    /// `--container_disk_watch_interval`, in milliseconds.
    pub watch_interval_ms: u64,
}

impl Default for DiskConfig {
    fn default() -> Self {
        DiskConfig {
            enforce_quota: false,
            watch_interval_ms: 15_000,
        }
    }
}

pub struct DiskDu {
    config: DiskConfig,
}

impl DiskDu {
    pub fn new(config: &DiskConfig) -> Self {
        DiskDu {
            config: config.clone(),
        }
    }
}

/// The checkpointed quota of `c`, in bytes; None when it has none.
fn quota(c: &Container<'_>) -> Option<u64> {
    let text = std::fs::read_to_string(c.module_dir(NAME).join("quota")).ok()?;
    text.trim().parse().ok()
}

/// What `c` has written that its quota counts.
fn measure(c: &Container<'_>) -> Result<u64> {
    let roots: Vec<&Path> = c.ephemeral.iter().map(|p| p.as_path()).collect();
    du::usage(&roots).map_err(|e| IsolatorError::Failed {
        isolator: NAME,
        why: format!("measuring {}: {e}", c.id),
    })
}

/// A size as Mesos prints one (stout's `Bytes`): in the largest unit that loses nothing (`5MB`, `1536KB`).
fn mesos_bytes(b: u64) -> String {
    const K: u64 = 1024;
    match b {
        0 => "0B".into(),
        b if b % K != 0 => format!("{b}B"),
        b if b % (K * K) != 0 => format!("{}KB", b / K),
        b if b % (K * K * K) != 0 => format!("{}MB", b / (K * K)),
        b if b % (K * K * K * K) != 0 => format!("{}GB", b / (K * K * K)),
        b => format!("{}TB", b / (K * K * K * K)),
    }
}

/// The limitation of a container that uses `used` bytes against a quota of `quota`, if it is past it.
fn over(used: u64, quota: u64) -> Option<Limitation> {
    (used > quota).then(|| Limitation {
        reason: "REASON_CONTAINER_LIMITATION_DISK".into(),
        message: format!(
            "Disk usage ({}) exceeds quota ({})",
            mesos_bytes(used),
            mesos_bytes(quota)
        ),
        resources: vec![LimitedResource::scalar("disk", quota as f64 / MB)],
    })
}

impl Isolator for DiskDu {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        let disk = r.resources.disk_mb.filter(|d| *d > 0.0);
        let (Some(mb), false) = (disk, c.is_nested()) else {
            return Ok(Contribution::default());
        };
        if !mb.is_finite() {
            return Err(IsolatorError::invalid(
                NAME,
                format!("disk {mb} is not a size"),
            ));
        }
        let dir = c.module_dir(NAME);
        std::fs::create_dir_all(&dir).map_err(|e| IsolatorError::io(&dir, e))?;
        let file = dir.join("quota");
        let bytes = (mb * MB) as u64;
        std::fs::write(&file, bytes.to_string()).map_err(|e| IsolatorError::io(&file, e))?;
        Ok(Contribution::default())
    }

    fn watch_fd(&self, c: &Container<'_>) -> Result<Option<OwnedFd>> {
        if !self.config.enforce_quota || quota(c).is_none() {
            return Ok(None);
        }
        use rustix::time::{
            timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags,
            TimerfdTimerFlags, Timespec,
        };
        let every = Duration::from_millis(self.config.watch_interval_ms.max(1));
        let spec = Timespec {
            tv_sec: every.as_secs() as i64,
            tv_nsec: every.subsec_nanos() as i64,
        };
        let io = |e: rustix::io::Errno| IsolatorError::Failed {
            isolator: NAME,
            why: format!("timerfd: {e}"),
        };
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::CLOEXEC | TimerfdFlags::NONBLOCK,
        )
        .map_err(io)?;
        let when = Itimerspec {
            it_interval: spec,
            it_value: spec,
        };
        timerfd_settime(&fd, TimerfdTimerFlags::empty(), &when).map_err(io)?;
        Ok(Some(fd))
    }

    fn watch(&self, c: &Container<'_>, exited: bool) -> Option<Limitation> {
        // A task that ended by itself ended for its own reasons, whatever it left on disk.
        if !self.config.enforce_quota || exited {
            return None;
        }
        let q = quota(c)?;
        match measure(c) {
            Ok(used) => over(used, q),
            Err(e) => {
                tracing::warn!(error = %e, "disk watch");
                None
            }
        }
    }

    fn usage(&self, c: &Container<'_>, out: &mut ResourceStatistics) -> Result<()> {
        if let Some(q) = quota(c) {
            out.disk_limit_bytes = Some(q);
            out.disk_used_bytes = Some(measure(c)?);
        }
        Ok(())
    }

    fn cleanup(&self, c: &Container<'_>) -> Result<()> {
        let dir = c.module_dir(NAME);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(IsolatorError::io(&dir, e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_mesos_prints_them() {
        assert_eq!(mesos_bytes(0), "0B");
        assert_eq!(mesos_bytes(1000), "1000B");
        assert_eq!(mesos_bytes(1536 * 1024), "1536KB");
        assert_eq!(mesos_bytes(5 << 20), "5MB");
        assert_eq!(mesos_bytes(3 << 30), "3GB");
        assert_eq!(mesos_bytes(2 << 40), "2TB");
    }

    #[test]
    fn past_the_quota_is_a_disk_limitation_in_mesos_words() {
        assert_eq!(over(2 << 20, 2 << 20), None);
        let l = over(5 << 20, 2 << 20).expect("over");
        assert_eq!(l.reason, "REASON_CONTAINER_LIMITATION_DISK");
        assert_eq!(l.message, "Disk usage (5MB) exceeds quota (2MB)");
        assert_eq!(l.resources, vec![LimitedResource::scalar("disk", 2.0)]);
    }
}
