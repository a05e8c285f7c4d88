//! Command-line parsing (clap) and dispatch. Every Mesos agent flag we support is also accepted under its
//! Mesos spelling (`--docker_store_dir`, `--work_dir`, ...). Errors print as one line `ucr: <what>: <why>` and
//! exit 125 (INTERFACE.md).

mod archive;
mod containers;
mod images;
mod isolation;
mod launcher;
mod progress;
mod run;
mod stats;
mod supervise;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use ucr_runtime::images::RegistryOptions;

/// Exit code for a failure of ucr itself (bad input, pull failed, ...), as docker/podman use it.
pub const EXIT_UCR: i32 = 125;

#[derive(Parser, Debug)]
#[command(
    name = "ucr",
    version,
    about = "A daemonless universal container runtime (Mesos containerizer semantics)"
)]
pub struct Cli {
    /// State and store root.
    #[arg(
        long,
        global = true,
        default_value = "/var/lib/ucr",
        alias = "work_dir",
        alias = "work-dir"
    )]
    pub root: PathBuf,
    /// Runtime state (pids, bundles).
    #[arg(
        long = "runtime-dir",
        global = true,
        default_value = "/run/ucr",
        alias = "runtime_dir"
    )]
    pub runtime_dir: PathBuf,
    /// Docker image store (default <root>/store/docker).
    #[arg(long = "docker-store-dir", global = true, alias = "docker_store_dir")]
    pub docker_store_dir: Option<PathBuf>,
    /// error, warn, info, debug, trace.
    #[arg(
        long = "log-level",
        global = true,
        default_value = "warn",
        alias = "log_level"
    )]
    pub log_level: String,
    /// Provisioner backend: overlay or copy (default: overlay where the filesystem supports it).
    #[arg(
        long = "image-provisioner-backend",
        global = true,
        alias = "image_provisioner_backend"
    )]
    pub image_provisioner_backend: Option<String>,
    /// Mesos --docker_registry: a directory of image tarballs (`NAME.tar`), where images are then only looked
    /// up, or a registry (`https://host[:port]`, `host:port`) used for names without one.
    #[arg(long = "docker-registry", global = true, alias = "docker_registry")]
    pub docker_registry: Option<String>,
    /// With a --docker_registry directory: pull from the image's registry when the directory has no file.
    #[arg(
        long = "docker-registry-fallback",
        global = true,
        alias = "docker_registry_fallback"
    )]
    pub docker_registry_fallback: bool,
    /// Where the sandbox appears inside containers.
    #[arg(
        long = "sandbox-directory",
        global = true,
        alias = "sandbox_directory",
        default_value = ucr_runtime::container::paths::DEFAULT_SANDBOX_DIRECTORY
    )]
    pub sandbox_directory: String,
    #[command(flatten)]
    pub isolation: isolation::IsolationArgs,
    #[command(subcommand)]
    pub cmd: Command,
}

