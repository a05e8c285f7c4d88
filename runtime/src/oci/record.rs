//! One container of the OCI runtime mode on disk (`<root>/<id>/state.json`, written once by `create` and
//! atomically) and its status, which is never stored: it is read from the kernel each time, so a container
//! whose init died while nothing watched is `stopped` without anyone having to say so.
//!
//! - `creating` is only what the early hooks are told (`create::creating_state`): until `create` has written
//!   the record, the container does not exist for the other commands (runc's `state` says the same).
//! - `created`: the init waits on `exec.fifo` (which `start` removes).
//! - `running` / `paused`: the init lives (same pid and start time), its cgroup thawed / frozen.
//! - `stopped`: the init is gone or a zombie.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{OciError, Result};
use crate::process::stat::Stat;

/// The runtime-spec version the state and `features` follow.
pub const OCI_VERSION: &str = "1.2.0";
const STATE_FILE: &str = "state.json";
const FIFO: &str = "exec.fifo";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub pid: i32,
    /// `/proc/<pid>/stat`'s starttime: a pid reused by another process is not this init.
    pub start_time: u64,
    pub created: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The cgroup path (`/default/<id>`), the same in every hierarchy.
    pub cgroup: PathBuf,
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Stopped,
    Paused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Paused => "paused",
        }
    }
}

/// The directory holding every container's record (runc's `--root`).
#[derive(Clone, Debug)]
pub struct Root {
    pub dir: PathBuf,
}

/// runc's rule for ids: they become directory and cgroup names.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    match ok {
        true => Ok(()),
        false => Err(OciError::BadId(id.to_string())),
    }
}

impl Root {
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        Root { dir: dir.into() }
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    pub fn fifo(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(FIFO)
    }

    /// The record of `id`; "does not exist" when there is none (not even one being created).
    pub fn load(&self, id: &str) -> Result<Record> {
        check_id(id).map_err(|_| OciError::NotExist(id.to_string()))?;
        let path = self.container_dir(id).join(STATE_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(OciError::NotExist(id.to_string()))
            }
            Err(e) => return Err(OciError::io(&path, e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| OciError::Config {
            path,
            why: e.to_string(),
        })
    }

    /// Written to a temporary name and renamed: a reader sees the whole record or none.
    pub fn save(&self, rec: &Record) -> Result<()> {
        let dir = self.container_dir(&rec.id);
        // Two commands on one container at once (a kill beside a delete) each write their own.
        let tmp = dir.join(format!(".state.json.{}.tmp", std::process::id()));
        let bytes = serde_json::to_vec(rec).map_err(|e| OciError::Config {
            path: tmp.clone(),
            why: e.to_string(),
        })?;
        std::fs::write(&tmp, bytes).map_err(|e| OciError::io(&tmp, e))?;
        let path = dir.join(STATE_FILE);
        std::fs::rename(&tmp, &path).map_err(|e| OciError::io(&path, e))
    }

    /// Every container with a record, by id.
    pub fn list(&self) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(OciError::io(&self.dir, e)),
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() && check_id(&name).is_ok() {
                if let Ok(rec) = self.load(&name) {
                    out.push(rec);
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    pub fn status(&self, rec: &Record) -> Status {
        if !alive(rec.pid, rec.start_time) {
            return Status::Stopped;
        }
        if self.fifo(&rec.id).exists() {
            return Status::Created;
        }
        if frozen(&rec.cgroup) {
            return Status::Paused;
        }
        Status::Running
    }

    /// The runtime-spec state (plus runc's `rootfs`, `created` and `owner`, which go-runc reads).
    pub fn state(&self, rec: &Record) -> serde_json::Value {
        let status = self.status(rec);
        let pid = match status {
            Status::Stopped => 0,
            _ => rec.pid,
        };
        let mut v = serde_json::json!({
            "ociVersion": OCI_VERSION,
            "id": rec.id,
            "status": status.as_str(),
            "pid": pid,
            "bundle": rec.bundle,
            "rootfs": rec.rootfs,
            "created": rec.created,
            "owner": "",
        });
        if !rec.annotations.is_empty() {
            v["annotations"] = serde_json::json!(rec.annotations);
        }
        v
    }
}

/// The init with this pid and start time exists and has not exited.
pub fn alive(pid: i32, start_time: u64) -> bool {
    Stat::of(pid).is_some_and(|s| s.start_time == start_time && !s.exited())
}

/// The cgroup is frozen (v1 `freezer.state`, v2 `cgroup.freeze`).
fn frozen(cgroup: &Path) -> bool {
    let Ok(h) = ucr_isolators::cgroups::host() else {
        return false;
    };
    let Ok(dirs) = h.all_dirs(cgroup) else {
        return false;
    };
    dirs.iter().any(|d| {
        let v1 = std::fs::read_to_string(d.join("freezer.state"));
        let v2 = std::fs::read_to_string(d.join("cgroup.freeze"));
        matches!(v1.as_deref().map(str::trim), Ok("FROZEN" | "FREEZING"))
            || matches!(v2.as_deref().map(str::trim), Ok("1"))
    })
}

/// `secs.nanos` since the epoch as RFC 3339 in UTC (`2026-12-05T04:33:14.123456789Z`), as runc writes `created`.
pub fn rfc3339(secs: u64, nanos: u32) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, nanos))
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(rfc3339(1_796_445_194, 0), "2026-12-05T04:33:14.000000000Z");
    }

    #[test]
    fn ids_are_names_not_paths() {
        for ok in ["a", "abc-1.2_3+x", &"x".repeat(1024)] {
            assert!(check_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a b", &"x".repeat(1025), "é"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn own_process_is_alive_with_its_start_time_only() {
        let me = std::process::id() as i32;
        let start = Stat::of(me).expect("own stat").start_time;
        assert!(alive(me, start));
        assert!(!alive(me, start + 1));
    }
}
