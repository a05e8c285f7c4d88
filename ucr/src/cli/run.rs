//! `ucr run` and `ucr launch`: a config from flags or from a JSON request, launched through the containerizer;
//! in the foreground the task's output is streamed from the sandbox files and ucr exits with the task's code.

use std::fs::File;
use std::io::{BufRead, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::{bail, Context};
use clap::Args;

use ucr_runtime::container::state::Termination;
use ucr_runtime::container::{ops, Launched, Launcher};
use ucr_runtime::spec::{
    self, CommandSpec, ContainerConfig, ContainerType, ImageSpec, NetworkMode, PortMapping,
    Resources, Volume, VolumeMode, VolumeSource,
};

use super::launcher::{exe, global_args, paths, CliImages};
use super::{Cli, RegistryArgs};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Container id (default: a random one).
    #[arg(long)]
    pub name: Option<String>,
    /// Start and print the id; don't wait.
    #[arg(long, short)]
    pub detach: bool,
    /// Remove the container (sandbox included) once it exits.
    #[arg(long)]
    pub rm: bool,
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Memory in MB.
    #[arg(long)]
    pub mem: Option<f64>,
    #[arg(long)]
    pub pids: Option<u64>,
    /// Hard CPU cap (Mesos `limits.cpus`): a CFS quota; `--cpus` then only weighs shares.
    #[arg(long = "cpus-limit")]
    pub cpus_limit: Option<f64>,
    /// Hard memory cap in MB (Mesos `limits.mem`), above `--mem`.
    #[arg(long = "mem-limit")]
    pub mem_limit: Option<f64>,
    /// Every capability, every device, no seccomp filter, unmasked /proc and /sys.
    #[arg(long)]
    pub privileged: bool,
    /// Effective capabilities (Mesos names, e.g. NET_ADMIN), replacing the default set; repeatable.
    #[arg(long = "cap")]
    pub cap: Vec<String>,
    /// Bounding capabilities (default: the effective set); repeatable.
    #[arg(long = "bounding-cap")]
    pub bounding_cap: Vec<String>,
    /// `unconfined`, or a profile name in --seccomp-config-dir.
    #[arg(long)]
    pub seccomp: Option<String>,
    /// TYPE=SOFT[:HARD] (e.g. nofile=4096:8192, core=unlimited); repeatable.
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Size of /dev/shm in MB.
    #[arg(long = "shm-size")]
    pub shm_size: Option<u64>,
    /// K=V, or K to pass the caller's value; repeatable.
    #[arg(long, short)]
    pub env: Vec<String>,
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    #[arg(long, short = 'w')]
    pub workdir: Option<String>,
    #[arg(long, short)]
    pub user: Option<String>,
    /// HOST:CONTAINER[:ro|rw]; repeatable.
    #[arg(long, short)]
    pub volume: Vec<String>,
    /// host (default), none, or a CNI network name.
    #[arg(long, default_value = "host")]
    pub network: String,
    /// [HOSTPORT:]CONTAINERPORT[/tcp|udp]; repeatable.
    #[arg(long, short)]
    pub publish: Vec<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    /// Replace the image ENTRYPOINT.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Run CMD as `/bin/sh -c CMD` (the Mesos default for a command value; ignores ENTRYPOINT).
    #[arg(long)]
    pub shell: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    pub image: String,
    /// Command and arguments (replace the image CMD, like `docker run`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

pub fn run(cli: &Cli, a: &RunArgs) -> anyhow::Result<i32> {
    let cfg = config_from_args(a)?;
    start(cli, &a.registry, cfg, a.detach, a.rm)
}

#[derive(Args, Debug)]
pub struct LaunchArgs {
    /// A Mesos LAUNCH_CONTAINER call, a TaskInfo or a Marathon app, as JSON; `-` reads stdin.
    pub file: String,
    #[arg(long, short)]
    pub detach: bool,
    #[arg(long)]
    pub rm: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn launch(cli: &Cli, a: &LaunchArgs) -> anyhow::Result<i32> {
    let text = if a.file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading stdin")?;
        s
    } else {
        std::fs::read_to_string(&a.file).with_context(|| a.file.clone())?
    };
    let cfg = spec::parse_request(&text).with_context(|| a.file.clone())?;
    start(cli, &a.registry, cfg, a.detach, a.rm)
}

fn start(
    cli: &Cli,
    registry: &RegistryArgs,
    mut cfg: ContainerConfig,
    detach: bool,
    rm: bool,
) -> anyhow::Result<i32> {
    // Detached: the supervisor removes it at the end; in the foreground we read the termination first.
    cfg.remove_on_exit = rm && detach;
    let paths = paths(cli);
    let images = CliImages {
        cli,
        registry,
        quiet: detach,
    };
    let exe = exe();
    let isolation = cli.isolation.resolve()?;
    let launcher = Launcher {
        paths: &paths,
        store_dir: &cli.store_dir(),
        backend: cli.image_provisioner_backend.as_deref(),
        sandbox_directory: &cli.sandbox_directory,
        exe: &exe,
        global_args: global_args(cli),
        images: &images,
        isolation: &isolation.names,
        isolator_config: &isolation.config,
        agent_ports: &isolation.ports,
    };
    let launched = match launcher.launch(&cfg) {
        Ok(l) => l,
        Err(e) => {
            let code = e.exit_code();
            eprintln!("ucr: {e}");
            // Only a container this run claimed is ours to remove (never the one already holding the name).
            if rm && !matches!(e, ucr_runtime::container::ContainerError::InUse(_)) {
                let _ = ops::remove(&paths, &cli.store_dir(), &cfg.id, true);
            }
            return Ok(code);
        }
    };
    if detach {
        println!("{}", cfg.id);
        return Ok(0);
    }
    let sandbox = paths.sandbox(&cfg.id);
    let t = follow(&paths, &cfg.id, &sandbox, launched)?;
    // A task ended for a limit exits 137 like any SIGKILL: say why, or the operator cannot tell an OOM from a
    // kill. The message's first clause names the limit and the peak.
    if let Some(reason) = t.reason.as_deref().filter(|r| r.contains("LIMITATION")) {
        let why = t.message.split("; ").next().unwrap_or(&t.message);
        eprintln!("ucr: container {}: {reason}: {why}", cfg.id);
    }
    if rm {
        ops::remove(&paths, &cli.store_dir(), &cfg.id, true)?;
    }
    Ok(t.code)
}

static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

/// Stream the sandbox's stdout/stderr until the supervisor says the task exited; forward SIGINT/SIGTERM/SIGHUP
/// to the task, like `docker run` does.
fn follow(
    paths: &ucr_runtime::container::Paths,
    id: &str,
    sandbox: &Path,
    mut l: Launched,
) -> anyhow::Result<Termination> {
    for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic; no SA_RESTART so poll() returns EINTR promptly.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
    let mut out = File::open(sandbox.join("stdout")).context("sandbox stdout")?;
    let mut err = File::open(sandbox.join("stderr")).context("sandbox stderr")?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut pump = |f: &mut File, to: &mut dyn Write| -> std::io::Result<bool> {
        let mut any = false;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                return Ok(any);
            }
            any = true;
            to.write_all(&buf[..n])?;
            to.flush()?;
        }
    };
    let mut idle_ms = 1;
    let termination = loop {
        let a = pump(&mut out, &mut std::io::stdout())?;
        let b = pump(&mut err, &mut std::io::stderr())?;
        let sig = SIGNALLED.swap(0, Ordering::SeqCst);
        if sig != 0 {
            let _ = ops::kill(paths, id, sig);
        }
        if l.done.buffer().is_empty() {
            idle_ms = if a || b { 1 } else { (idle_ms * 2).min(50) };
            let fd = l.done.get_ref().as_fd();
            let mut fds = [rustix::event::PollFd::new(
                &fd,
                rustix::event::PollFlags::IN,
            )];
            let timeout = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: idle_ms * 1_000_000,
            };
            match rustix::event::poll(&mut fds, Some(&timeout)) {
                Ok(0) | Err(rustix::io::Errno::INTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut line = String::new();
        let n = l.done.read_line(&mut line)?;
        if let Some(json) = line.trim_end().strip_prefix("exited ") {
            break serde_json::from_str::<Termination>(json)
                .context("supervisor's termination line")?;
        }
        if n == 0 {
            // EOF without a termination line: the supervisor died; the checkpoint tells the rest.
            break ops::wait(paths, id, None)?;
        }
    };
    pump(&mut out, &mut std::io::stdout())?;
    pump(&mut err, &mut std::io::stderr())?;
    // EOF: the supervisor is done (its teardown and `--rm` included) and closes the pipe just before it exits.
    let mut rest = Vec::new();
    let _ = l.done.read_to_end(&mut rest);
    l.release_supervisor();
    Ok(termination)
}

fn random_id() -> String {
    let mut b = [0u8; 6];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b.copy_from_slice(&(t as u64 ^ std::process::id() as u64).to_le_bytes()[..6]);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn config_from_args(a: &RunArgs) -> anyhow::Result<ContainerConfig> {
    let mut env = Vec::new();
    for f in &a.env_file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("--env-file {}", f.display()))?;
        for line in text.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                env.push(env_pair(line));
            }
        }
    }
    env.extend(a.env.iter().map(|e| env_pair(e)));
    let env: Vec<(String, String)> = env.into_iter().flatten().collect();
    let (container_type, command) = if a.shell {
        if a.cmd.is_empty() {
            bail!("--shell: no command given");
        }
        (
            ContainerType::Mesos,
            CommandSpec {
                shell: true,
                value: Some(a.cmd.join(" ")),
                ..CommandSpec::default()
            },
        )
    } else {
        // Docker rules for the CLI (what `docker run IMAGE CMD...` users expect): CMD... replaces the image CMD and
        // follows the ENTRYPOINT.
        let mut it = a.cmd.iter().cloned();
        (
            ContainerType::Docker,
            CommandSpec {
                shell: false,
                value: it.next(),
                arguments: it.collect(),
                ..CommandSpec::default()
            },
        )
    };
    let mut volumes = Vec::new();
    for v in &a.volume {
        volumes.push(parse_volume(v)?);
    }
    let mut port_mappings = Vec::new();
    for p in &a.publish {
        port_mappings.push(parse_publish(p)?);
    }
    let mode = match a.network.as_str() {
        "host" => NetworkMode::Host,
        "none" => NetworkMode::None,
        n => NetworkMode::Cni(n.to_string()),
    };
    Ok(ContainerConfig {
        id: a.name.clone().unwrap_or_else(random_id),
        container_type,
        image: Some(ImageSpec {
            reference: a.image.clone(),
            cached: true,
            docker_config: None,
        }),
        command: CommandSpec {
            env,
            user: a.user.clone(),
            ..command
        },
        entrypoint: a.entrypoint.as_ref().map(|e| vec![e.clone()]),
        workdir: a.workdir.clone(),
        resources: Resources {
            cpus: a.cpus,
            mem_mb: a.mem,
            pids: a.pids,
            ..Resources::default()
        },
        volumes,
        network: spec::NetworkSpec {
            mode,
            port_mappings,
        },
        hostname: a.hostname.clone(),
        limits: spec::Limits {
            cpus: a.cpus_limit,
            mem_mb: a.mem_limit,
        },
        rlimits: a
            .ulimit
            .iter()
            .map(|u| parse_ulimit(u))
            .collect::<anyhow::Result<_>>()?,
        linux: spec::LinuxSpec {
            privileged: a.privileged,
            effective_capabilities: (!a.cap.is_empty()).then(|| a.cap.clone()),
            bounding_capabilities: (!a.bounding_cap.is_empty()).then(|| a.bounding_cap.clone()),
            seccomp: a.seccomp.clone(),
            shm_size: a.shm_size,
            ..spec::LinuxSpec::default()
        },
        ..ContainerConfig::default()
    })
}

