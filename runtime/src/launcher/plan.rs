//! Everything the init does, decided in the supervisor before the init exists: the spec checked and decoded
//! (namespaces, mounts, devices, sysctls, rlimits, identity, capabilities, the seccomp filter compiled), so a
//! bad or unsupported field is a one-line error naming it rather than a failure inside the new namespaces.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, PosixRlimitType, Spec};
use rustix::process::{Resource, Rlimit};
use ucr_isolators::Placement;

use super::caps::{self, CapPlan};
use super::dev::{self, Node};
use super::error::{unsupported, LaunchError};
use super::mounts::{self, Planned};
use super::namespaces::{self, IdMaps};
use super::seccomp::{self, Filter};

/// The container's cgroup as the init sees it.
#[derive(Clone, Debug, Default)]
pub struct Cgroups {
    /// Each cgroup dir with its hierarchy's mount point (for a `type: cgroup` mount).
    pub dirs: Vec<(PathBuf, PathBuf)>,
    /// v1: the `tasks` files the init writes "0" to, joining its cgroup itself (see `Placement`).
    pub join: Vec<PathBuf>,
}

impl From<&Placement> for Cgroups {
    fn from(p: &Placement) -> Cgroups {
        Cgroups {
            dirs: p.dirs().to_vec(),
            join: p.self_join_files(),
        }
    }
}

pub struct Plan {
    /// The init is cloned by an intermediate process (`stage.rs`; why: `namespaces.rs`).
    pub staged: bool,
    pub clone_flags: u64,
    /// Namespaces joined by path by the init (`setns`), with their CLONE_NEW* type.
    pub join: Vec<(PathBuf, i32)>,
    /// Namespaces joined by path by the intermediate before it clones the init.
    pub pre_join: Vec<(PathBuf, i32)>,
    pub unshare_cgroup: bool,
    /// A mount namespace of its own, new or joined.
    pub mount_ns: bool,
    /// A new user namespace's uid and gid maps.
    pub id_maps: Option<IdMaps>,
    /// The container has a user namespace (new or joined).
    pub user_ns: bool,
    /// A new time namespace's clock offsets, written by the intermediate before it clones the init.
    pub time_offsets: Option<String>,
    /// The container has a time namespace (new or joined).
    pub time_ns: bool,
    pub hostname: Option<String>,
    pub oom_score_adj: Option<i32>,
    /// `process.terminal`: the init makes a pty in the container (`Stdio::Terminal`) as its stdio and controlling
    /// terminal.
    pub terminal: bool,
    /// `process.consoleSize` as (rows, columns).
    pub console_size: Option<(u16, u16)>,
    /// None: the host's root, kept (with a private mount namespace when `clone_flags` has one).
    pub rootfs: Option<PathBuf>,
    pub mounts: Vec<Planned>,
    pub cgroups: Cgroups,
    pub devices: Vec<Node>,
    /// `/proc/sys/...` files and their values.
    pub sysctl: Vec<(PathBuf, String)>,
    pub readonly_paths: Vec<String>,
    pub masked_paths: Vec<String>,
    pub readonly_root: bool,
    pub rlimits: Vec<(Resource, Rlimit)>,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub capabilities: Option<CapPlan>,
    pub no_new_privs: bool,
    /// `linux.personality`'s domain for personality(2).
    pub personality: Option<u64>,
    pub seccomp: Option<Filter>,
    pub cwd: PathBuf,
    pub program: Option<String>,
    pub args: Vec<CString>,
    pub env: Vec<String>,
    /// Fds 3 .. 3+n stay open across the exec (runc's `--preserve-fds`); the rest close.
    pub preserve_fds: u32,
    /// The task runs as a child of the init, which stays as its reaper and writes the task's wait status to
    /// this fd (`reaper.rs`); None: the init becomes the task, as runc's does (the OCI mode, a pod's pause).
    pub reaper: Option<i32>,
    /// Before `pivot_root` the init says "H" and waits for a byte: the OCI mode runs its prestart,
    /// createRuntime and createContainer hooks there, while the container's mount namespace still shows the
    /// runtime's paths.
    pub hooks_pause: bool,
    /// A new session keyring of this name (the OCI mode's, as runc's unless `--no-new-keyring`).
    pub session_keyring: Option<CString>,
    /// `chroot` into a moved rootfs instead of `pivot_root` (runc's `--no-pivot`).
    pub no_pivot: bool,
    /// runtime-spec `startContainer` hooks: run by the init after "go", before the exec, in the container.
    pub start_hooks: Vec<HookCmd>,
}

