//! The command line: the global options and one subcommand.
//!
//! The global options ([`Globals`]) are valid before the command's name and after it (`ucr --root R run` and
//! `ucr run --root R`), at every level (`ucr store check --root R`). clap's own way, `global = true`, copies
//! each of them into every command at every start: about 900 copies of 27 options, a fifth of a `ucr run`'s
//! page faults (`perf record -e page-faults`), for the one command that runs. So they are declared on the top
//! level only, and [`parse`] copies them, as clap's globals, into the command being run; clap then merges
//! the values given on either side of its name exactly as it does for its own globals (the later one wins).
//! [`whole`] copies them into every command, for help on an unknown command, completions and man pages.

use std::ffi::OsString;

use clap::{Arg, CommandFactory, Parser, Subcommand};

use crate::globals::Globals;
use crate::{
    agent, archive, attach, containers, exec, fetch, images, manual, run, run_flags, stats,
    supervise, top, volume,
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

/// Deferred: a command's options are built only when it is the one that runs. Built eagerly, every start would
/// run the builder code of all ~30 commands once, most of the CLI's cost to start: in the cgroup-v2 VM,
/// where the emulator translates code the first time it runs, clap's builders were 62 ms of a 440 ms
/// `ucr run --rm` (`perf record` in the guest). The two commands with subcommands of their own stay eager
/// (flattened groups below): clap copies the `help` command's tree (`ucr help store check`) from the commands
/// as they are before their deferred parts run, so completions and man pages would lose those leaves.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Pull an image into the store; prints the manifest digest last.
    Pull(images::PullArgs),
    /// List images in the store.
    Images(images::ImagesArgs),
    /// Show a container's state, config and nested containers, or an image's manifest digest, config and
    /// layers, as JSON.
    Inspect(images::InspectArgs),
    /// Remove image records (layers stay until `prune`).
    Rmi(images::RmiArgs),
    /// Remove layers and blobs no image references; prints bytes freed.
    Prune(images::PruneArgs),
    #[command(flatten)]
    Store(StoreGroup),
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
    /// Attach to a running container: its output from now on, your keys to its terminal (ctrl-p ctrl-q
    /// detaches); exits with its code.
    Attach(attach::AttachArgs),
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
    #[command(flatten)]
    Volume(VolumeGroup),
    /// What a running container's processes are doing (a pod's members included).
    Top(top::TopArgs),
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

/// `store`, built eagerly (see [`Command`]).
#[derive(Subcommand, Debug)]
pub enum StoreGroup {
    /// Verify the store.
    Store {
        #[command(subcommand)]
        cmd: images::StoreCmd,
    },
}

/// `volume`, built eagerly (see [`Command`]).
#[derive(Subcommand, Debug)]
pub enum VolumeGroup {
    /// Local persistent volumes: list them, remove them.
    Volume {
        #[command(subcommand)]
        cmd: volume::VolumeCmd,
    },
}

/// Parses `args` (the program's name first) into `ucr`'s command line ([`Cli`]) or `ucr-runc`'s: the global
/// options are the top level's, its commands deferred.
/// A usage error as ucr's other errors are, one line (`ucr: <what>`): clap's text without its `error:`, its
/// usage and its pointer to --help, the lines it lists (the missing arguments) and its tips joined on.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("invalid command line");
    let mut out = format!("ucr: {}", first.strip_prefix("error: ").unwrap_or(first));
    for l in lines {
        if l.starts_with("Usage:") || l.starts_with("For more information") {
            break;
        }
        out.push_str(if out.ends_with(':') { " " } else { "; " });
        out.push_str(l);
    }
    out
}

pub fn parse<C: Parser>(args: Vec<OsString>) -> Result<C, clap::Error> {
    let cmd = C::command();
    let name = args
        .get(command_index(&args, &|o| takes_value(&cmd, o))..)
        .and_then(|rest| rest.first())
        .and_then(|n| n.to_str())
        .and_then(|n| cmd.find_subcommand(n))
        .map(|sub| sub.get_name().to_string());
    let mut cmd = match name {
        Some(name) => {
            let globals = global_copies(&cmd);
            cmd.mut_subcommand(name, |sub| sub.args(globals))
        }
        // No command, or one clap must explain (`help`, a typo): the whole command line, as its help shows it.
        None => with_globals(cmd),
    };
    let mut matches = cmd.try_get_matches_from_mut(args)?;
    C::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd))
}

/// The whole command line, every command with the global options: what help, completions and man pages show.
pub fn whole() -> clap::Command {
    with_globals(Cli::command())
}

fn with_globals(cmd: clap::Command) -> clap::Command {
    let globals = global_copies(&cmd);
    cmd.mut_subcommands(|sub| sub.args(globals.iter().cloned()))
}

/// The top level's options as clap globals: valid in the command they are added to and in its own commands,
/// their values merged with the top level's. A command's help lists them after its own options.
fn global_copies(cmd: &clap::Command) -> Vec<Arg> {
    cmd.get_arguments()
        .map(|a| a.clone().global(true).help_heading("Global options"))
        .collect()
}