impl Cli {
    pub fn store_dir(&self) -> PathBuf {
        self.docker_store_dir
            .clone()
            .unwrap_or_else(|| self.root.join("store/docker"))
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// Docker config.json (or legacy .dockercfg) file, or its JSON inline.
    #[arg(long = "docker-config", alias = "docker_config")]
    pub docker_config: Option<String>,
    /// USER:PASS for the registry of the image named here.
    #[arg(long)]
    pub creds: Option<String>,
    /// Extra trusted CA bundle (PEM) for every registry; repeatable.
    #[arg(long = "ca-file", alias = "ca_file")]
    pub ca_file: Vec<PathBuf>,
    /// Per-registry trust in DIR/<host[:port]>/{ca.crt,client.cert,client.key}; repeatable.
    #[arg(long = "certs-dir", alias = "certs_dir")]
    pub certs_dir: Vec<PathBuf>,
    /// Allow plain HTTP or an unverified certificate for this registry only; repeatable.
    #[arg(long = "insecure-registry", alias = "insecure_registry")]
    pub insecure_registry: Vec<String>,
    /// Docker Hub mirror, tried before the origin; repeatable.
    #[arg(long = "registry-mirror", alias = "registry_mirror")]
    pub registry_mirror: Vec<String>,
    /// OS/ARCH[/VARIANT] to pull (default: this host's).
    #[arg(long)]
    pub platform: Option<String>,
}

impl RegistryArgs {
    pub fn options(&self) -> RegistryOptions {
        RegistryOptions {
            docker_config: self.docker_config.clone(),
            creds: self.creds.clone(),
            ca_files: self.ca_file.clone(),
            certs_dirs: self.certs_dir.clone(),
            insecure: self.insecure_registry.clone(),
            mirrors: self.registry_mirror.clone(),
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Pull an image into the store; prints the manifest digest last.
    Pull(images::PullArgs),
    /// List images in the store.
    Images(images::ImagesArgs),
    /// Show an image's manifest digest, config and layers.
    Inspect(images::InspectArgs),
    /// Remove image records (layers stay until `prune`).
    Rmi(images::RmiArgs),
    /// Remove layers and blobs no image references; prints bytes freed.
    Prune(images::PruneArgs),
    /// Verify the store.
    Store {
        #[command(subcommand)]
        cmd: images::StoreCmd,
    },
    /// Load images from a docker-archive, an OCI layout tar or a directory.
    Load(archive::LoadArgs),
    /// Write images into one OCI layout tar (shared layers once).
    Save(archive::SaveArgs),
    /// Materialize an image's merged root filesystem into DIR.
    Unpack(images::UnpackArgs),
    /// Run a container from an image; in the foreground, stream its output and exit with its code.
    Run(Box<run::RunArgs>),
    /// Run a container from a Mesos LAUNCH_CONTAINER call, a TaskInfo or a Marathon app (JSON).
    Launch(run::LaunchArgs),
    /// List containers.
    Ps(containers::PsArgs),
    /// Print a container's stdout (or stderr).
    Logs(containers::LogsArgs),
    /// Wait for a container to exit; prints and exits with its code.
    Wait(containers::WaitArgs),
    /// Send a signal to a container (default SIGKILL, to every process in it).
    Kill(containers::KillArgs),
    /// Remove exited containers (with --force, running ones too).
    Rm(containers::RmArgs),
    /// A running container's resource statistics (Mesos ResourceStatistics).
    Stats(stats::StatsArgs),
    /// Change a running container's cpus and memory.
    Update(stats::UpdateArgs),
    /// Internal: the per-container supervisor.
    #[command(name = "__supervise", hide = true)]
    Supervise(supervise::SuperviseCmd),
}

pub fn main() -> i32 {
    if let Some(code) = supervise::fast() {
        return code;
    }
    let mut cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_UCR } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // Paths go into OCI bundles, checkpoints and the supervisor's argv, all read from other working dirs.
    for p in [&mut cli.root, &mut cli.runtime_dir] {
        if let Ok(abs) = std::path::absolute(&*p) {
            *p = abs;
        }
    }
    if let Some(abs) = cli
        .docker_store_dir
        .as_ref()
        .and_then(|p| std::path::absolute(p).ok())
    {
        cli.docker_store_dir = Some(abs);
    }
    init_logging(&cli.log_level);
    // Container commands run without an async runtime: the supervisor must stay single-threaded, and `run`
    // starts faster without worker threads (a pull, when needed, makes its own runtime).
    let sync = match &cli.cmd {
        Command::Supervise(a) => return supervise::supervise_cmd(&cli, a),
        Command::Run(a) => Some(run::run(&cli, a)),
        Command::Launch(a) => Some(run::launch(&cli, a)),
        Command::Ps(a) => Some(containers::ps(&cli, a)),
        Command::Logs(a) => Some(containers::logs(&cli, a)),
        Command::Wait(a) => Some(containers::wait(&cli, a)),
        Command::Kill(a) => Some(containers::kill(&cli, a)),
        Command::Rm(a) => Some(containers::rm(&cli, a)),
        Command::Stats(a) => Some(stats::stats(&cli, a)),
        Command::Update(a) => Some(stats::update(&cli, a)),
        Command::Load(a) => Some(archive::load(&cli, a)),
        Command::Save(a) => Some(archive::save(&cli, a)),
        Command::Inspect(a)
            if ucr_runtime::container::ops::exists(&launcher::paths(&cli), &a.image) =>
        {
            Some(containers::inspect(&cli, &a.image, a.json))
        }
        _ => None,
    };
    if let Some(result) = sync {
        return match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("ucr: {}", one_line(&e));
                EXIT_UCR
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ucr: cannot start the async runtime: {e}");
            return EXIT_UCR;
        }
    };
    let result = rt.block_on(dispatch(&cli));
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ucr: {}", one_line(&e));
            EXIT_UCR
        }
    }
}

async fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    match &cli.cmd {
        Command::Pull(a) => images::pull(cli, a).await,
        Command::Images(a) => images::list(cli, a),
        Command::Inspect(a) => images::inspect(cli, a),
        Command::Rmi(a) => images::rmi(cli, a),
        Command::Prune(a) => images::prune(cli, a),
        Command::Store { cmd } => images::store_cmd(cli, cmd),
        Command::Unpack(a) => images::unpack(cli, a),
        _ => unreachable!("container commands are dispatched before the async runtime starts"),
    }
}

/// `context: cause: cause` on one line, without repeating a cause already in the text.
fn one_line(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for c in e.chain() {
        let t = c.to_string();
        if s.contains(&t) {
            continue;
        }
        if !s.is_empty() {
            s.push_str(": ");
        }
        s.push_str(&t);
    }
    s.replace('\n', " ")
}

fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("UCR_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "ucr={level},ucr_registry={level},ucr_runtime={level}"
        ))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
