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
//! - Each persistent volume with a size is a disk resource of its own, as in Mesos: measured apart (never in the
//!   sandbox's use), reported as one `disk_statistics` entry (with its `persistence.id`) before the sandbox's,
//!   and, enforced, a volume past its size kills the container as the sandbox does. A pod's volumes are its
//!   members' (each member measures the ones it mounts; a member killed for one takes its pod along), where
//!   Mesos counts them in the executor's container. Where a project quota enforces the size
//!   (`runtime::volumes::quota`) a write past it fails first; where none can, this is what holds a volume to
//!   its size, as Mesos's `disk/du` does.
//!
//! The quota and the volumes are checkpointed by `prepare` (`<module dir>/quota`, bytes, and
//! `<module dir>/volumes.json`), since `watch` and `usage` run in later processes.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::du;
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};
use crate::stats::{DiskStatistics, Limitation, LimitedResource, Persistence, ResourceStatistics};
use crate::vocab::PersistentDisk;

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

/// The checkpointed persistent volumes of `c` that have a size; none when it has none.
fn volumes(c: &Container<'_>) -> Vec<PersistentDisk> {
    std::fs::read(c.module_dir(NAME).join(VOLUMES))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

const VOLUMES: &str = "volumes.json";

/// What `c` has written that its quota counts.
fn measure(c: &Container<'_>) -> Result<u64> {
    let roots: Vec<&Path> = c.ephemeral.iter().map(|p| p.as_path()).collect();
    du::usage(&roots).map_err(|e| IsolatorError::Failed {
        isolator: NAME,
        why: format!("measuring {}: {e}", c.id),
    })
}

/// What the persistent volume `v` of `c` holds.
fn measure_volume(c: &Container<'_>, v: &PersistentDisk) -> Result<u64> {
    du::usage(&[v.path.as_path()]).map_err(|e| IsolatorError::Failed {
        isolator: NAME,
        why: format!("measuring {}'s volume {}: {e}", c.id, v.path.display()),
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
        // A nested container's sandbox counts against its parent's quota; its volumes are its own.
        let disk = r.resources.disk_mb.filter(|d| *d > 0.0 && !c.is_nested());
        if disk.is_none() && r.persistent.is_empty() {
            return Ok(Contribution::default());
        }
        if let Some(mb) = disk.filter(|mb| !mb.is_finite()) {
            return Err(IsolatorError::invalid(
                NAME,
                format!("disk {mb} is not a size"),
            ));
        }
        let dir = c.module_dir(NAME);
        std::fs::create_dir_all(&dir).map_err(|e| IsolatorError::io(&dir, e))?;
        let write = |name: &str, bytes: &[u8]| {
            let file = dir.join(name);
            std::fs::write(&file, bytes).map_err(|e| IsolatorError::io(&file, e))
        };
        if let Some(mb) = disk {
            write("quota", ((mb * MB) as u64).to_string().as_bytes())?;
        }
        if !r.persistent.is_empty() {
            let json = serde_json::to_vec(r.persistent).map_err(|e| IsolatorError::Failed {
                isolator: NAME,
                why: format!("{VOLUMES}: {e}"),
            })?;
            write(VOLUMES, &json)?;
        }
        Ok(Contribution::default())
    }

    fn watch_fd(&self, c: &Container<'_>) -> Result<Option<OwnedFd>> {
        if !self.config.enforce_quota || (quota(c).is_none() && volumes(c).is_empty()) {
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
        let measured =
            |m: Result<u64>| m.map_err(|e| tracing::warn!(error = %e, "disk watch")).ok();
        let sandbox = quota(c).and_then(|q| over(measured(measure(c))?, q));
        sandbox.or_else(|| {
            volumes(c)
                .iter()
                .find_map(|v| over(measured(measure_volume(c, v))?, v.bytes))
        })
    }

    fn usage(&self, c: &Container<'_>, out: &mut ResourceStatistics) -> Result<()> {
        for v in volumes(c) {
            out.disk_statistics.push(DiskStatistics {
                persistence: Some(Persistence { id: v.id.clone() }),
                limit_bytes: v.bytes,
                used_bytes: Some(measure_volume(c, &v)?),
            });
        }
        if let Some(q) = quota(c) {
            let used = measure(c)?;
            out.disk_limit_bytes = Some(q);
            out.disk_used_bytes = Some(used);
            out.disk_statistics.push(DiskStatistics {
                persistence: None,
                limit_bytes: q,
                used_bytes: Some(used),
            });
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

    /// A container with its state and sandbox in `dir`, and a disk/du that enforces.
    fn setup(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf, DiskDu) {
        let (state, sandbox) = (dir.join("state"), dir.join("sandbox"));
        std::fs::create_dir_all(&sandbox).expect("sandbox");
        let du = DiskDu::new(&DiskConfig {
            enforce_quota: true,
            watch_interval_ms: 10,
        });
        (state, sandbox, du)
    }

    fn fill(path: &Path, bytes: usize) {
        std::fs::write(path, vec![1u8; bytes]).expect("fill");
    }

    #[test]
    fn a_persistent_volume_is_measured_apart_against_its_own_size() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (state, sandbox, du) = setup(tmp.path());
        let vol = tmp.path().join("volumes/roles/web/kv");
        std::fs::create_dir_all(&vol).expect("volume");
        let ephemeral = [sandbox.clone()];
        let c = Container {
            state_dir: &state,
            sandbox: &sandbox,
            ephemeral: &ephemeral,
            ..crate::isolator::tests_support::container()
        };
        let mut req = crate::isolator::tests_support::Req::default();
        req.resources.disk_mb = Some(4.0);
        req.persistent = vec![PersistentDisk {
            id: "kv".into(),
            path: vol.clone(),
            bytes: 2 << 20,
        }];
        du.prepare(&c, &req.request()).expect("prepare");
        assert!(du.watch_fd(&c).expect("watch fd").is_some());
        fill(&vol.join("data"), 1 << 20);
        fill(&sandbox.join("data"), 3 << 20);
        let mut s = ResourceStatistics::default();
        du.usage(&c, &mut s).expect("usage");
        let used = |i: usize| s.disk_statistics[i].used_bytes.unwrap_or(0);
        assert_eq!(s.disk_statistics.len(), 2, "{s:?}");
        assert_eq!(
            s.disk_statistics[0].persistence,
            Some(Persistence { id: "kv".into() })
        );
        assert_eq!(s.disk_statistics[0].limit_bytes, 2 << 20);
        assert!(
            (1 << 20..2 << 20).contains(&used(0)),
            "the volume alone: {s:?}"
        );
        assert_eq!(
            (
                s.disk_statistics[1].persistence.as_ref(),
                s.disk_statistics[1].limit_bytes
            ),
            (None, 4 << 20)
        );
        assert!(
            (3 << 20..4 << 20).contains(&used(1)),
            "the sandbox without the volume: {s:?}"
        );
        assert_eq!(s.disk_used_bytes, Some(used(1)));
        assert_eq!(du.watch(&c, false), None, "both within their sizes");
        fill(&vol.join("more"), 2 << 20);
        let l = du.watch(&c, false).expect("the volume past its size");
        assert!(l.message.ends_with(") exceeds quota (2MB)"), "{l:?}");
        assert_eq!(l.resources, vec![LimitedResource::scalar("disk", 2.0)]);
        assert_eq!(du.watch(&c, true), None, "a task that ended by itself");
        du.cleanup(&c).expect("cleanup");
        assert!(volumes(&c).is_empty() && quota(&c).is_none());
    }

    #[test]
    fn volumes_alone_are_measured_and_a_container_with_neither_is_not() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (state, sandbox, du) = setup(tmp.path());
        let c = Container {
            state_dir: &state,
            sandbox: &sandbox,
            ..crate::isolator::tests_support::container()
        };
        let mut req = crate::isolator::tests_support::Req::default();
        du.prepare(&c, &req.request()).expect("prepare");
        assert!(du.watch_fd(&c).expect("watch fd").is_none());
        let mut s = ResourceStatistics::default();
        du.usage(&c, &mut s).expect("usage");
        assert_eq!(s, ResourceStatistics::default());
        req.persistent = vec![PersistentDisk {
            id: "apps/web/data".into(),
            path: tmp.path().join("vol"),
            bytes: 1 << 20,
        }];
        std::fs::create_dir_all(tmp.path().join("vol")).expect("volume");
        du.prepare(&c, &req.request()).expect("prepare");
        du.usage(&c, &mut s).expect("usage");
        assert_eq!(
            (s.disk_statistics.len(), s.disk_limit_bytes),
            (1, None),
            "{s:?}"
        );
        let nested = Container { id: "p/c", ..c };
        let mut s = ResourceStatistics::default();
        du.cleanup(&c).expect("cleanup");
        req.resources.disk_mb = Some(4.0);
        du.prepare(&nested, &req.request()).expect("prepare");
        du.usage(&nested, &mut s).expect("usage");
        assert_eq!(
            (s.disk_statistics.len(), s.disk_limit_bytes),
            (1, None),
            "a nested container's volumes, not its disk: {s:?}"
        );
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
