//! The caller's half of a launch (CLI or agent): claim the id, provide the image (credential URIs fetched
//! first, see `fetcher::credentials`), provision the rootfs, resolve the process, let the isolators prepare,
//! fetch URIs, find the program and write the OCI bundle, then start the per-container
//! supervisor and wait for its first word. Every step is checkpointed before it starts; a failure at any step
//! records a `REASON_CONTAINER_LAUNCH_FAILED` termination and undoes what was done, so nothing is left
//! half-made. The steps split where a nested container joins its parent's namespaces (`Prepared::finish`),
//! so a pod's members can be made before their parent runs (`pending.rs`).

use std::borrow::Cow;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use ucr_isolators::{Contribution, Request};

use super::config::Config;
use super::provision::{checkpoint, killed_yet, provision, Provisioned};
use super::spawn::{start, Launched, Starting};
use crate::container::bundle::{self, runtime_spec, BundleInput};
use crate::container::checkpoint::write_json;
use crate::container::claim::ErasedJson;
use crate::container::error::{ContainerError, Result};
use crate::container::isolation;
use crate::container::paths::{cgroup_name, cgroup_parent, CONFIG_FILE, STATE_FILE};
use crate::container::ports;
use crate::container::remove::remove_files;
use crate::container::state::{now, ContainerState, Owner, State};
use crate::container::teardown::teardown;
use crate::container::termination::Termination;
use crate::fetcher::credentials::is_credential_uri;
use crate::fetcher::{fetch_uris, FetchOptions};
use crate::images::{Images, Notices};
use crate::process::resolve::Process;
use crate::process::{find_program, resolve_process};
use crate::spec::{self, ContainerConfig};
use crate::supervisor::Known;
use crate::volumes::VolumeRecord;

pub fn launch(
    config: &Config,
    images: &Images,
    cfg: &ContainerConfig,
    notices: &dyn Notices,
) -> Result<Launched> {
    begin(config, images, cfg, notices)?.started(&config.paths)
}

/// [`launch`] up to its supervisor's start: everything before is done (or undone and recorded on failure);
/// what is left is the supervisor's first word, `Starting::started`.
pub fn begin(
    config: &Config,
    images: &Images,
    cfg: &ContainerConfig,
    notices: &dyn Notices,
) -> Result<Starting> {
    begin_with(config, images, cfg, notices, |_, _| Ok(()))
}

/// [`begin`], `amend` given the request and the isolators' contribution before the bundle is written (a pod's
/// parent joins the pod's namespaces, `pod.rs`).
pub(super) fn begin_with(
    config: &Config,
    images: &Images,
    cfg: &ContainerConfig,
    notices: &dyn Notices,
    amend: impl FnOnce(&ContainerConfig, &mut Contribution) -> Result<()>,
) -> Result<Starting> {
    // A nested container stands on its running parent (`nested.rs`).
    let nested_in = match &cfg.nesting {
        Some(n) => Some(super::nested::parent_of(&config.paths, cfg, n)?),
        None => None,
    };
    let mut st = claim(config, cfg, nested_in.as_ref())?;
    begin_claimed(
        config,
        images,
        cfg,
        &mut st,
        nested_in.as_ref(),
        notices,
        amend,
    )
    .map_err(|e| removed_if_asked(config, cfg, &st, e))
}

/// [`begin_with`] of a container already claimed as `st`. A failure is undone and recorded, and the record
/// kept even when the request asks for its removal at exit: a pod's members, made beside it, are still in its
/// directory then (`pod.rs`); [`removed_if_asked`] is the caller's.
#[allow(clippy::too_many_arguments)]
pub(super) fn begin_claimed(
    config: &Config,
    images: &Images,
    cfg: &ContainerConfig,
    st: &mut ContainerState,
    nested_in: Option<&ContainerState>,
    notices: &dyn Notices,
    amend: impl FnOnce(&ContainerConfig, &mut Contribution) -> Result<()>,
) -> Result<Starting> {
    prepare(config, images, cfg, st, nested_in, notices)
        .and_then(|mut p| {
            amend(&p.cfg, &mut p.contribution)?;
            Ok(p)
        })
        .and_then(|p| p.finish(config, st, nested_in, notices))
        .and_then(|known| start_supervisor(config, images, known))
        .map_err(|e| undo_kept(config, images, st, e))
}

