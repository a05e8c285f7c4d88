//! The command line: the global options and one subcommand.

use clap::{Parser, Subcommand};

use crate::globals::Globals;
use crate::{
    agent, archive, containers, exec, fetch, images, manual, run, run_flags, stats, supervise,
    volume,
};

#[derive(Parser, Debug)]
#[command(
    name = "ucr",
    version,
    about = "A daemonless universal container runtime (Mesos containerizer semantics)",
    // An option given twice keeps the last: `--config`'s options come first, so the command line wins.
    args_override_self = true
)]
pub struct Cli {
    #[command(flatten)]
    pub globals: Globals,
    #[command(subcommand)]
    pub cmd: Command,
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
    Run(Box<run_flags::RunArgs>),
    /// Run a container from a Mesos LAUNCH_CONTAINER call, a TaskInfo or a Marathon app (JSON).
    Launch(run::LaunchArgs),
    /// Fetch URIs into a directory as a task's fetcher would (TLS options, cache, extract).
    Fetch(Box<fetch::FetchArgs>),
    /// Run a command in a running container (its namespaces, cgroups and task identity); exits with its code.
    Exec(exec::ExecArgs),
    /// List containers.
    Ps(containers::PsArgs),
    /// Print a container's stdout (or stderr).
    Logs(containers::LogsArgs),
    /// Wait for a container to exit; prints and exits with its code.
    Wait(containers::WaitArgs),
    /// Send a signal to a container (default SIGKILL, to every process in it).
    Kill(containers::KillArgs),
    /// Stop a container by its kill policy: SIGTERM to every process, SIGKILL after the grace period.
    Stop(containers::StopArgs),
    /// Remove exited containers (with --force, running ones too).
    Rm(containers::RmArgs),
    /// Local persistent volumes: list them, remove them.
    Volume {
        #[command(subcommand)]
        cmd: volume::VolumeCmd,
    },
    /// A running container's resource statistics (Mesos ResourceStatistics).
    Stats(stats::StatsArgs),
    /// Change a running container's cpus and memory.
    Update(stats::UpdateArgs),
    /// Serve the Mesos v1 agent API for containers (unix socket and TCP), recovering what is on disk first.
    Agent(Box<agent::AgentArgs>),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(manual::CompletionsArgs),
    /// Print the man page (or write one per command with --dir).
    Man(manual::ManArgs),
    /// Internal: the per-container supervisor.
    #[command(name = "__supervise", hide = true)]
    Supervise(supervise::SuperviseCmd),
}
