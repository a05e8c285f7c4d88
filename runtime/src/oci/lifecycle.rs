//! runtime.md's operations after `create`, each refusing (and changing nothing) outside the statuses it is
//! defined for: `start` (created), `kill` (created, running, paused), `delete` (stopped, or anything with
//! `--force`), and runc's `pause`/`resume`, `ps`, `update` and `events --stats` over the container's cgroup.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};

use oci_spec::runtime::LinuxResources;
use ucr_isolators::cgroups::{self, teardown};

use super::error::{OciError, Result};
use super::hooks::{self, Kind};
use super::record::{alive, Record, Root, Status};

fn wrong(op: &'static str, rec: &Record, status: Status) -> OciError {
    OciError::WrongStatus {
        op,
        id: rec.id.clone(),
        status: status.as_str(),
    }
}

fn host() -> Result<std::sync::Arc<dyn cgroups::Hierarchy>> {
    cgroups::host().map_err(|e| OciError::Cgroup(e.to_string()))
}

/// Let the created init run the user's program: "go" (with the state, for `startContainer` hooks) through
/// `exec.fifo`, which is then removed; returns once the program runs, after the `poststart` hooks.
pub fn start(root: &Root, id: &str) -> Result<()> {
    let rec = root.load(id)?;
    let status = root.status(&rec);
    if status != Status::Created {
        return Err(wrong("start", &rec, status));
    }
    let fifo = root.fifo(id);
    // Non-blocking: with no reader (the init is gone) this fails at once instead of waiting forever.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|_| OciError::NotRunning)?;
    let mut msg = b"G".to_vec();
    if !hooks::commands(rec.hooks.as_ref(), Kind::StartContainer)?.is_empty() {
        let state = root.state(&rec).to_string();
        msg.extend_from_slice(&(state.len() as u32).to_le_bytes());
        msg.extend_from_slice(state.as_bytes());
    }
    write_all_retrying(&mut f, &msg).map_err(|e| OciError::io(&fifo, e))?;
    // Our read end, opened before our write end closes so the FIFO never lacks a writer mid-way: the init
    // holds the only other end, close-on-exec, so EOF here means its program runs (or it died).
    let mut back = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|e| OciError::io(&fifo, e))?;
    drop(f);
    std::fs::remove_file(&fifo).map_err(|e| OciError::io(&fifo, e))?;
    started(&rec, &mut back)?;
    let state = root.state(&rec);
    if let Err(e) = hooks::run(rec.hooks.as_ref(), Kind::Poststart, &state, None) {
        // runtime.md: a failed poststart hook is a warning; the lifecycle goes on.
        tracing::warn!("{e}");
    }
    Ok(())
}

