//! The OOM watch of `cgroups/mem`: an fd that becomes readable when the memory cgroup may have run out, and the
//! check that turns it into Mesos's memory limitation.
//!
//! v1: an eventfd registered through `cgroup.event_control` on `memory.oom_control`. The kernel signals it when
//! the cgroup enters OOM, *before* the OOM killer picks and counts a victim (printing the task dump can take a
//! while), so the counter may still read 0 when the poller wakes. A second eventfd registered the same way is
//! kept here as a probe: `limitation` reads it, and a signalled probe is an OOM, as Mesos treats the v1
//! notification. v2: inotify on `memory.events`, which the kernel marks modified whenever a counter moves
//! (`oom_kill` included, so the kill itself wakes the poller); `limitation` decides by the `oom_kill` counter.
//! Both fds are non-blocking; the poller must drain one that fired, or poll keeps returning.
//!
//! The fds are armed in `isolate`, before the task runs, and handed out by `watch_fd` later in the same process
//! (the supervisor): a hog can reach its limit within milliseconds of starting, before the supervisor would
//! otherwise get to arm. `watch_fd` in a process that armed nothing (a recovery) arms then and checks the
//! counter, so a kill from before is not missed.

use std::io::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rustix::event::{eventfd, EventfdFlags};
use rustix::fs::inotify;

use super::{keyed, Controller, Hierarchy, Version};
use crate::error::{IsolatorError, Result};
use crate::stats::{Limitation, LimitedResource};

pub const REASON: &str = "REASON_CONTAINER_LIMITATION_MEMORY";

/// What this process armed for one cgroup.
struct Armed {
    cgroup: PathBuf,
    /// For the poller, until `watch_fd` hands it out.
    handout: Option<OwnedFd>,
    /// v1 only: signalled at every OOM of the cgroup, read by `limitation` alone.
    probe: Option<OwnedFd>,
    /// The probe was signalled once: the OOM stays a fact.
    seen: bool,
}

static ARMED: Mutex<Vec<Armed>> = Mutex::new(Vec::new());

fn armed() -> std::sync::MutexGuard<'static, Vec<Armed>> {
    ARMED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Arm the watch before the task runs (`isolate`); `watch_fd` in this process then hands out this fd.
pub fn arm_early(h: &dyn Hierarchy, cgroup: &Path) -> Result<()> {
    let handout = arm(h, cgroup)?;
    let probe = match h.version() {
        Version::V1 => Some(arm(h, cgroup)?),
        Version::V2 => None,
    };
    let mut all = armed();
    all.retain(|a| a.cgroup != cgroup);
    all.push(Armed {
        cgroup: cgroup.to_path_buf(),
        handout: Some(handout),
        probe,
        seen: false,
    });
    Ok(())
}

/// The wake-up fd for the container's memory cgroup (which must exist: call after the init does).
///
/// Without an early one, the task may already have been killed before this fd exists and no later event would
/// come: so after arming, the counter is checked, and an fd that is readable at once is returned if a kill
/// already happened.
pub fn watch_fd(h: &dyn Hierarchy, cgroup: &Path) -> Result<OwnedFd> {
    if let Some(fd) = armed()
        .iter_mut()
        .find(|a| a.cgroup == cgroup)
        .and_then(|a| a.handout.take())
    {
        return Ok(fd);
    }
    let fd = arm(h, cgroup)?;
    if oom_kills(h, cgroup)? == 0 {
        return Ok(fd);
    }
    eventfd(1, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)
        .map_err(|e| IsolatorError::io("eventfd", e.into()))
}

/// Whether this process's v1 probe for `cgroup` was signalled (an OOM happened), consuming the signal.
fn probe_signalled(cgroup: &Path) -> bool {
    let mut all = armed();
    let Some(a) = all.iter_mut().find(|a| a.cgroup == cgroup) else {
        return false;
    };
    if let Some(p) = &a.probe {
        let mut buf = [0u8; 8];
        if matches!(rustix::io::read(p, &mut buf), Ok(8)) && u64::from_ne_bytes(buf) > 0 {
            a.seen = true;
        }
    }
    a.seen
}

fn arm(h: &dyn Hierarchy, cgroup: &Path) -> Result<OwnedFd> {
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
    if oom_kills(h, cgroup)? == 0 && !probe_signalled(cgroup) {
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
        message: message(limit, peak, &stat, h.version()),
        resources: vec![LimitedResource::scalar(
            "mem",
            limit as f64 / (1u64 << 20) as f64,
        )],
    }))
}

