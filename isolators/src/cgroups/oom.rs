//! The OOM watch of `cgroups/mem`: an fd that becomes readable when the memory cgroup's events change, and the
//! check that turns a kill by the memory cgroup into Mesos's memory limitation.
//!
//! v1: an eventfd registered through `cgroup.event_control` on `memory.oom_control` (the kernel signals it at
//! every OOM in the cgroup, and when the cgroup is removed). v2: inotify on `memory.events`, which the kernel
//! marks modified whenever one of its counters moves (`max` and `high` too, not only OOM). Either way the fd is
//! only a wake-up: `limitation` decides by the `oom_kill` counter, so a spurious wake-up costs one file read.
//! Both fds are non-blocking; the poller must drain one that fired (read until EAGAIN), or poll keeps returning.

use std::io::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use rustix::event::{eventfd, EventfdFlags};
use rustix::fs::inotify;

use super::{keyed, Controller, Hierarchy, Version};
use crate::error::{IsolatorError, Result};
use crate::stats::{Limitation, LimitedResource};

pub const REASON: &str = "REASON_CONTAINER_LIMITATION_MEMORY";

/// Create the wake-up fd for the container's memory cgroup (which must exist: call after the init does).
pub fn watch_fd(h: &dyn Hierarchy, cgroup: &Path) -> Result<OwnedFd> {
    match h.version() {
        Version::V1 => {
            let efd = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
                .map_err(|e| IsolatorError::io("eventfd", e.into()))?;
            let oom_control = h.file(Controller::Memory, cgroup, "memory.oom_control")?;
            let ofd = std::fs::File::open(&oom_control)
                .map_err(|e| IsolatorError::io(&oom_control, e))?;
            let control = h.file(Controller::Memory, cgroup, "cgroup.event_control")?;
            // The registration keeps no reference to the oom_control file: it may close after the write.
            std::fs::OpenOptions::new()
                .write(true)
                .open(&control)
                .and_then(|mut f| {
                    f.write_all(format!("{} {}", efd.as_raw_fd(), ofd.as_raw_fd()).as_bytes())
                })
                .map_err(|e| IsolatorError::io(&control, e))?;
            Ok(efd)
        }
        Version::V2 => {
            let ifd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)
                .map_err(|e| IsolatorError::io("inotify", e.into()))?;
            let events = h.file(Controller::Memory, cgroup, "memory.events")?;
            inotify::add_watch(&ifd, &events, inotify::WatchFlags::MODIFY)
                .map_err(|e| IsolatorError::io(&events, e.into()))?;
            Ok(ifd)
        }
    }
}

/// How many processes the memory cgroup has killed.
pub fn oom_kills(h: &dyn Hierarchy, cgroup: &Path) -> Result<u64> {
    let file = match h.version() {
        Version::V1 => "memory.oom_control",
        Version::V2 => "memory.events",
    };
    let text = h.read(Controller::Memory, cgroup, file)?;
    Ok(keyed(&text).get("oom_kill").copied().unwrap_or(0))
}

/// The memory limitation, if the cgroup has a limit and killed for it. Errors (the cgroup is gone, ...) are
/// logged and read as "no limitation": the task's own exit status then stands.
pub fn limitation(h: &dyn Hierarchy, cgroup: &Path) -> Option<Limitation> {
    match check(h, cgroup) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(error = %e, "memory limitation check");
            None
        }
    }
}

fn check(h: &dyn Hierarchy, cgroup: &Path) -> Result<Option<Limitation>> {
    let kills = oom_kills(h, cgroup)?;
    if kills == 0 {
        return Ok(None);
    }
    let (limit_file, peak_files) = match h.version() {
        Version::V1 => (
            "memory.limit_in_bytes",
            ["memory.max_usage_in_bytes", "memory.usage_in_bytes"],
        ),
        // memory.peak is there from Linux 5.19.
        Version::V2 => ("memory.max", ["memory.peak", "memory.current"]),
    };
    let Some(limit) = h.read_u64(Controller::Memory, cgroup, limit_file)? else {
        return Ok(None);
    };
    let peak = peak_files
        .iter()
        .find_map(|f| h.read_u64(Controller::Memory, cgroup, f).ok().flatten())
        .unwrap_or(0);
    let stat = h
        .read(Controller::Memory, cgroup, "memory.stat")
        .unwrap_or_default();
    Ok(Some(Limitation {
        reason: REASON.into(),
        message: message(limit, peak, kills, &stat, h.version()),
        resources: vec![LimitedResource::scalar(
            "mem",
            limit as f64 / (1u64 << 20) as f64,
        )],
    }))
}