/// The FIFO is non-blocking on our side; a message longer than the pipe's buffer waits for the init to read.
fn write_all_retrying(f: &mut std::fs::File, mut msg: &[u8]) -> std::io::Result<()> {
    while !msg.is_empty() {
        match f.write(msg) {
            Ok(n) => msg = &msg[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Once the init has taken the whole "go" off the FIFO, what comes back is its failure (the startContainer
/// hooks, the exec), and EOF is its exec (the FIFO was close-on-exec) — or its death by a signal, which
/// only the reaper (the caller of `create`) can tell.
fn started(rec: &Record, back: &mut std::fs::File) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while rustix::io::ioctl_fionread(&*back).unwrap_or(0) > 0 {
        if !alive(rec.pid, rec.start_time) || Instant::now() > deadline {
            return Err(OciError::NotRunning);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let mut said = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match back.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => said.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let fd = rustix::event::PollFd::new(&*back, rustix::event::PollFlags::IN);
                let _ = rustix::event::poll(&mut [fd], None);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(OciError::Launch(format!(
                    "start: reading the init's outcome: {e}"
                )))
            }
        }
    }
    match said.strip_prefix(b"E") {
        Some(why) => {
            use crate::launcher::LaunchError;
            match LaunchError::from_init(&String::from_utf8_lossy(why)) {
                LaunchError::Exec { why, .. } | LaunchError::Init(why) => {
                    Err(OciError::Launch(why))
                }
                e => Err(OciError::Launch(e.to_string())),
            }
        }
        None => Ok(()),
    }
}

/// Send `signal` to the init, or with `all` to every process of the container.
pub fn kill(root: &Root, id: &str, signal: i32, all: bool) -> Result<()> {
    let rec = root.load(id)?;
    let status = root.status(&rec);
    if status == Status::Stopped {
        return Err(OciError::NotRunning);
    }
    if all {
        let h = host()?;
        teardown::signal(h.as_ref(), &rec.cgroup, signal, &[])
            .map_err(|e| OciError::Cgroup(e.to_string()))?;
    } else {
        // SAFETY: kill(2) of the container's init, checked alive (same pid and start time) just above.
        if unsafe { libc::kill(rec.pid, signal) } < 0 {
            return Err(OciError::NotRunning);
        }
    }
    // A frozen process takes SIGKILL only once thawed.
    if status == Status::Paused && signal == libc::SIGKILL {
        let h = host()?;
        cgroups::freeze(h.as_ref(), &rec.cgroup, false)
            .map_err(|e| OciError::Cgroup(e.to_string()))?;
    }
    Ok(())
}

/// Remove a stopped container (any, with `force`: its processes are killed first): its cgroup, its record,
/// then the `poststop` hooks, whose failures are warnings.
pub fn delete(root: &Root, id: &str, force: bool) -> Result<()> {
    let dir = root.container_dir(id);
    let rec = match root.load(id) {
        Ok(r) => r,
        // A `create` that died before writing its record left only its directory.
        Err(OciError::NotExist(_)) if dir.is_dir() && super::record::check_id(id).is_ok() => {
            return std::fs::remove_dir_all(&dir).map_err(|e| OciError::io(&dir, e));
        }
        Err(e) => return Err(e),
    };
    let status = root.status(&rec);
    let h = host()?;
    if status != Status::Stopped {
        if !force {
            return Err(OciError::WrongStatus {
                op: "delete",
                id: id.to_string(),
                status: match status {
                    Status::Created => "not stopped: created",
                    Status::Paused => "not stopped: paused",
                    _ => "not stopped: running",
                },
            });
        }
        teardown::kill(h.as_ref(), &rec.cgroup).map_err(|e| OciError::Cgroup(e.to_string()))?;
        // SAFETY: SIGKILL to the init (alive a moment ago); it may share no cgroup with us if it moved.
        unsafe { libc::kill(rec.pid, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while alive(rec.pid, rec.start_time) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    teardown::destroy(h.as_ref(), &rec.cgroup).map_err(|e| OciError::Cgroup(e.to_string()))?;
    std::fs::remove_dir_all(&dir).map_err(|e| OciError::io(&dir, e))?;
    let mut state = root.state(&rec);
    state["status"] = "stopped".into();
    if let Err(e) = hooks::run(rec.hooks.as_ref(), Kind::Poststop, &state, None) {
        tracing::warn!("{e}");
    }
    Ok(())
}

/// Freeze (`pause`) a running container, or thaw (`resume`) a paused one.
pub fn set_paused(root: &Root, id: &str, paused: bool) -> Result<()> {
    let rec = root.load(id)?;
    let status = root.status(&rec);
    let (want, op) = match paused {
        true => (Status::Running, "pause"),
        false => (Status::Paused, "resume"),
    };
    if status != want {
        return Err(match status {
            Status::Stopped => OciError::NotRunning,
            s => wrong(op, &rec, s),
        });
    }
    let h = host()?;
    cgroups::freeze(h.as_ref(), &rec.cgroup, paused).map_err(|e| OciError::Cgroup(e.to_string()))
}

/// The host pids of every process of the container.
pub fn pids(root: &Root, id: &str) -> Result<Vec<i32>> {
    let rec = root.load(id)?;
    teardown::members(host()?.as_ref(), &rec.cgroup).map_err(|e| OciError::Cgroup(e.to_string()))
}

/// Change a created, running or paused container's limits.
pub fn update(root: &Root, id: &str, resources: &LinuxResources) -> Result<()> {
    let rec = root.load(id)?;
    if root.status(&rec) == Status::Stopped {
        return Err(OciError::NotRunning);
    }
    let h = host()?;
    cgroups::apply(h.as_ref(), "update", &rec.cgroup, resources)
        .map_err(|e| OciError::Cgroup(e.to_string()))
}

/// runc's `events --stats` record: `{"type":"stats","id":…,"data":{cpu, memory, pids}}`.
pub fn stats(root: &Root, id: &str) -> Result<serde_json::Value> {
    let rec = root.load(id)?;
    if root.status(&rec) == Status::Stopped {
        return Err(OciError::NotRunning);
    }
    let h = host()?;
    let s = cgroups::stats(h.as_ref(), "events", &rec.cgroup)
        .map_err(|e| OciError::Cgroup(e.to_string()))?;
    macro_rules! mem {
        ($d:expr) => {
            serde_json::json!({"usage": $d.usage, "max": $d.max_usage, "failcnt": $d.fail_count,
                               "limit": $d.limit})
        };
    }
    Ok(serde_json::json!({
        "type": "stats",
        "id": id,
        "data": {
            "cpu": {
                "usage": {
                    "total": s.cpu.usage.usage_total,
                    "percpu": s.cpu.usage.per_core_usage_total,
                    "kernel": s.cpu.usage.usage_kernel,
                    "user": s.cpu.usage.usage_user,
                },
                "throttling": {
                    "periods": s.cpu.throttling.periods,
                    "throttledPeriods": s.cpu.throttling.throttled_periods,
                    "throttledTime": s.cpu.throttling.throttled_time,
                },
            },
            "memory": {
                "cache": s.memory.cache,
                "usage": mem!(s.memory.memory),
                "swap": mem!(s.memory.memswap),
                "kernel": mem!(s.memory.kernel),
                "raw": s.memory.stats,
            },
            "pids": {"current": s.pids.current, "limit": s.pids.limit},
        },
    }))
}
