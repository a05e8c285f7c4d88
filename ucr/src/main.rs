//! `ucr` — the daemonless CLI: a thin clap front end over the `ucr-runtime` library. Flags in, one library call,
//! output out; errors print as one line `ucr: <what>: <why>` and exit 125 (126/127 when the task's program
//! cannot be run or is not there), as INTERFACE.md says.
//!
//! Files: `args` (the command line), `config_file` (`--config FILE`), `globals` and `isolation` (the options
//! every command takes), `context`
//! (options → the runtime's `Images` and `Containerizer`), one file per group of commands (`images`, `archive`,
//! `run` with `run_flags`, `containers`, `stats`), `supervise` (the hidden per-container supervisor), `progress` (pull
//! progress), `logging`.

// The flags' doc comments are clap's help text, shown as written (`HOST[:PORT]`, `<runtime-dir>`): not
// rustdoc links or HTML.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::invalid_html_tags)]

mod agent;
mod appc_images;
mod archive;
mod args;
mod attach;
mod bytes;
mod config_file;
mod containers;
mod context;
mod duration;
mod exec;
mod fetch;
mod fetch_progress;
mod globals;
mod images;
mod isolation;
mod logging;
mod manual;
mod output;
mod progress;
mod run;
mod run_flags;
mod runc;
mod stats;
mod supervise;
mod top;
mod volume;

use clap::CommandFactory;

use args::{Cli, Command};

/// Exit code for a failure of ucr itself (bad input, pull failed, ...), as docker/podman use it.
pub const EXIT_UCR: i32 = 125;

fn main() {
    std::process::exit(run_cli());
}

fn run_cli() -> i32 {
    if runc::invoked() {
        return runc::main();
    }
    if let Some(code) = supervise::fast() {
        return code;
    }
    // A pod's pause process (`spec::pod::pause_command`): before clap, so it costs nothing but the exec.
    let argv: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if argv.len() == 1 && argv[0] == ucr_runtime::spec::pod::PAUSE_ARG {
        return ucr_runtime::pause::run();
    }
    let args = match config_file::expand(
        std::env::args_os().collect(),
        &config_file::Options {
            takes_value: &takes_value,
            is_global: &is_global,
        },
    ) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ucr: {e}");
            return EXIT_UCR;
        }
    };
    let mut cli = match args::parse::<Cli>(args) {
        Ok(c) => c,
        Err(e) => {
            // Help and --version are what was asked for; a usage error is one line, as every error.
            if !e.use_stderr() {
                let _ = e.print();
                return 0;
            }
            let mut line = args::one_line(&e);
            if let Some(file) = config_file::blamed(&e, &argv) {
                line.push_str(&format!(" (an option of --config {})", file.display()));
            }
            eprintln!("{line}");
            return EXIT_UCR;
        }
    };
    let g = &mut cli.globals;
    // Paths go into OCI bundles, checkpoints and the supervisor's argv, all read from other working dirs.
    for p in [&mut g.root, &mut g.runtime_dir] {
        if let Ok(abs) = std::path::absolute(&*p) {
            *p = abs;
        }
    }
    for p in [
        &mut g.docker_store_dir,
        &mut g.appc_store_dir,
        &mut g.appc_trust_dir,
    ] {
        if let Some(abs) = p.as_ref().and_then(|p| std::path::absolute(p).ok()) {
            *p = Some(abs);
        }
    }
    if ends_with_its_reader(&cli.cmd) {
        // A listing piped into `head` ends as coreutils' do, by SIGPIPE, not by a panic of println! on EPIPE.
        // SAFETY: the default disposition of a signal has no handler to race with.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let json_logs = matches!(&cli.cmd, Command::Agent(a) if a.log_format == "json");
    logging::init(&g.log_level, json_logs);
    let g = &cli.globals;
    // Commands run without the async runtime unless they need it: the supervisor must stay single-threaded,
    // and `run` starts faster without worker threads (a pull, when needed, starts the process's one runtime).
    let result = match &cli.cmd {
        Command::Supervise(a) => return supervise::supervise_cmd(g, a),
        Command::Agent(a) => agent::run(g, a),
        Command::Completions(a) => manual::completions(a, args::whole()),
        Command::Man(a) => manual::man(a, args::whole()),
        Command::Run(a) => run::run(g, a),
        Command::Launch(a) => run::launch(g, a),
        Command::Fetch(a) => fetch::run(g, a),
        Command::Exec(a) => exec::exec(g, a),
        Command::Attach(a) => attach::attach(g, a),
        Command::Top(a) => top::top(g, a),
        Command::Ps(a) => containers::ps(g, a),
        Command::Logs(a) => containers::logs(g, a),
        Command::Wait(a) => containers::wait(g, a),
        Command::Kill(a) => containers::kill(g, a),
        Command::Stop(a) => containers::stop(g, a),
        Command::Rm(a) => containers::rm(g, a),
        Command::Volume(args::VolumeGroup::Volume { cmd }) => volume::volume(g, cmd),
        Command::Stats(a) => stats::stats(g, a),
        Command::Update(a) => stats::update(g, a),
        Command::Load(a) => archive::load(g, a),
        Command::Save(a) => archive::save(g, a),
        Command::Pull(a) => images::pull(g, a),
        Command::Images(a) => images::list(g, a),
        Command::Inspect(a) if containers::is_container(g, &a.image) => {
            containers::inspect(g, &a.image, a.json)
        }
        Command::Inspect(a) => images::inspect(g, a),
        Command::Rmi(a) => images::rmi(g, a),
        Command::Prune(a) => images::prune(g, a),
        Command::Store(args::StoreGroup::Store { cmd }) => images::store_cmd(g, cmd),
        Command::Unpack(a) => images::unpack(g, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ucr: {}", one_line(&e));
            EXIT_UCR
        }
    }
}

/// The commands that only print what they read: nothing is left half done when their reader goes. Not those
/// that start or change something (a supervisor forked by `run` ignores SIGPIPE itself; `rmi` and `save` must
/// end their work), nor the agent, whose clients may hang up.
fn ends_with_its_reader(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Ps(_)
            | Command::Inspect(_)
            | Command::Images(_)
            | Command::Logs(_)
            | Command::Stats(_)
            | Command::Top(_)
            | Command::Completions(_)
            | Command::Man(_)
    )
}

/// For placing `--config`'s options; only asked when there is a `--config`.
fn takes_value(name: &str) -> bool {
    args::takes_value(&Cli::command(), name)
}

fn is_global(name: &str) -> bool {
    args::global(&Cli::command(), name).is_some()
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