/// Starts the supervisor of the container `known` describes, as [`Prepared::finish`] left it.
pub(super) fn start_supervisor(config: &Config, images: &Images, known: Known) -> Result<Starting> {
    let id = known.state.id.clone();
    start(
        &config.paths,
        images.store_dir(),
        &config.supervisor,
        config.forker.as_deref(),
        &id,
        known,
    )
}

/// Claims the id (its runtime dir; `InUse` if taken) and checkpoints the request and its first state. A nested
/// container's cgroup and claim are under its parent's; a top-level one's stand on the instance.
pub(super) fn claim(
    config: &Config,
    cfg: &ContainerConfig,
    nested_in: Option<&ContainerState>,
) -> Result<ContainerState> {
    let id = cfg.id.as_str();
    let paths = &config.paths;
    if let Some(h) = &cfg.hostname {
        spec::validate_hostname(h)?;
    }
    let (cgroup, claim_in) = match nested_in {
        Some(p) => (super::nested::cgroup(p, id), paths.children(&p.id)),
        None => {
            spec::validate_id(&cfg.id)?;
            let parent = cgroup_parent(config.cgroups_root.as_deref(), paths)
                .map_err(|why| ContainerError::launch(id, "preparing", why, 125))?;
            (parent.join(cgroup_name(id)), paths.containers())
        }
    };
    fs::create_dir_all(&claim_in).map_err(|e| ContainerError::io(&claim_in, e))?;
    let name = cgroup
        .file_name()
        .map_or_else(|| cgroup_name(id), |n| n.to_string_lossy().into_owned());
    let st = ContainerState {
        volume_images: Vec::new(),
        id: id.to_string(),
        state: State::Starting,
        image: cfg.image.as_ref().map(|i| i.reference.to_string()),
        image_digest: None,
        backend: None,
        rootfs: None,
        cgroup: cgroup.to_string_lossy().into_owned(),
        cgroup_name: name,
        sandbox: paths.sandbox(id).to_string_lossy().into_owned(),
        pid: None,
        pid_start: None,
        owner: Some(Owner::current()),
        created: now(),
        started: None,
        finished: None,
        user: None,
        ports: Vec::new(),
        isolation: config.isolation.clone(),
        isolator_config: config.isolator_config.clone(),
        sandbox_directory: config.sandbox_directory.clone(),
        status: serde_json::Map::new(),
        termination: None,
        torn_down: false,
        reaper: false,
    };
    let files: [(&str, &dyn ErasedJson); 2] = [(CONFIG_FILE, cfg), (STATE_FILE, &st)];
    crate::container::claim::claim(paths, id, &files)?;
    Ok(st)
}

/// The undo of a failed launch, recorded: the id keeps its checkpoint (EXITED, launch failed) until `rm`, as
/// Mesos keeps a failed container's termination for WAIT_CONTAINER, unless the request asks for its removal at
/// exit. Returns the error.
pub(super) fn undo(
    config: &Config,
    images: &Images,
    cfg: &ContainerConfig,
    st: &mut ContainerState,
    e: ContainerError,
) -> ContainerError {
    let e = undo_kept(config, images, st, e);
    removed_if_asked(config, cfg, st, e)
}

/// [`undo`] with the record kept whatever the request asks.
pub(super) fn undo_kept(
    config: &Config,
    images: &Images,
    st: &mut ContainerState,
    e: ContainerError,
) -> ContainerError {
    let paths = &config.paths;
    st.state = State::Destroying;
    let _ = write_json(&paths.state_file(&st.id), st);
    st.torn_down = teardown(paths, images.store_dir(), st).is_ok();
    st.state = State::Exited;
    st.finished = Some(now());
    st.owner = None;
    st.termination = Some(Termination::launch_failed(e.to_string(), e.exit_code()));
    let _ = write_json(&paths.state_file(&st.id), st);
    e
}

