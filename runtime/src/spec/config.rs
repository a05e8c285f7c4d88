//! `ContainerConfig`: what one container is asked to be, whatever the request came as (CLI flags, a Mesos
//! `LAUNCH_CONTAINER` call, a `TaskInfo`, a Marathon app). Checkpointed as JSON beside the container's state, so
//! every field is serde and plain data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ucr_registry::secret::Secret;
use ucr_registry::ImageName;

/// Where the request came from; decides the command rules (Mesos vs Docker containerizer) and extra env.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    #[default]
    Cli,
    LaunchContainer,
    TaskInfo,
    Marathon,
}

/// Which command rules apply (MESOS-SEMANTICS.md "Command").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ContainerType {
    #[default]
    Mesos,
    Docker,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerConfig {
    pub id: String,
    #[serde(default)]
    pub source: Source,
    #[serde(default)]
    pub container_type: ContainerType,
    /// None: the container runs on the host's root filesystem (Mesos "no image").
    #[serde(default)]
    pub image: Option<ImageSpec>,
    pub command: CommandSpec,
    /// `--entrypoint` (CLI) or a Docker `parameters` entrypoint: replaces the image ENTRYPOINT.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    /// `--workdir`: overrides the image WorkingDir.
    #[serde(default)]
    pub workdir: Option<String>,
    #[serde(default)]
    pub resources: Resources,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    /// Images whose root filesystems are volumes (Mesos `Volume.image`), provisioned at launch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_volumes: Vec<ImageVolume>,
    /// Local persistent volumes (Marathon `persistent`, Mesos `disk.persistence`), attached at launch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub persistent_volumes: Vec<PersistentVolume>,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub rlimits: Vec<Rlimit>,
    #[serde(default)]
    pub linux: LinuxSpec,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Health checks the supervisor runs (Marathon `healthChecks`, Mesos `health_check`).
    #[serde(default)]
    pub health_checks: Vec<super::health::HealthCheck>,
    /// A terminal for the task (Marathon `tty`, Mesos `tty_info`, `ucr run -t`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<Tty>,
    /// The task reads its launcher's stdin rather than /dev/null (`ucr run -i` in the foreground): the
    /// supervisor is given it at [`crate::supervisor::STDIN_FD`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stdin: bool,
    /// Remove everything, sandbox included, once the task has exited (`run --rm`).
    #[serde(default)]
    pub remove_on_exit: bool,
    /// Environment the orchestrator adds (Marathon's `MARATHON_APP_*`, `MESOS_TASK_ID`): below the request's
    /// env, above the image Env, as Marathon merges it into CommandInfo.environment (see `spec::env`).
    #[serde(default)]
    pub framework_env: Vec<(String, String)>,
    /// Secret env values (Mesos `Environment.Variable` of type SECRET with a VALUE, Marathon `env` entries
    /// `{"secret": name}`), resolved at parse time. Never checkpointed (skip) and never printed (`Secret`).
    #[serde(skip)]
    pub secret_env: Vec<(String, Secret)>,
    /// Secret volumes (Marathon `{containerPath, secret}`): a read-only file holding the value at the path,
    /// written at launch under the container's runtime dir and removed at teardown. Never checkpointed.
    #[serde(skip)]
    pub secret_volumes: Vec<(String, Secret)>,
    /// Seconds between SIGTERM and SIGKILL on kill (Mesos `kill_policy.grace_period`, Marathon
    /// `taskKillGracePeriodSeconds`); None = the runtime's default.
    #[serde(default)]
    pub kill_grace_period_secs: Option<f64>,
    /// A nested container's place under its parent (Mesos `ContainerID.parent`, a pod's containers); its `id`
    /// is then the parent's id, `/`, its own name (`pod/web`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nesting: Option<Nesting>,
    /// Fields of the request that were accepted and have no effect on one node: Marathon's scheduling fields, and
    /// by JSON path the fields the request's format does not know, skipped as Marathon's and Mesos's readers do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
}

/// The grace period of a kill policy that names none: Mesos's command executor waits 3 seconds between SIGTERM
/// and SIGKILL (`src/launcher/executor.cpp`, kept "for backwards compatibility").
pub const DEFAULT_KILL_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

impl ContainerConfig {
    /// The secret variables that reach the task: those the request's own env does not override (the
    /// precedence of `process::build_env`). Their values live only in the container's secrets
    /// (`containerizer::secrets`), never in its bundle.
    pub fn task_secret_env(&self) -> impl Iterator<Item = (&str, &str)> {
        self.secret_env
            .iter()
            .filter(|(k, _)| !self.command.env.iter().any(|(n, _)| n == k))
            .map(|(k, v)| (k.as_str(), v.expose()))
    }

