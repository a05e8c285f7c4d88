//! The container's checkpointed state (`state.json`) and its termination record. Every write is atomic (temp
//! file, fsync, rename), and an empty or missing checkpoint reads as absent, so any later process (`ucr ps`,
//! `wait`, `rm`, a restarted agent) sees either the old state or the new one, never half of one.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::error::{ContainerError, Result};

/// Lifecycle states, in order (INTERFACE.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Starting,
    Provisioning,
    Preparing,
    Isolating,
    Fetching,
    Running,
    Destroying,
    Exited,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Starting => "STARTING",
            State::Provisioning => "PROVISIONING",
            State::Preparing => "PREPARING",
            State::Isolating => "ISOLATING",
            State::Fetching => "FETCHING",
            State::Running => "RUNNING",
            State::Destroying => "DESTROYING",
            State::Exited => "EXITED",
        }
    }
}

/// Mesos termination (`WAIT_CONTAINER` response).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Termination {
    /// Raw wait status (256 = exit code 1; 9 = killed by SIGKILL); absent when the task never ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// TASK_FINISHED, TASK_FAILED or TASK_KILLED.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limitation: Option<serde_json::Value>,
    /// What `ucr run`/`ucr wait` exit with: the task's code, 128+signal, or 125/126/127 when it never ran.
    pub code: i32,
}

impl Termination {
    /// From a raw wait status; `killed` says a kill was asked for.
    pub fn from_wait_status(status: i32, killed: bool) -> Termination {
        let (code, message) = if libc::WIFEXITED(status) {
            let c = libc::WEXITSTATUS(status);
            (c, format!("Command exited with status {c}"))
        } else if libc::WIFSIGNALED(status) {
            let s = libc::WTERMSIG(status);
            (
                128 + s,
                format!("Command terminated with signal {}", signal_name(s)),
            )
        } else {
            (125, format!("Command ended with wait status {status}"))
        };
        let state = if killed {
            "TASK_KILLED"
        } else if code == 0 {
            "TASK_FINISHED"
        } else {
            "TASK_FAILED"
        };
        Termination {
            exit_status: Some(status),
            state: state.into(),
            reason: None,
            message,
            limitation: None,
            code,
        }
    }

    /// The task was ended for exceeding a limit (Mesos `ContainerLimitation`): TASK_FAILED with the
    /// limitation's reason, its message first, and the limited resources.
    pub fn limited(&mut self, l: ucr_isolators::Limitation) {
        self.state = "TASK_FAILED".into();
        self.reason = Some(l.reason);
        self.message = format!("{}; {}", l.message, self.message);
        self.limitation = Some(serde_json::json!({ "resources": l.resources }));
    }

    /// The launch failed before the task ran.
    pub fn launch_failed(message: String, code: i32) -> Termination {
        Termination {
            exit_status: None,
            state: "TASK_FAILED".into(),
            reason: Some("REASON_CONTAINER_LAUNCH_FAILED".into()),
            message,
            limitation: None,
            code,
        }
    }
}

pub fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => sig.to_string(),
    }
}

/// A process that owns the container at a moment: the CLI while it provisions, then the supervisor. The start
/// time (from /proc/<pid>/stat) tells a live owner from a reused pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub pid: i32,
    pub start_time: u64,
}

impl Owner {
    pub fn current() -> Owner {
        let pid = std::process::id() as i32;
        Owner {
            pid,
            start_time: process_start_time(pid).unwrap_or(0),
        }
    }

    pub fn of(pid: i32) -> Owner {
        Owner {
            pid,
            start_time: process_start_time(pid).unwrap_or(0),
        }
    }

    pub fn is_alive(&self) -> bool {
        match process_start_time(self.pid) {
            Some(t) => t == self.start_time,
            None => false,
        }
    }
}

