//! The caller's half of a launch (CLI or agent): claim the id, provision the rootfs, resolve the command, write
//! the OCI bundle, fetch URIs, then start the per-container supervisor and wait for its first word. Every step
//! is checkpointed before it starts; a failure at any step records a `REASON_CONTAINER_LAUNCH_FAILED`
//! termination and undoes what was done, so nothing is left half-made.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use ucr_registry::manifest::RunConfig;

use super::destroy::teardown;
use super::error::{ContainerError, Result};
use super::isolation;
use super::oci::{runtime_spec, BundleInput};
use super::paths::{cgroup_path, libcontainer_id, Paths};
use super::process::resolve_process;
use super::state::{now, write_json, ContainerState, Owner, State, Termination};
use crate::provisioner;
use crate::spec::{self, ContainerConfig, ImageSpec};

/// An image made ready for a container: its layer dirs (lowest first) and its run config.
pub struct ResolvedImage {
    pub reference: String,
    pub digest: String,
    pub layers: Vec<PathBuf>,
    pub config: RunConfig,
}

/// How the launcher gets images (the CLI pulls with its registry options; tests may hand in a store).
pub trait Images {
    fn resolve(&self, image: &ImageSpec) -> Result<ResolvedImage>;
}

pub struct Launcher<'a> {
    pub paths: &'a Paths,
    pub store_dir: &'a Path,
    /// `--image_provisioner_backend`; None = probe.
    pub backend: Option<&'a str>,
    /// `--sandbox_directory`.
    pub sandbox_directory: &'a str,
    /// The `ucr` executable and the global options to start the supervisor with.
    pub exe: &'a Path,
    pub global_args: Vec<OsString>,
    pub images: &'a dyn Images,
    /// `--isolation` (Mesos names) and the settings the isolators read; checkpointed with the container.
    pub isolation: &'a [String],
    pub isolator_config: &'a ucr_isolators::Config,
    /// The agent's `ports` ranges host ports are given from (empty: Mesos's default 31000-32000).
    pub agent_ports: &'a [(u16, u16)],
}

/// A started container: the supervisor's pipe (a line `exited <termination json>`, then EOF when it is done) and
/// the supervisor itself. The reader is kept buffered: the `exited` line may already sit behind `started`.
pub struct Launched {
    pub pid: i32,
    pub done: BufReader<File>,
    supervisor: Supervisor,
}

/// How the supervisor was started: forked from this process, or `ucr __supervise` exec'd.
enum Supervisor {
    Forked(i32),
    Exec(Child),
}

impl Supervisor {
    fn wait(&mut self) {
        match self {
            // SAFETY: waitpid on our own child; the status is not needed.
            Supervisor::Forked(pid) => unsafe {
                libc::waitpid(*pid, std::ptr::null_mut(), 0);
            },
            Supervisor::Exec(c) => {
                let _ = c.wait();
            }
        }
    }
}

impl Launched {
    /// After the pipe's EOF: the supervisor has done everything (teardown, `--rm`) and is only exiting. Reap it
    /// if it is gone already; otherwise leave its exit (unmapping its memory takes a few hundred microseconds) to
    /// whoever inherits it when this process ends.
    pub fn release_supervisor(self) {
        match self.supervisor {
            // SAFETY: a non-blocking waitpid on our own child.
            Supervisor::Forked(pid) => unsafe {
                libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG);
            },
            Supervisor::Exec(mut c) => {
                let _ = c.try_wait();
            }
        }
    }
}

/// One thread only: then a fork is a complete copy that may run any code (no lock is held by a thread that
/// the child would not have).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.split_whitespace().eq(["Threads:", "1"]))
        })
        .unwrap_or(false)
}