/// The record of a launch that failed with `e`, removed when the request asks for that at exit. Returns `e`.
pub(super) fn removed_if_asked(
    config: &Config,
    cfg: &ContainerConfig,
    st: &ContainerState,
    e: ContainerError,
) -> ContainerError {
    if cfg.remove_on_exit {
        let _ = remove_files(&config.paths, &st.id);
    }
    e
}

/// A launch prepared up to the namespaces of its parent: what [`Prepared::finish`] needs to write the bundle and
/// fetch. A pod's members get this far while their parent starts (`pending.rs`).
pub(super) struct Prepared<'a> {
    /// The request, with an AppC image's app section filled in.
    cfg: Cow<'a, ContainerConfig>,
    process: Process,
    rootfs: Option<PathBuf>,
    contribution: Contribution,
    persistent: Vec<VolumeRecord>,
    /// The trust and stall timeout the pull used; the URIs are fetched with them.
    fetch: FetchOptions,
}

/// Provides the image and rootfs, allocates ports, resolves the process and lets the isolators prepare.
/// `nested_in` is the parent as its own launch left it (its ports and sandbox; it need not run yet).
pub(super) fn prepare<'a>(
    config: &Config,
    images: &Images,
    cfg: &'a ContainerConfig,
    st: &mut ContainerState,
    nested_in: Option<&ContainerState>,
    notices: &dyn Notices,
) -> Result<Prepared<'a>> {
    provision(config, images, cfg, st, notices)?.prepare(config, st, nested_in)
}

impl<'a> Provisioned<'a> {
    /// The rest of [`prepare`]: the sandbox, the ports, the process and the isolators' preparation.
    pub(super) fn prepare(
        self,
        config: &Config,
        st: &mut ContainerState,
        nested_in: Option<&ContainerState>,
    ) -> Result<Prepared<'a>> {
        let Provisioned {
            cfg: given,
            image,
            image_volumes,
            sandbox_dir,
            fetch,
        } = self;
        let (paths, id) = (&config.paths, given.id.as_str());
        let sandbox = paths.sandbox(id);
        let rootfs = image.as_ref().map(|(_, r)| r.as_path());
        let cfg: &ContainerConfig = &given;
        checkpoint(config, st, State::Preparing)?;
        fs::create_dir_all(&sandbox).map_err(|e| ContainerError::io(&sandbox, e))?;
        for f in ["stdout", "stderr"] {
            let p = sandbox.join(f);
            File::create(&p).map_err(|e| ContainerError::io(&p, e))?;
        }
        let port_lock = ports::lock(paths)?;
        st.ports = ports::allocate_in(paths, cfg, &config.agent_ports)?;
        checkpoint(config, st, State::Preparing)?;
        drop(port_lock);
        let mut extra_env = ports::marathon_env(cfg, &st.ports);
        if let Some(parent) = nested_in {
            extra_env.extend(super::nested::endpoint_env(paths, parent));
        }
        let process = resolve_process(
            cfg,
            image.as_ref().map(|(i, _)| i),
            rootfs,
            &sandbox_dir,
            &extra_env,
        )
        .map_err(|e| ContainerError::launch(id, "preparing", e.to_string(), e.exit_code()))?;
        st.user = process.user_note.clone();
        // The isolators decide everything the bundle adds to the process and its root (mounts, cgroup resources,
        // devices, limits, capabilities, seccomp, network). A failure here has cleaned up after itself; the teardown
        // after a failed launch runs cleanup again, which every isolator tolerates.
        let isolators = isolation::isolators(st)?;
        let places = isolation::Places::of(paths, st);
        let p = &process.process;
        let (mut volumes, persistent) = super::volumes::attach(paths, cfg, p.uid, p.gid)?;
        volumes.extend(image_volumes);
        let shared = ucr_isolators::vocab::Resources::default();
        let no_limits = ucr_isolators::vocab::Limits::default();
        if let Some(parent) = nested_in {
            super::nested::parent_volumes(paths, cfg, parent, &mut volumes, p.uid, p.gid)?;
        }
        let disks: Vec<_> = persistent.iter().filter_map(VolumeRecord::disk).collect();
        let mut request = Request {
            volumes: &volumes,
            persistent: &disks,
            ..isolation::request(cfg, st, p.uid, p.gid)
        };
        if let Some(n) = &cfg.nesting {
            if n.share_cgroups {
                // Only the parent's envelope limits it.
                request.resources = &shared;
                request.limits = &no_limits;
            }
        }
        let contribution = isolators
            .prepare(&places.container(), &request)
            .map_err(|e| ContainerError::launch(id, "preparing", e.to_string(), 125))?;
        Ok(Prepared {
            cfg: given,
            process: process.process,
            rootfs: image.map(|(_, r)| r),
            contribution,
            persistent,
            fetch,
        })
    }
}