/// Field 22 of /proc/<pid>/stat (start time in clock ticks); None if the process is gone or a zombie.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let mut it = rest.split_whitespace();
    let state = it.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    it.nth(18)?.parse().ok()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContainerState {
    pub id: String,
    pub state: State,
    /// The image as the user named it, and the manifest digest it resolved to.
    pub image: Option<String>,
    #[serde(default)]
    pub image_digest: Option<String>,
    /// Provisioner backend and root filesystem once provisioned.
    #[serde(default)]
    pub backend: Option<String>,
    #[serde(default)]
    pub rootfs: Option<String>,
    pub libcontainer_id: String,
    pub cgroup: String,
    pub sandbox: String,
    /// The task's init pid (in the host's pid namespace) while it runs.
    #[serde(default)]
    pub pid: Option<i32>,
    #[serde(default)]
    pub owner: Option<Owner>,
    /// Unix seconds.
    pub created: u64,
    #[serde(default)]
    pub started: Option<u64>,
    #[serde(default)]
    pub finished: Option<u64>,
    /// The image USER applied because the request named none (INTERFACE: "says so in inspect").
    #[serde(default)]
    pub user: Option<String>,
    /// Host port mappings decided at launch.
    #[serde(default)]
    pub ports: Vec<crate::spec::PortMapping>,
    /// The isolators the container was made with (Mesos names) and the agent settings they read: cleanup,
    /// usage and update in a later process use exactly these, whatever that process's own flags say.
    #[serde(default)]
    pub isolation: Vec<String>,
    /// (`isolator_flags` in checkpoints written before each isolator had its own config; still read.)
    #[serde(default, alias = "isolator_flags")]
    pub isolator_config: ucr_isolators::Config,
    /// Where the sandbox appears inside the container (`--sandbox_directory` at launch).
    #[serde(default = "default_sandbox_directory")]
    pub sandbox_directory: String,
    /// What isolators reported for `inspect` (e.g. `network_infos`).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub status: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub termination: Option<Termination>,
    /// The teardown after the task's end completed (nothing of the container is live: no process, cgroup,
    /// mount or network). `rm` then only removes files; while false it tears down again first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub torn_down: bool,
}

fn default_sandbox_directory() -> String {
    super::paths::DEFAULT_SANDBOX_DIRECTORY.to_string()
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Atomically replace `path` with `bytes`: write a sibling temp file, fsync it, rename over.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let io = |e| ContainerError::io(path, e);
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        ContainerError::io(path, e)
    })
}

pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| ContainerError::Corrupt {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    write_atomic(path, &bytes)
}

/// Ok(None) when the file is missing or empty (a crash before the first rename leaves no file at all; an empty
/// one is treated the same way, as the agent contract says).
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ContainerError::io(path, e)),
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ContainerError::Corrupt {
            path: path.to_path_buf(),
            why: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_maps_to_mesos_states() {
        let t = Termination::from_wait_status(0, false);
        assert_eq!((t.state.as_str(), t.code), ("TASK_FINISHED", 0));
        let t = Termination::from_wait_status(256, false);
        assert_eq!((t.state.as_str(), t.code), ("TASK_FAILED", 1));
        let t = Termination::from_wait_status(9, true);
        assert_eq!((t.state.as_str(), t.code), ("TASK_KILLED", 137));
        assert!(t.message.contains("SIGKILL"), "{}", t.message);
    }

    #[test]
    fn empty_checkpoint_is_absent_and_writes_are_whole() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("state.json");
        assert!(read_json::<Termination>(&p).expect("read").is_none());
        fs::write(&p, b"").expect("write");
        assert!(read_json::<Termination>(&p).expect("read").is_none());
        let t = Termination::launch_failed("x".into(), 125);
        write_json(&p, &t).expect("write");
        assert_eq!(read_json::<Termination>(&p).expect("read"), Some(t));
        assert_eq!(
            fs::read_dir(d.path()).expect("ls").count(),
            1,
            "no temp files left"
        );
    }

    #[test]
    fn own_start_time_is_readable() {
        let me = Owner::current();
        assert!(me.start_time > 0);
        assert!(me.is_alive());
        assert!(!Owner {
            pid: me.pid,
            start_time: me.start_time + 1
        }
        .is_alive());
    }
}