impl Launcher<'_> {
    pub fn launch(&self, cfg: &ContainerConfig) -> Result<Launched> {
        spec::validate_id(&cfg.id)?;
        let id = cfg.id.as_str();
        let paths = self.paths;
        fs::create_dir_all(paths.containers())
            .map_err(|e| ContainerError::io(paths.containers(), e))?;
        match fs::create_dir(paths.runtime(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(ContainerError::InUse(id.to_string()))
            }
            Err(e) => return Err(ContainerError::io(paths.runtime(id), e)),
        }
        let lcid = libcontainer_id(id);
        let mut st = ContainerState {
            id: id.to_string(),
            state: State::Starting,
            image: cfg.image.as_ref().map(|i| i.reference.clone()),
            image_digest: None,
            backend: None,
            rootfs: None,
            cgroup: cgroup_path(&lcid).to_string_lossy().into_owned(),
            libcontainer_id: lcid,
            sandbox: paths.sandbox(id).to_string_lossy().into_owned(),
            pid: None,
            owner: Some(Owner::current()),
            created: now(),
            started: None,
            finished: None,
            user: None,
            ports: Vec::new(),
            isolation: self.isolation.to_vec(),
            isolator_config: self.isolator_config.clone(),
            sandbox_directory: self.sandbox_directory.to_string(),
            status: serde_json::Map::new(),
            termination: None,
            torn_down: false,
        };
        write_json(&paths.config_file(id), cfg)?;
        write_json(&paths.state_file(id), &st)?;
        match self
            .prepare(cfg, &mut st)
            .and_then(|()| self.spawn(&mut st))
        {
            Ok(l) => Ok(l),
            // The supervisor has recorded the failure and torn down; its record stands.
            Err(e @ ContainerError::Started { .. }) => Err(e),
            Err(e) => {
                // Undo and record: the id keeps its checkpoint (EXITED, launch failed) until `rm`, as Mesos keeps a
                // failed container's termination for WAIT_CONTAINER.
                st.state = State::Destroying;
                let _ = write_json(&paths.state_file(id), &st);
                st.torn_down = teardown(paths, self.store_dir, &st).is_ok();
                st.state = State::Exited;
                st.finished = Some(now());
                st.owner = None;
                st.termination = Some(Termination::launch_failed(e.to_string(), e.exit_code()));
                let _ = write_json(&paths.state_file(id), &st);
                if cfg.remove_on_exit {
                    let _ = super::remove::remove_files(paths, id);
                }
                Err(e)
            }
        }
    }

    fn checkpoint(&self, st: &mut ContainerState, s: State) -> Result<()> {
        st.state = s;
        write_json(&self.paths.state_file(&st.id), st)
    }

    fn prepare(&self, cfg: &ContainerConfig, st: &mut ContainerState) -> Result<()> {
        let (paths, id) = (self.paths, cfg.id.as_str());
        self.checkpoint(st, State::Provisioning)?;
        let image = match &cfg.image {
            Some(i) => self.images.resolve(i)?,
            None => {
                return Err(launch_err(
                    id,
                    "provisioning",
                    "the container has no image; ucr runs containers from images only".into(),
                    125,
                ))
            }
        };
        st.image = Some(image.reference.clone());
        st.image_digest = Some(image.digest.clone());
        let backend = provisioner::select(self.backend, &paths.provisioner(), self.store_dir)?;
        st.backend = Some(backend.name().to_string());
        self.checkpoint(st, State::Provisioning)?;
        let rootfs = backend.provision(id, &image.layers)?;
        st.rootfs = Some(rootfs.to_string_lossy().into_owned());

        self.checkpoint(st, State::Preparing)?;
        let sandbox = paths.sandbox(id);
        fs::create_dir_all(&sandbox).map_err(|e| ContainerError::io(&sandbox, e))?;
        for f in ["stdout", "stderr"] {
            let p = sandbox.join(f);
            File::create(&p).map_err(|e| ContainerError::io(&p, e))?;
        }
        let port_lock = super::ports::lock(paths)?;
        st.ports = super::ports::allocate_in(paths, cfg, self.agent_ports)?;
        self.checkpoint(st, State::Preparing)?;
        drop(port_lock);
        let extra_env = super::ports::marathon_env(cfg, &st.ports);
        let process = resolve_process(
            cfg,
            &image.config,
            &rootfs,
            self.sandbox_directory,
            &extra_env,
        )?;
        st.user = process.user_note.clone();
        // The isolators decide everything the bundle adds to the process and its root (mounts, cgroup
        // resources, devices, limits, capabilities, seccomp, network). A failure here has cleaned up after
        // itself; the teardown below runs cleanup again, which every isolator tolerates.
        let isolators = isolation::isolators(st)?;
        let places = isolation::Places::of(paths, st);
        let p = &process.process;
        let contribution = isolators
            .prepare(
                &places.container(),
                &isolation::request(cfg, st, p.uid, p.gid),
            )
            .map_err(|e| launch_err(id, "preparing", e.to_string(), 125))?;
        st.status = contribution.status.iter().cloned().collect();
        self.checkpoint(st, State::Preparing)?;
        let bundle = paths.bundle(id);
        fs::create_dir_all(&bundle).map_err(|e| ContainerError::io(&bundle, e))?;
        let spec = runtime_spec(&BundleInput {
            config: cfg,
            process: p,
            rootfs: &rootfs,
            sandbox_host: &sandbox,
            sandbox_in_container: self.sandbox_directory,
            cgroups_path: Path::new(&st.cgroup),
            contribution: &contribution,
        });
        write_json(&bundle.join("config.json"), &spec)?;

        // Cgroups are created (limits written) and the init placed in them by the supervisor as it starts; it
        // runs the isolators' `isolate` between creating the init and letting it exec the task.
        self.checkpoint(st, State::Isolating)?;
        self.checkpoint(st, State::Fetching)?;
        super::fetch::fetch_uris(id, &cfg.command.uris, &sandbox)?;
        if paths.kill_marker(id).exists() {
            return Err(launch_err(
                id,
                "fetching",
                "killed before the task started".into(),
                137,
            ));
        }
        Ok(())
    }

    /// Start the supervisor and read its first line.
    ///
    /// A single-threaded caller (the CLI's `run`) forks it: the supervisor then starts without a second exec of
    /// `ucr` (loading and relocating the binary again is most of a millisecond of every launch). Otherwise it
    /// execs `ucr __supervise` with the same global options.
    fn spawn(&self, st: &mut ContainerState) -> Result<Launched> {
        let id = st.id.clone();
        let paths = self.paths;
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| ContainerError::io("pipe", e.into()))?;
        let log_path = paths.supervisor_log(&id);
        let log = File::create(&log_path).map_err(|e| ContainerError::io(&log_path, e))?;
        let child = if single_threaded() {
            self.fork_supervisor(&id, &write, log)?
        } else {
            self.exec_supervisor(&id, &write, log)?
        };
        drop::<OwnedFd>(write);
        let mut done = BufReader::new(File::from(read));
        let mut line = String::new();
        done.read_line(&mut line)
            .map_err(|e| ContainerError::io(paths.supervisor_log(&id), e))?;
        let line = line.trim_end();
        if let Some(pid) = line.strip_prefix("started ") {
            let pid = pid.parse().unwrap_or(0);
            return Ok(Launched {
                pid,
                done,
                supervisor: child,
            });
        }
        // The supervisor recorded the failure and tore down itself; report it with its exit code.
        let mut child = child;
        child.wait();
        let (code, msg) = match line.strip_prefix("failed ") {
            Some(rest) => {
                let (c, m) = rest.split_once(' ').unwrap_or((rest, ""));
                (c.parse().unwrap_or(125), m.to_string())
            }
            None => {
                let log = fs::read_to_string(paths.supervisor_log(&id)).unwrap_or_default();
                (
                    125,
                    format!(
                        "container {id}: supervisor ended without starting the task: {}",
                        log.trim()
                    ),
                )
            }
        };
        Err(ContainerError::Started { id, why: msg, code })
    }
}