/// Whether the global option `--name` (long name or alias) takes a value.
pub fn takes_value(cmd: &clap::Command, name: &str) -> bool {
    global(cmd, name).is_some_and(|a| a.get_action().takes_values())
}

/// The global option spelled `--name` (long name or alias).
pub fn global<'a>(cmd: &'a clap::Command, name: &str) -> Option<&'a Arg> {
    cmd.get_arguments().find(|a| {
        a.get_long() == Some(name)
            || a.get_all_aliases()
                .is_some_and(|aliases| aliases.contains(&name))
    })
}

/// Where the command's name is in `args` (the program's name first): the first word after it that is neither
/// an option nor a global option's value; `args.len()` when there is none.
pub fn command_index(args: &[OsString], takes_value: &dyn Fn(&str) -> bool) -> usize {
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy();
        match a.strip_prefix("--") {
            Some(name) if !name.contains('=') && takes_value(name) => i += 2,
            _ if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    i.min(args.len())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn cli(words: &str) -> Cli {
        let args: Vec<OsString> = words.split(' ').map(OsString::from).collect();
        parse::<Cli>(args).unwrap_or_else(|e| panic!("{words}: {e}"))
    }

    fn usage_error(words: &str) -> String {
        let args: Vec<OsString> = words.split(' ').map(OsString::from).collect();
        match parse::<Cli>(args) {
            Ok(_) => panic!("{words}: parsed"),
            Err(e) => one_line(&e),
        }
    }

    #[test]
    fn a_usage_error_is_one_line_with_what_clap_lists_and_its_tips() {
        assert_eq!(
            usage_error("ucr run --cpus abc img"),
            "ucr: invalid value 'abc' for '--cpus <CPUS>': \"abc\" is not a positive number"
        );
        assert_eq!(
            usage_error("ucr run"),
            "ucr: the following required arguments were not provided: <IMAGE>"
        );
        let e = usage_error("ucr run --memory 5 img");
        assert!(
            e.starts_with("ucr: unexpected argument '--memory' found; tip: a similar argument exists: '--mem'"),
            "{e}"
        );
        for e in [e, usage_error("ucr bogus")] {
            assert!(
                !e.contains('\n') && !e.contains("Usage") && !e.contains("--help"),
                "{e}"
            );
        }
    }

    #[test]
    fn global_options_go_before_or_after_the_command_and_the_later_one_wins() {
        let c = cli("ucr --root /a ps");
        assert_eq!(c.globals.root, Path::new("/a"));
        let c = cli("ucr ps --runtime-dir /r");
        assert_eq!(c.globals.runtime_dir, Path::new("/r"));
        assert_eq!(
            c.globals.root,
            Path::new("/var/lib/ucr"),
            "the default stays"
        );
        let c = cli("ucr --root /a rm --force x --root /b");
        assert_eq!(c.globals.root, Path::new("/b"));
        assert!(matches!(c.cmd, Command::Rm(_)));
        // A command's own commands take them too, on either side.
        let c = cli("ucr --log-level debug store check --root /c --repair");
        assert_eq!(c.globals.root, Path::new("/c"));
        assert_eq!(c.globals.log_level, "debug");
        let c = cli("ucr store --root /d check");
        assert_eq!(c.globals.root, Path::new("/d"));
        // An option's value that reads like a command is still the value.
        let c = cli("ucr --root run ps");
        assert_eq!(c.globals.root, Path::new("run"));
        assert!(matches!(c.cmd, Command::Ps(_)));
    }

    #[test]
    fn a_global_option_the_command_does_not_know_is_still_refused() {
        let args: Vec<OsString> = ["ucr", "ps", "--no-such"].map(OsString::from).into();
        let e = parse::<Cli>(args).expect_err("unknown option");
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn every_command_of_the_whole_line_takes_every_global_option() {
        let mut cmd = whole();
        // clap's own consistency checks, on every command with its deferred options built (unique ids, ...).
        cmd.build();
        let globals: Vec<String> = Cli::command()
            .get_arguments()
            .map(|a| a.get_id().to_string())
            .collect();
        assert!(globals.len() > 20, "{globals:?}");
        fn check(c: &clap::Command, globals: &[String], path: &str) {
            for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                for g in globals {
                    assert!(
                        sub.get_arguments().any(|a| a.get_id() == g.as_str()),
                        "{path} lacks --{g}"
                    );
                }
                check(sub, globals, &path);
            }
        }
        check(&cmd, &globals, "ucr");
    }

    #[test]
    fn the_command_is_the_first_word_that_is_not_an_option_or_its_value() {
        let args = |w: &str| -> Vec<OsString> { w.split(' ').map(OsString::from).collect() };
        let takes = |o: &str| o == "root";
        assert_eq!(command_index(&args("ucr --root x ps"), &takes), 3);
        assert_eq!(
            command_index(&args("ucr --root=x --debug ps -a"), &takes),
            3
        );
        assert_eq!(command_index(&args("ucr --root x"), &takes), 3);
        assert_eq!(command_index(&args("ucr"), &takes), 1);
    }
}