impl Prepared<'_> {
    /// Joins the parent's namespaces (`nested_in` now running), writes the secrets, fetches the URIs into the
    /// sandbox, finds the program (where the task will see it, mounts and fetched files included) and writes
    /// the bundle. Returns what it wrote, for a supervisor forked from this process.
    pub(super) fn finish(
        self,
        config: &Config,
        st: &mut ContainerState,
        nested_in: Option<&ContainerState>,
        notices: &dyn Notices,
    ) -> Result<Known> {
        let Prepared {
            cfg,
            process: mut p,
            rootfs,
            mut contribution,
            persistent,
            mut fetch,
        } = self;
        let (paths, id) = (&config.paths, cfg.id.as_str());
        if let (Some(parent), Some(n)) = (nested_in, &cfg.nesting) {
            super::nested::join_parent(paths, parent, n, &mut contribution)?;
        }
        st.status = contribution.status.iter().cloned().collect();
        if !persistent.is_empty() {
            let shown = serde_json::to_value(&persistent).unwrap_or_default();
            st.status.insert("volumes/persistent".into(), shown);
        }
        checkpoint(config, st, State::Preparing)?;
        killed_yet(config, id, "preparing")?;
        let (bundle_dir, sandbox) = (paths.bundle(id), paths.sandbox(id));
        fs::create_dir_all(&bundle_dir).map_err(|e| ContainerError::io(&bundle_dir, e))?;
        let mut spec = runtime_spec(&BundleInput {
            config: &cfg,
            process: &p,
            rootfs: rootfs.as_deref(),
            sandbox_host: &sandbox,
            sandbox_in_container: &st.sandbox_directory,
            cgroups_path: Path::new(&st.cgroup),
            contribution: &contribution,
        })
        .map_err(|e| ContainerError::launch(id, "preparing", format!("OCI bundle: {e}"), 125))?;
        super::secrets::write_env(paths, &cfg)?;

        // The cgroup is made (limits written) and the init placed in it by the supervisor as it starts; it runs
        // the isolators' `isolate` between creating the init and letting it exec the task.
        checkpoint(config, st, State::Isolating)?;
        checkpoint(config, st, State::Fetching)?;
        // The credential URIs were fetched before the pull.
        let rest: Vec<_> = cfg
            .command
            .uris
            .iter()
            .filter(|u| !is_credential_uri(u))
            .cloned()
            .collect();
        // Cache entries are the task's user's own (keyed by uid, which is what owns them in the sandbox).
        fetch.cache = config.fetcher_cache.clone();
        fetch.observer = notices.fetch_observer();
        fetch.user = format!("uid {}", p.uid);
        fetch_uris(id, &rest, &sandbox, &fetch)?;
        if p.uid != 0 {
            crate::container::sandbox::give_to(&sandbox, p.uid, p.gid).map_err(|e| {
                let why = format!("giving the sandbox to uid {}: {e}", p.uid);
                ContainerError::launch(id, "fetching", why, 125)
            })?;
        }
        killed_yet(config, id, "fetching")?;
        // The program where the task will find it: in a volume, or fetched into the sandbox just now, as well as
        // in the image. Not found is 127, found but not runnable 126, before anything starts.
        find_program(&mut p, &bundle::view(&spec))
            .map_err(|e| ContainerError::launch(id, "preparing", e.to_string(), e.exit_code()))?;
        bundle::set_program(&mut spec, p.program.as_deref());
        write_json(&bundle_dir.join("config.json"), &spec)?;
        Ok(Known {
            state: st.clone(),
            config: cfg.into_owned(),
            spec,
        })
    }
}