impl Launcher<'_> {
    fn fork_supervisor(&self, id: &str, notify: &OwnedFd, log: File) -> Result<Supervisor> {
        let null = File::open("/dev/null").map_err(|e| ContainerError::io("/dev/null", e))?;
        // SAFETY: the caller checked that this process has one thread, so the child is a whole copy of it. The
        // child never returns into the caller's code: it runs the supervisor and `_exit`s.
        match unsafe { libc::fork() } {
            -1 => Err(ContainerError::io("fork", std::io::Error::last_os_error())),
            0 => {
                // SAFETY: plain fd and session calls on fds this process owns.
                unsafe {
                    // Own session: Ctrl-C at the caller's terminal must not reach the supervisor.
                    libc::setsid();
                    libc::dup2(null.as_raw_fd(), 0);
                    libc::dup2(null.as_raw_fd(), 1);
                    libc::dup2(log.as_raw_fd(), 2);
                    // Nothing of the caller's stays open here (a lock it holds, the pipe's read end): only the
                    // pipe's write end, at 3 as for the exec'd supervisor.
                    if notify.as_raw_fd() != 3 {
                        libc::dup2(notify.as_raw_fd(), 3);
                    }
                    libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32);
                }
                let code = super::supervisor::supervise(&super::supervisor::SuperviseArgs {
                    paths: self.paths,
                    store_dir: self.store_dir,
                    id,
                    notify_fd: Some(3),
                });
                // SAFETY: ends the child without running the caller's exit handlers or unwinding into its code.
                unsafe { libc::_exit(code) }
            }
            pid => Ok(Supervisor::Forked(pid)),
        }
    }

    fn exec_supervisor(&self, id: &str, notify: &OwnedFd, log: File) -> Result<Supervisor> {
        let wfd = notify.as_raw_fd();
        let mut cmd = Command::new(self.exe);
        cmd.args(&self.global_args)
            .arg("__supervise")
            .arg("--notify-fd")
            .arg("3")
            .arg("--")
            .arg(id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        // SAFETY: only async-signal-safe calls (setsid, dup2) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // Own session: Ctrl-C at the caller's terminal must not reach the supervisor.
                libc::setsid();
                if libc::dup2(wfd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| ContainerError::io(self.exe, e))?;
        Ok(Supervisor::Exec(child))
    }
}

pub fn launch_err(id: &str, step: &'static str, why: String, code: i32) -> ContainerError {
    ContainerError::Launch {
        id: id.to_string(),
        step,
        why,
        code,
    }
}