    /// Seconds between SIGTERM and SIGKILL when the container is stopped or its health checks kill it.
    pub fn kill_grace(&self) -> std::time::Duration {
        self.kill_grace_period_secs
            .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
            .unwrap_or(DEFAULT_KILL_GRACE)
    }
}

/// An image's root filesystem as a volume (Mesos `Volume.image`, the `volume/image` isolator): pulled and
/// provisioned at launch as the container's own image is, and mounted at `container_path` (relative: in the
/// sandbox), read-only or read-write (writes go to the volume's own copy, gone with the container).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageVolume {
    pub container_path: String,
    pub mode: VolumeMode,
    pub image: ImageSpec,
}

// Debug is written by hand below: `docker_config` is a credential and must never reach a log line.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSpec {
    /// As written by the user (`busybox`, `reg:5000/a/b:1`, `oci-archive:F`), parsed when the request is, so a
    /// name that can never resolve fails before a container id is claimed; where the image comes from is
    /// decided when it is provided (`crate::images`).
    pub reference: ImageName,
    /// Mesos `cached`: false = fetch the manifest again (force pull); verified layers are still reused.
    #[serde(default = "yes")]
    pub cached: bool,
    /// A docker config.json given with the request (Mesos `docker.config`, Marathon `pullConfig`); a secret:
    /// never logged, and it is not checkpointed (skip_serializing) so it never lands on disk with the config.
    #[serde(skip)]
    pub docker_config: Option<String>,
}

impl std::fmt::Debug for ImageSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageSpec")
            .field("reference", &self.reference)
            .field("cached", &self.cached)
            .field(
                "docker_config",
                &self.docker_config.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandSpec {
    /// Mesos default: true.
    #[serde(default = "yes")]
    pub shell: bool,
    #[serde(default)]
    pub value: Option<String>,
    /// Full argv when `shell` is false and `value` is set (`argv[0]` included), else arguments after ENTRYPOINT.
    #[serde(default)]
    pub arguments: Vec<String>,
    /// Request environment, in order (later duplicates win).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub uris: Vec<UriSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UriSpec {
    pub value: String,
    #[serde(default = "yes")]
    pub extract: bool,
    #[serde(default)]
    pub executable: bool,
    #[serde(default)]
    pub cache: bool,
    #[serde(default)]
    pub output_file: Option<String>,
}

pub use ucr_isolators::vocab::*;

/// How a nested container sits under its parent: always in the parent's network and UTS namespaces and under
/// its cgroup (the envelope); the rest as Mesos's `LinuxInfo` asks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nesting {
    /// The parent's id (itself possibly nested: `pod/web`).
    pub parent: String,
    /// Mesos `linux_info.share_cgroups` (default true): no limits of its own, only the parent's envelope. False:
    /// its own limits in a cgroup under the parent's.
    #[serde(default = "yes")]
    pub share_cgroups: bool,
    /// Mesos `linux_info.share_pid_namespace` (default false).
    #[serde(default)]
    pub share_pid: bool,
    /// Mesos `linux_info.ipc_mode` SHARE_PARENT (the default for a nested container) rather than PRIVATE.
    #[serde(default = "yes")]
    pub share_ipc: bool,
    /// Marathon's pod semantics: when this container fails (exits non-zero, or is killed by anything but a kill
    /// of the pod), its parent and so every sibling is killed.
    #[serde(default)]
    pub kills_parent: bool,
}

/// A local persistent volume a container mounts: a directory under `<root>/volumes` that outlives the task
/// (see `volumes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistentVolume {
    /// Its name under `<root>/volumes`: `apps/<app>/<containerPath>` (Marathon) or `roles/<role>/<id>` (Mesos).
    pub name: String,
    /// Where it appears; relative = in the sandbox.
    pub container_path: String,
    pub mode: VolumeMode,
    /// Marathon `persistent.size` (MiB) or the Mesos disk resource's size.
    pub size_mb: Option<u64>,
}

/// A task's terminal: its stdin, stdout and stderr are one pseudo-terminal, whose output the supervisor writes
/// to the sandbox's `stdout` (Mesos's IO switchboard does the same). The size is Mesos `tty_info.window_size`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tty {
    pub rows: Option<u16>,
    pub columns: Option<u16>,
}
