//! `create`: everything of a bundle's `config.json` but the user's program — the cgroup with its limits, the
//! init in its namespaces with its mounts, devices, identity and seccomp filter, the createRuntime/prestart and
//! createContainer hooks — then the init waits on `exec.fifo` for `start`, and this process exits: the init is
//! re-parented to the caller's reaper (containerd's shim is a child subreaper), as with runc.
//!
//! An error leaves nothing: the init is killed, the cgroup and the container's directory are removed.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;
use ucr_isolators::cgroups::{self, Hierarchy, Version};

use super::console;
use super::error::{OciError, Result};
use super::hooks::{self, Kind};
use super::record::{check_id, rfc3339, Record, Root};
use crate::launcher::{self, Cgroups};
use crate::process::stat::Stat;

#[derive(Clone, Debug, Default)]
pub struct CreateOptions {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// Fds 3 .. 3+n of the caller are passed to the container's process.
    pub preserve_fds: u32,
    /// runc's `--no-pivot`: `chroot` into the moved rootfs (for a rootfs on a ramdisk).
    pub no_pivot: bool,
    /// runc's `--no-new-keyring`: the container keeps the caller's session keyring.
    pub no_new_keyring: bool,
}

/// The bundle's spec with its root made absolute (a relative `root.path` is relative to the bundle).
pub fn load_spec(bundle: &Path) -> Result<(Spec, PathBuf)> {
    let config = bundle.join("config.json");
    let mut spec = read_spec(&config)?;
    let rootfs = match spec.root() {
        Some(r) if r.path().is_absolute() => r.path().clone(),
        Some(r) => bundle.join(r.path()),
        None => {
            return Err(OciError::Config {
                path: config,
                why: "root: a container needs a root filesystem".into(),
            })
        }
    };
    if !rootfs.is_dir() {
        return Err(OciError::Config {
            path: config,
            why: format!("root.path {} is not a directory", rootfs.display()),
        });
    }
    if let Some(r) = spec.root().clone() {
        let mut r = r;
        r.set_path(rootfs.clone());
        spec.set_root(Some(r));
    }
    Ok((spec, rootfs))
}

/// A runtime-spec config: a missing file says so, a malformed one says where (line, column, field).
pub fn read_spec(path: &Path) -> Result<Spec> {
    let text = std::fs::read(path).map_err(|e| OciError::io(path, e))?;
    let de = &mut serde_json::Deserializer::from_slice(&text);
    serde_path_to_error::deserialize(de).map_err(|e| OciError::Config {
        path: path.to_path_buf(),
        why: match e.path().to_string().as_str() {
            "." => e.inner().to_string(),
            field => format!("{field}: {}", e.inner()),
        },
    })
}

/// The container's cgroup: `linux.cgroupsPath` (a relative one under the hierarchy root too: runtime-spec lets
/// the runtime choose, and runc's choice, its caller's cgroup, differs per v1 hierarchy), else `/ucr-runc/<id>`.
pub fn cgroup_path(spec: &Spec, id: &str) -> PathBuf {
    match spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()) {
        Some(p) if p.is_absolute() => p,
        Some(p) if !p.as_os_str().is_empty() => Path::new("/").join(p),
        _ => Path::new("/ucr-runc").join(id),
    }
}

/// Create container `id` from `opts.bundle`; returns the init's pid.
pub fn create(root: &Root, id: &str, opts: &CreateOptions) -> Result<i32> {
    check_id(id)?;
    std::fs::create_dir_all(&root.dir).map_err(|e| OciError::io(&root.dir, e))?;
    let dir = root.container_dir(id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(OciError::Exists(id.to_string()))
        }
        Err(e) => return Err(OciError::io(&dir, e)),
    }
    let mut undo = Undo {
        dir: dir.clone(),
        cgroup: None,
        pid: None,
    };
    let pid = made(root, id, opts, &mut undo)?;
    undo.dir = PathBuf::new();
    undo.cgroup = None;
    undo.pid = None;
    Ok(pid)
}