/// Mesos's wording ("Memory limit exceeded: Requested: 64MB Maximum Used: 64MB"), then, on the same line (it is
/// shown in `ps`), the statistics that tell what the memory was.
pub fn message(limit: u64, peak: u64, kills: u64, stat: &str, v: Version) -> String {
    let k = keyed(stat);
    let keys: &[&str] = match v {
        Version::V1 => &[
            "total_rss",
            "total_cache",
            "total_mapped_file",
            "total_swap",
        ],
        Version::V2 => &["anon", "file", "kernel", "shmem", "file_mapped"],
    };
    let mut s = format!(
        "Memory limit exceeded: Requested: {} Maximum Used: {}; oom_kill {kills}",
        bytes(limit),
        bytes(peak)
    );
    for key in keys {
        if let Some(val) = k.get(key) {
            s.push_str(&format!(", {key} {}", bytes(*val)));
        }
    }
    s
}

/// Mesos's `Bytes` output: the largest unit that loses nothing (`64MB`, `65540KB`, `17B`).
pub fn bytes(n: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB"];
    let (mut v, mut u) = (n, 0);
    while v != 0 && v % 1024 == 0 && u + 1 < units.len() {
        v /= 1024;
        u += 1;
    }
    format!("{v}{}", units[u])
}

#[cfg(test)]
mod tests {
    use super::super::fake::put;
    use super::super::{V1, V2};
    use super::*;

    #[test]
    fn limitation_only_after_a_kill_with_a_limit() {
        let t = tempfile::tempdir().expect("tmp");
        let cg = Path::new("/ucr/c");
        let v2 = V2::at(t.path());
        let dir = t.path().join("ucr/c");
        put(
            &dir,
            &[
                (
                    "memory.events",
                    "low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n",
                ),
                ("memory.max", "67108864\n"),
                ("memory.peak", "67108864\n"),
                ("memory.stat", "anon 66060288\nfile 1048576\n"),
            ],
        );
        assert!(limitation(&v2, cg).is_none());
        put(&dir, &[("memory.events", "oom 1\noom_kill 1\n")]);
        let l = limitation(&v2, cg).expect("limitation");
        assert_eq!(l.reason, REASON);
        assert!(
            l.message
                .starts_with("Memory limit exceeded: Requested: 64MB Maximum Used: 64MB"),
            "{}",
            l.message
        );
        assert!(l.message.contains("anon 63MB"), "{}", l.message);
        assert_eq!(l.resources, vec![LimitedResource::scalar("mem", 64.0)]);
        put(&dir, &[("memory.max", "max\n")]);
        assert!(limitation(&v2, cg).is_none(), "no limit, no limitation");

        let v1 = V1::at(t.path());
        let dir = t.path().join("memory/ucr/c");
        put(
            &dir,
            &[
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
                ),
                ("memory.limit_in_bytes", "134217728\n"),
                ("memory.max_usage_in_bytes", "134213632\n"),
                ("memory.stat", "total_rss 1024\n"),
            ],
        );
        let l = limitation(&v1, cg).expect("limitation");
        assert!(
            l.message
                .contains("Requested: 128MB Maximum Used: 131068KB; oom_kill 2"),
            "{}",
            l.message
        );
        assert!(limitation(&v1, Path::new("/ucr/gone")).is_none());
    }

    #[test]
    fn v1_registration_names_both_fds() {
        let t = tempfile::tempdir().expect("tmp");
        let dir = t.path().join("memory/ucr/c");
        put(
            &dir,
            &[("memory.oom_control", ""), ("cgroup.event_control", "")],
        );
        let fd = watch_fd(&V1::at(t.path()), Path::new("/ucr/c")).expect("fd");
        let reg = std::fs::read_to_string(dir.join("cgroup.event_control")).expect("read");
        let fds: Vec<i32> = reg.split(' ').filter_map(|s| s.parse().ok()).collect();
        assert_eq!(fds.len(), 2, "{reg}");
        assert_eq!(fds[0], fd.as_raw_fd());
    }

    #[test]
    fn mesos_byte_units() {
        assert_eq!(bytes(64 << 20), "64MB");
        assert_eq!(bytes((64 << 20) + 4096), "65540KB");
        assert_eq!(bytes(17), "17B");
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(2 << 30), "2GB");
    }
}
