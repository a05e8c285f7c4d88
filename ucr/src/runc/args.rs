//! runc's command line as containerd's go-runc and podman's conmon write it: global options before the
//! command (`--root`, `--log`, `--log-format`, `--debug`, `--systemd-cgroup`, `--rootless`), then one of runc's
//! commands with runc's flag names and short forms.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "ucr-runc",
    version = concat!(env!("CARGO_PKG_VERSION"), "\nspec: ", "1.2.0"),
    about = "ucr's OCI runtime mode: runc's command line over ucr's launcher"
)]
pub struct RuncCli {
    /// Where containers' records live (containerd's shim passes /run/containerd/runc/<namespace>).
    #[arg(long, default_value = "/run/ucr-runc")]
    pub root: PathBuf,
    /// Log file (containerd reads the last "error" line of it on failure); default stderr.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// text or json (one {"level","msg","time"} object per line, as runc writes it).
    #[arg(long, default_value = "text")]
    pub log_format: String,
    /// Also log debug messages.
    #[arg(long)]
    pub debug: bool,
    /// The systemd cgroup driver (refused: ucr-runc manages cgroupfs itself).
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true is refused, false and auto mean the root mode ucr-runc runs in.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub command: Cmd,
}

/// Deferred, and the global options copied into the command that runs alone (`crate::args::parse`): containerd
/// runs `ucr-runc` several times per container.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Cmd {
    /// Create a container from a bundle; its init waits for `start`.
    Create(CreateArgs),
    /// Run the created container's program.
    Start { id: String },
    /// create + start; without --detach, wait for the container and delete it.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's record after it exits.
        #[arg(long)]
        keep: bool,
    },
    /// The container's state as runtime-spec JSON.
    State { id: String },
    /// Every container under --root.
    #[command(alias = "ls")]
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Signal the container's init (or every process with --all); default SIGTERM.
    Kill {
        #[arg(short, long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// Remove a stopped container (any, with --force).
    #[command(alias = "rm")]
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// The container's processes.
    Ps {
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        /// Options for ps(1) in table format (default -ef).
        #[arg(last = true)]
        ps_args: Vec<String>,
    },
    /// Run one more process in the container.
    Exec(Box<super::exec::ExecArgs>),
    /// Change a container's limits.
    Update(Box<super::update::UpdateArgs>),
    /// Freeze every process of the container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// The container's resource usage: once with --stats, else every --interval until it stops.
    Events {
        #[arg(long)]
        stats: bool,
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// What this runtime implements (runtime-spec features.md).
    Features,
    /// Write a template config.json into the bundle (`--rootless` is refused, as for every command).
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Move the rootfs onto / and chroot instead of pivot_root (for a rootfs on a ramdisk), as runc.
    #[arg(long)]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one named after the container.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass the caller's fds 3 .. 3+N to the container's process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::Path;

    use super::*;

    fn cli(words: &str) -> RuncCli {
        let args: Vec<OsString> = words.split(' ').map(OsString::from).collect();
        crate::args::parse::<RuncCli>(args).unwrap_or_else(|e| panic!("{words}: {e}"))
    }

    #[test]
    fn runc_global_options_go_before_the_command_as_go_runc_writes_them_or_after_it() {
        let c = cli("ucr-runc --root /r --log /l --log-format json --rootless false state c1");
        assert_eq!(c.root, Path::new("/r"));
        assert_eq!(
            (c.log.as_deref(), c.log_format.as_str()),
            (Some(Path::new("/l")), "json")
        );
        assert_eq!(c.rootless.as_deref(), Some("false"));
        assert!(matches!(c.command, Cmd::State { ref id } if id == "c1"));
        let c = cli("ucr-runc --root /r delete --force c1 --root /s --debug");
        assert_eq!(c.root, Path::new("/s"));
        assert!(c.debug);
        assert!(matches!(c.command, Cmd::Delete { .. }));
        // The command's alias finds it too.
        let c = cli("ucr-runc ls --root /t");
        assert_eq!(c.root, Path::new("/t"));
    }
}