fn made(root: &Root, id: &str, opts: &CreateOptions, undo: &mut Undo) -> Result<i32> {
    let bundle = std::path::absolute(&opts.bundle).map_err(|e| OciError::io(&opts.bundle, e))?;
    let (mut spec, rootfs) = load_spec(&bundle)?;
    let hooks = spec.hooks().clone();
    spec.set_hooks(None);
    // runtime.md: edits to the bundle's config.json after `create` change nothing; `exec` reads this copy.
    let copy = root.container_dir(id).join("config.json");
    spec.save(&copy).map_err(|e| OciError::Config {
        path: copy.clone(),
        why: e.to_string(),
    })?;
    let cgroup = cgroup_path(&spec, id);
    let resources = with_device_rules(&spec);
    let h = cgroups::host().map_err(|e| OciError::Cgroup(e.to_string()))?;
    let placement = cgroups::create::create(h.as_ref(), &cgroup, &resources)
        .map_err(|e| OciError::Cgroup(e.to_string()))?;
    undo.cgroup = Some((h.clone(), cgroup.clone()));
    device_filter(h.as_ref(), &placement, &resources)?;
    let mut plan = launcher::plan(
        &spec,
        None,
        Cgroups::from(&placement),
        &root.dir.join(".seccomp"),
    )
    .map_err(|e| OciError::Launch(e.to_string()))?;
    plan.preserve_fds = opts.preserve_fds;
    plan.no_pivot = opts.no_pivot;
    if !opts.no_new_keyring {
        // As runc: a keyring named after the container (ids are checked: no NUL).
        plan.session_keyring = std::ffi::CString::new(id).ok();
    }
    let stdio = console::stdio(opts.console_socket.as_deref(), &plan)?;
    plan.start_hooks = hooks::commands(hooks.as_ref(), Kind::StartContainer)?;
    let early = [Kind::Prestart, Kind::CreateRuntime, Kind::CreateContainer];
    for k in early {
        plan.hooks_pause |= !hooks::commands(hooks.as_ref(), k)?.is_empty();
    }
    let fifo = root.fifo(id);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .map_err(|e| OciError::io(&fifo, e.into()))?;
    // Read-write: the init's read then blocks until `start` writes, and never sees EOF meanwhile.
    let go = File::options()
        .read(true)
        .write(true)
        .open(&fifo)
        .map_err(|e| OciError::io(&fifo, e))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut rec = Record {
        id: id.to_string(),
        bundle,
        rootfs,
        pid: 0,
        start_time: 0,
        created: rfc3339(now.as_secs(), now.subsec_nanos()),
        annotations: spec
            .annotations()
            .clone()
            .map(|a| a.into_iter().collect())
            .unwrap_or_default(),
        cgroup,
        hooks,
    };
    // The init paused before pivot_root: the early hooks, then a byte through the FIFO lets it go on.
    let mut early_hooks = |pid: i32| -> std::result::Result<(), String> {
        let state = creating_state(&rec, pid);
        let cgroup_procs: Vec<PathBuf> = placement
            .dirs()
            .iter()
            .map(|(_, d)| d.join("cgroup.procs"))
            .collect();
        for k in early {
            let join = (k == Kind::CreateContainer).then_some(hooks::Join {
                pid,
                cgroup_procs: &cgroup_procs,
            });
            hooks::run(rec.hooks.as_ref(), k, &state, join).map_err(|e| e.to_string())?;
        }
        std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"C"))
            .map_err(|e| format!("{}: {e}", fifo.display()))
    };
    // SAFETY: the OCI front end runs single-threaded (no async runtime before this call).
    let pid = unsafe {
        launcher::create_waiting(
            &plan,
            &placement,
            stdio,
            OwnedFd::from(go),
            &mut early_hooks,
        )
    }
    .map_err(|e| OciError::Launch(e.to_string()))?;
    undo.pid = Some(pid);
    rec.pid = pid;
    rec.start_time = Stat::of(pid)
        .map(|s| s.start_time)
        .ok_or_else(|| OciError::Launch("the init exited before it was ready".into()))?;
    root.save(&rec)?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, pid)?;
    }
    Ok(pid)
}

/// The state the early hooks get: `creating`, with the init's pid.
fn creating_state(rec: &Record, pid: i32) -> serde_json::Value {
    let mut v = serde_json::json!({
        "ociVersion": super::record::OCI_VERSION,
        "id": rec.id,
        "status": "creating",
        "pid": pid,
        "bundle": rec.bundle,
    });
    if !rec.annotations.is_empty() {
        v["annotations"] = serde_json::json!(rec.annotations);
    }
    v
}

/// The config's device rules, then (as runc adds them) the default devices every container may use and the
/// config's own `linux.devices`: a config that denies all (podman's, containerd's) still gets its /dev/null.
fn with_device_rules(spec: &Spec) -> oci_spec::runtime::LinuxResources {
    let linux = spec.linux().as_ref();
    let mut resources = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let Some(mut rules) = resources.devices().clone() else {
        return resources;
    };
    rules.extend(cgroups::device_rules::rules(false).into_iter().skip(1));
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        let mut r = oci_spec::runtime::LinuxDeviceCgroup::default();
        r.set_allow(true)
            .set_typ(Some(d.typ()))
            .set_major(Some(d.major()))
            .set_minor(Some(d.minor()))
            .set_access(Some("rwm".into()));
        rules.push(r);
    }
    resources.set_devices(Some(rules));
    resources
}

/// v2's device rules are a BPF program on the cgroup (v1 wrote them to `devices.allow`/`deny` with the limits).
fn device_filter(
    h: &dyn Hierarchy,
    placement: &cgroups::create::Placement,
    resources: &oci_spec::runtime::LinuxResources,
) -> Result<()> {
    let Some(rules) = resources
        .devices()
        .as_ref()
        .filter(|_| h.version() == Version::V2)
    else {
        return Ok(());
    };
    let Some((_, dir)) = placement.dirs().first() else {
        return Ok(());
    };
    let prog = cgroups::bpf::compile(rules);
    let fd =
        cgroups::bpf::load(&prog).map_err(|e| OciError::Cgroup(format!("device filter: {e}")))?;
    cgroups::bpf::attach(&fd, dir)
        .map_err(|e| OciError::Cgroup(format!("device filter on {}: {e}", dir.display())))
}

/// Written whole under another name and renamed: the shim reads it as soon as `create` returns.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("ucr-tmp");
    std::fs::write(&tmp, pid.to_string()).map_err(|e| OciError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| OciError::io(path, e))
}

/// What a failed `create` removes.
struct Undo {
    dir: PathBuf,
    cgroup: Option<(std::sync::Arc<dyn Hierarchy>, PathBuf)>,
    pid: Option<i32>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            // SAFETY: our own child, not yet re-parented.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        if let Some((h, cgroup)) = &self.cgroup {
            let _ = cgroups::teardown::destroy(h.as_ref(), cgroup);
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