/// Docker's `--ulimit` form: `nofile=4096:8192`, `core=unlimited`, `stack=8192` (soft = hard).
fn parse_ulimit(u: &str) -> anyhow::Result<spec::Rlimit> {
    let Some((kind, values)) = u.split_once('=') else {
        bail!("--ulimit {u}: expected TYPE=SOFT[:HARD]");
    };
    let num = |s: &str| -> anyhow::Result<Option<u64>> {
        if s == "unlimited" || s == "-1" {
            return Ok(None);
        }
        s.parse()
            .map(Some)
            .with_context(|| format!("--ulimit {u}: {s:?} is not a number"))
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (num(s)?, num(h)?),
        None => (num(values)?, num(values)?),
    };
    Ok(spec::Rlimit {
        kind: format!("RLMT_{}", kind.to_ascii_uppercase()),
        soft,
        hard,
    })
}

fn env_pair(s: &str) -> Option<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) => Some((k.to_string(), v.to_string())),
        // Docker: a bare name passes the caller's value, and is dropped when the caller has none.
        None => std::env::var(s).ok().map(|v| (s.to_string(), v)),
    }
}

fn parse_volume(v: &str) -> anyhow::Result<Volume> {
    let parts: Vec<&str> = v.split(':').collect();
    let (host, cont, mode) = match parts.as_slice() {
        [h, c] => (*h, *c, VolumeMode::Rw),
        [h, c, "ro"] => (*h, *c, VolumeMode::Ro),
        [h, c, "rw"] => (*h, *c, VolumeMode::Rw),
        _ => bail!("--volume {v}: expected HOST:CONTAINER[:ro|rw]"),
    };
    if !host.starts_with('/') {
        bail!("--volume {v}: the host path must be absolute");
    }
    Ok(Volume {
        container_path: cont.to_string(),
        mode,
        source: VolumeSource::HostPath {
            path: host.to_string(),
        },
    })
}

fn parse_publish(p: &str) -> anyhow::Result<PortMapping> {
    let (ports, proto) = match p.split_once('/') {
        Some((a, b)) if b == "tcp" || b == "udp" => (a, b),
        Some(_) => bail!("--publish {p}: the protocol must be tcp or udp"),
        None => (p, "tcp"),
    };
    let num = |s: &str| -> anyhow::Result<u16> {
        s.parse()
            .with_context(|| format!("--publish {p}: {s:?} is not a port number"))
    };
    let (host, cont) = match ports.split_once(':') {
        Some((h, c)) => (num(h)?, num(c)?),
        None => (0, num(ports)?),
    };
    Ok(PortMapping {
        host_port: host,
        container_port: cont,
        protocol: proto.to_string(),
        name: None,
    })
}
