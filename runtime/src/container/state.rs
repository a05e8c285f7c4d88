//! The container's checkpointed state (`state.json`): its lifecycle state, what it was made from and with,
//! who owns it now, and its termination once it ended. Written through `checkpoint.rs`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::paths::DEFAULT_SANDBOX_DIRECTORY;
use super::termination::Termination;

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

/// A process that owns the container at a moment: the CLI while it provisions, then the supervisor. The start
/// time (from `/proc/<pid>/stat`) tells a live owner from a reused pid.
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

/// The start time of process `pid` (`process::stat`); None if it is gone or a zombie.
pub fn process_start_time(pid: i32) -> Option<u64> {
    crate::process::stat::Stat::of(pid)
        .filter(|s| !s.exited())
        .map(|s| s.start_time)
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
    /// The manifest digests of its image volumes, in the request's order, each recorded before its root
    /// filesystem is provisioned (`containerizer::image_volumes`): image garbage collection keeps them, and the
    /// teardown removes that many volume rootfs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_images: Vec<String>,
    /// The name of its cgroup (`/ucr/<cgroup_name>`): the id, or a hash of an id the kernel would refuse.
    /// (`libcontainer_id` in checkpoints of the first launcher, which handed it to libcontainer.)
    #[serde(alias = "libcontainer_id")]
    pub cgroup_name: String,
    pub cgroup: String,
    pub sandbox: String,
    /// The task's init pid (in the host's pid namespace) while it runs.
    #[serde(default)]
    pub pid: Option<i32>,
    /// The init's start time (clock ticks since boot, `/proc/<pid>/stat` field 22): tells the task from a later
    /// process that reused its pid, once nobody is its parent any more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    /// The init at `pid` is the task's reaper (`launcher::reaper`), not the task: a signal for every process
    /// of the container skips it, since it forwards what it gets to the task, which would then get it twice.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reaper: bool,
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
    DEFAULT_SANDBOX_DIRECTORY.to_string()
}

impl ContainerState {
    /// A record of `id` in `state` with nothing else set, for tests.
    #[cfg(test)]
    pub fn bare(id: &str, state: State) -> ContainerState {
        ContainerState {
            id: id.into(),
            state,
            image: None,
            image_digest: None,
            backend: None,
            rootfs: None,
            volume_images: Vec::new(),
            cgroup: String::new(),
            cgroup_name: String::new(),
            sandbox: String::new(),
            pid: None,
            pid_start: None,
            owner: None,
            created: 0,
            started: None,
            finished: None,
            user: None,
            ports: Vec::new(),
            isolation: Vec::new(),
            isolator_config: Default::default(),
            sandbox_directory: String::new(),
            status: serde_json::Map::new(),
            termination: None,
            torn_down: false,
            reaper: false,
        }
    }

    /// Its owner (the launching process while it provisions, then the supervisor) is alive.
    pub fn owner_alive(&self) -> bool {
        self.owner.is_some_and(|o| o.is_alive())
    }

    /// The task's init still runs (the same process: its start time is the one recorded).
    pub fn task_alive(&self) -> bool {
        match (self.pid, self.pid_start) {
            (Some(pid), Some(start)) => Owner {
                pid,
                start_time: start,
            }
            .is_alive(),
            // Checkpoints from before `pid_start`: the pid alone.
            (Some(pid), None) => process_start_time(pid).is_some(),
            _ => false,
        }
    }

    /// Not exited and nothing will get it there by itself: its owner died, and no task of it runs. Whoever
    /// finds it finishes it (teardown, and the termination its supervisor could not record).
    pub fn is_lost(&self) -> bool {
        self.is_live() && !self.owner_alive() && !self.task_alive()
    }

    /// Its supervisor died but its task still runs: it stays manageable (kill, wait, stats, rm), and whoever
    /// waits for it records its end when the task is gone.
    pub fn is_orphaned(&self) -> bool {
        self.is_live() && !self.owner_alive() && self.task_alive()
    }

    /// Holds resources: running, or on its way there or out.
    pub fn is_live(&self) -> bool {
        self.state != State::Exited
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

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