/// Mesos's wording ("Memory limit exceeded: Requested: 64MB Maximum Used: 64MB"), then, on the same line (it is
/// shown in `ps`), the statistics that tell what the memory was.
pub fn message(limit: u64, peak: u64, stat: &str, v: Version) -> String {
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
        "Memory limit exceeded: Requested: {} Maximum Used: {}; memory statistics:",
        bytes(limit),
        bytes(peak)
    );
    let listed: Vec<String> = keys
        .iter()
        .filter_map(|key| Some(format!(" {key} {}", bytes(*k.get(key)?))))
        .collect();
    s.push_str(&listed.join(","));
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
            l.message.contains(
                "Requested: 128MB Maximum Used: 131068KB; memory statistics: total_rss 1KB"
            ),
            "{}",
            l.message
        );
        assert!(limitation(&v1, Path::new("/ucr/gone")).is_none());
    }

    fn readable(fd: &OwnedFd) -> bool {
        let mut p = [rustix::event::PollFd::new(fd, rustix::event::PollFlags::IN)];
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        rustix::event::poll(&mut p, Some(&zero)).unwrap_or(0) == 1
    }

    #[test]
    fn v1_registration_names_both_fds() {
        let t = tempfile::tempdir().expect("tmp");
        let dir = t.path().join("memory/ucr/c");
        put(
            &dir,
            &[
                ("memory.oom_control", "oom_kill 0\n"),
                ("cgroup.event_control", ""),
            ],
        );
        let fd = watch_fd(&V1::at(t.path()), Path::new("/ucr/c")).expect("fd");
        let reg = std::fs::read_to_string(dir.join("cgroup.event_control")).expect("read");
        let fds: Vec<i32> = reg.split(' ').filter_map(|s| s.parse().ok()).collect();
        assert_eq!(fds.len(), 2, "{reg}");
        assert_eq!(fds[0], fd.as_raw_fd());
        assert!(!readable(&fd));
    }

    #[test]
    fn a_kill_before_the_watch_is_not_missed() {
        let t = tempfile::tempdir().expect("tmp");
        let dir = t.path().join("ucr/c");
        put(&dir, &[("memory.events", "oom 0\noom_kill 0\n")]);
        let v2 = V2::at(t.path());
        let cg = Path::new("/ucr/c");
        let quiet = watch_fd(&v2, cg).expect("fd");
        assert!(!readable(&quiet));
        // inotify sees the file change as it sees the kernel's.
        put(&dir, &[("memory.events", "oom 1\noom_kill 1\n")]);
        assert!(readable(&quiet));
        let late = watch_fd(&v2, cg).expect("fd");
        assert!(
            readable(&late),
            "a kill that happened before is reported at once"
        );
    }

    #[test]
    fn mesos_byte_units() {
        assert_eq!(bytes(64 << 20), "64MB");
        assert_eq!(bytes((64 << 20) + 4096), "65540KB");
        assert_eq!(bytes(17), "17B");
        assert_eq!(bytes(0), "0B");
        assert_eq!(bytes(2 << 30), "2GB");
    }

    #[test]
    fn the_early_fd_is_handed_out_and_the_v1_probe_counts_as_an_oom() {
        let t = tempfile::tempdir().expect("tmp");
        let dir = t.path().join("memory/ucr/early");
        put(
            &dir,
            &[
                ("memory.oom_control", "under_oom 0\noom_kill 0\n"),
                ("cgroup.event_control", ""),
                ("memory.limit_in_bytes", "67108864\n"),
                ("memory.max_usage_in_bytes", "67108864\n"),
            ],
        );
        let v1 = V1::at(t.path());
        let cg = Path::new("/ucr/early");
        arm_early(&v1, cg).expect("arm");
        let reg = std::fs::read_to_string(dir.join("cgroup.event_control")).expect("read");
        let probe: i32 = reg
            .split(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("probe fd");
        let handed = watch_fd(&v1, cg).expect("fd");
        assert_ne!(
            handed.as_raw_fd(),
            probe,
            "the poller and the probe have their own eventfds"
        );
        assert!(limitation(&v1, cg).is_none(), "no OOM yet");
        // What the kernel does at the OOM, before any kill is counted.
        let one = 1u64.to_ne_bytes();
        // SAFETY: the probe fd is open (held in ARMED); writing 8 bytes to an eventfd adds to its counter.
        assert_eq!(unsafe { libc::write(probe, one.as_ptr().cast(), 8) }, 8);
        let l = limitation(&v1, cg).expect("the signalled probe is an OOM");
        assert!(
            l.message.contains("Requested: 64MB Maximum Used: 64MB"),
            "{}",
            l.message
        );
        assert!(limitation(&v1, cg).is_some(), "and stays one");
    }
}