/// A hook as the init runs it: its path, argv and environment, and a timeout in seconds. The state it gets
/// on stdin comes with "go".
#[derive(Clone, Debug)]
pub struct HookCmd {
    pub path: CString,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub timeout: Option<u32>,
}

/// Check and decode `spec`. `program`, when given, is exec'd with `process.args` as the whole argv. Seccomp
/// filters are compiled into (or found in) `seccomp_cache`.
pub fn plan(
    spec: &Spec,
    program: Option<&str>,
    cgroups: Cgroups,
    seccomp_cache: &Path,
) -> Result<Plan, LaunchError> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| LaunchError::Spec("no process".into()))?;
    let linux = spec
        .linux()
        .as_ref()
        .ok_or_else(|| LaunchError::Spec("no linux section".into()))?;
    // No root: the task keeps the host's (a Mesos command task without an image).
    let root = spec.root().as_ref();
    if spec.hooks().is_some() {
        return Err(unsupported("hooks"));
    }
    if linux.intel_rdt().is_some() {
        return Err(unsupported("linux.intelRdt"));
    }
    let personality = personality(linux.personality().as_ref())?;
    if process.apparmor_profile().is_some() || process.selinux_label().is_some() {
        return Err(unsupported("an LSM label"));
    }
    let ns = namespaces::decode(linux)?;
    if !ns.mount && root.is_some() {
        return Err(LaunchError::Spec(
            "a container with a root needs its own mount namespace".into(),
        ));
    }
    let mounts = mounts::plan(
        spec.mounts().as_deref().unwrap_or_default(),
        ns.id_maps.as_ref(),
    )
    .map_err(LaunchError::Spec)?;
    let devices =
        dev::plan(linux.devices().as_deref().unwrap_or_default()).map_err(LaunchError::Spec)?;
    let readonly_paths = linux.readonly_paths().clone().unwrap_or_default();
    let masked_paths = linux.masked_paths().clone().unwrap_or_default();
    if root.is_none() {
        let asked = linux.devices().as_deref().unwrap_or_default();
        host_root_fits(ns.mount, &mounts, asked, &readonly_paths, &masked_paths)?;
    }
    let user = process.user();
    let c = |s: &String| {
        CString::new(s.as_bytes()).map_err(|_| LaunchError::Spec(format!("NUL in {s:?}")))
    };
    let args = process
        .args()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(c)
        .collect::<Result<Vec<_>, _>>()?;
    if args.is_empty() {
        return Err(LaunchError::Spec("process.args is empty".into()));
    }
    let mut sysctl = Vec::new();
    for (k, v) in linux.sysctl().iter().flatten() {
        sysctl.push((sysctl_file(k)?, v.clone()));
    }
    // Sorted so the writes do not depend on the map's order.
    sysctl.sort();
    Ok(Plan {
        staged: ns.staged(),
        clone_flags: ns.clone_flags,
        join: ns.join,
        pre_join: ns.pre_join,
        unshare_cgroup: ns.unshare_cgroup,
        mount_ns: ns.mount,
        id_maps: ns.id_maps,
        user_ns: ns.user,
        time_offsets: ns.time_offsets,
        time_ns: ns.time,
        hostname: spec.hostname().clone().filter(|_| ns.new_uts),
        oom_score_adj: process.oom_score_adj(),
        terminal: process.terminal() == Some(true),
        console_size: process.console_size().as_ref().map(|b| {
            let clamp = |v: u64| u16::try_from(v).unwrap_or(u16::MAX);
            (clamp(b.height()), clamp(b.width()))
        }),
        rootfs: root.map(|r| r.path().clone()),
        mounts,
        cgroups,
        devices,
        sysctl,
        readonly_paths,
        masked_paths,
        readonly_root: root.is_some_and(|r| r.readonly() == Some(true)),
        rlimits: process
            .rlimits()
            .iter()
            .flatten()
            .map(|r| (resource(r.typ()), limit(r.soft(), r.hard())))
            .collect(),
        uid: user.uid(),
        gid: user.gid(),
        additional_gids: user.additional_gids().clone().unwrap_or_default(),
        capabilities: process
            .capabilities()
            .as_ref()
            .map(caps::plan)
            .transpose()
            .map_err(LaunchError::Spec)?,
        no_new_privs: process.no_new_privileges() == Some(true),
        personality,
        seccomp: linux
            .seccomp()
            .as_ref()
            .map(|p| seccomp::prepare(p, seccomp_cache))
            .transpose()
            .map_err(|e| LaunchError::Spec(format!("linux.seccomp: {e}")))?,
        cwd: process.cwd().clone(),
        program: program.map(str::to_string),
        args,
        env: process.env().clone().unwrap_or_default(),
        preserve_fds: 0,
        reaper: None,
        hooks_pause: false,
        session_keyring: None,
        no_pivot: false,
        start_hooks: Vec::new(),
    })
}

/// What a task on the host's root can be given: mounts and protected paths only in a mount namespace of its
/// own (else they would be the host's), device nodes never (it has the host's /dev).
fn host_root_fits(
    new_mount: bool,
    mounts: &[Planned],
    devices: &[LinuxDevice],
    readonly: &[String],
    masked: &[String],
) -> Result<(), LaunchError> {
    if !devices.is_empty() {
        return Err(LaunchError::Spec(
            "linux.devices: a task on the host's root uses the host's /dev".into(),
        ));
    }
    let nothing_mounted = mounts.is_empty() && readonly.is_empty() && masked.is_empty();
    if !new_mount && !nothing_mounted {
        return Err(LaunchError::Spec(
            "mounts, maskedPaths and readonlyPaths without a root need a mount namespace of their own".into(),
        ));
    }
    Ok(())
}

/// `net.ipv4.ip_forward` is /proc/sys/net/ipv4/ip_forward; a name that could leave /proc/sys is refused.
fn sysctl_file(key: &str) -> Result<PathBuf, LaunchError> {
    if key.contains('/') || key.split('.').any(|p| p.is_empty() || p == "..") {
        return Err(LaunchError::Spec(format!(
            "linux.sysctl: {key:?} is not a kernel parameter name"
        )));
    }
    Ok(Path::new("/proc/sys").join(key.replace('.', "/")))
}

fn resource(t: PosixRlimitType) -> Resource {
    use PosixRlimitType as T;
    match t {
        T::RlimitCpu => Resource::Cpu,
        T::RlimitFsize => Resource::Fsize,
        T::RlimitData => Resource::Data,
        T::RlimitStack => Resource::Stack,
        T::RlimitCore => Resource::Core,
        T::RlimitRss => Resource::Rss,
        T::RlimitNproc => Resource::Nproc,
        T::RlimitNofile => Resource::Nofile,
        T::RlimitMemlock => Resource::Memlock,
        T::RlimitAs => Resource::As,
        T::RlimitLocks => Resource::Locks,
        T::RlimitSigpending => Resource::Sigpending,
        T::RlimitMsgqueue => Resource::Msgqueue,
        T::RlimitNice => Resource::Nice,
        T::RlimitRtprio => Resource::Rtprio,
        T::RlimitRttime => Resource::Rttime,
    }
}

/// RLIM_INFINITY (all ones) is "no limit".
fn limit(soft: u64, hard: u64) -> Rlimit {
    let v = |x: u64| (x != u64::MAX).then_some(x);
    Rlimit {
        current: v(soft),
        maximum: v(hard),
    }
}

/// `linux.personality`: the domain (LINUX or LINUX32, as runc); flags are refused, as runc refuses them.
fn personality(
    p: Option<&oci_spec::runtime::LinuxPersonality>,
) -> Result<Option<u64>, LaunchError> {
    use oci_spec::runtime::LinuxPersonalityDomain as D;
    let Some(p) = p else { return Ok(None) };
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(unsupported("linux.personality.flags"));
    }
    Ok(Some(match p.domain() {
        D::PerLinux => 0x0000,
        D::PerLinux32 => 0x0008,
    }))
}
