//! `ucr run` and `ucr launch`: a config from flags (`run_flags`) or from a JSON request, launched through the
//! containerizer; in the foreground the task's output is streamed from the sandbox files and ucr exits with
//! the task's code.

use std::io::{BufRead, Read};
use std::os::fd::AsFd;

use anyhow::Context;
use clap::Args;

use ucr_runtime::containerizer::Launched;
use ucr_runtime::spec::{self, ContainerConfig, PodConfig};
use ucr_runtime::{ContainerError, Containerizer, Termination};

use crate::context::{self, Printed};
use crate::globals::{Globals, RegistryArgs};
use crate::output::{self, Output};
use crate::run_flags::{config_from_args, RunArgs};

pub fn run(g: &Globals, a: &RunArgs) -> anyhow::Result<i32> {
    let cfg = config_from_args(a)?;
    let console = a.interactive && a.tty;
    // A terminal's keys, or nothing: a pipe's bytes to a shell's prompt would leave it waiting at their end.
    if console && !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        anyhow::bail!("-it: stdin is not a terminal (-i alone gives the task a pipe's input)");
    }
    start(g, &a.registry, cfg, a.detach, a.rm, console)
}

#[derive(Args, Debug)]
pub struct LaunchArgs {
    /// A Mesos LAUNCH_CONTAINER call, a TaskInfo, a task group (LAUNCH_GROUP), a Marathon app or a Marathon pod,
    /// as JSON; `-` reads stdin.
    pub file: String,
    #[arg(long, short)]
    pub detach: bool,
    #[arg(long)]
    pub rm: bool,
    /// Print what would run (image, argv, env, mounts, ports, checks) as JSON; nothing is pulled or started.
    #[arg(long, conflicts_with_all = ["detach", "rm"])]
    pub dry_run: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn launch(g: &Globals, a: &LaunchArgs) -> anyhow::Result<i32> {
    let text = if a.file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading stdin")?;
        s
    } else {
        std::fs::read_to_string(&a.file).with_context(|| a.file.clone())?
    };
    let request = match &g.secrets_dir {
        Some(dir) => spec::read_any_with_store(&text, &spec::DirSecrets::new(dir)),
        None => spec::read_any(&text),
    }
    .with_context(|| a.file.clone())?;
    // Marathon and Mesos skip fields they do not know; so does ucr, but it says which, on one line.
    if let Some(w) = request.warning() {
        eprintln!("ucr: warning: {w}");
    }
    let parsed = match request {
        spec::Request::Container(p) => p,
        spec::Request::Pod(p) => {
            if a.dry_run {
                let c = context::containerizer(g, Some(&a.registry))?;
                let dry =
                    |cfg: &ContainerConfig| ucr_runtime::containerizer::dry_run::dry_run(&c, cfg);
                let members = p
                    .pod
                    .children
                    .iter()
                    .map(dry)
                    .collect::<Result<Vec<_>, _>>()?;
                let plan = serde_json::json!({"pod": dry(&p.pod.parent)?, "members": members});
                println!("{}", serde_json::to_string_pretty(&plan)?);
                return Ok(0);
            }
            return start_pod(g, &a.registry, p.pod, a.detach, a.rm);
        }
    };
    let cfg = parsed.config;
    if a.dry_run {
        let c = context::containerizer(g, Some(&a.registry))?;
        let plan = ucr_runtime::containerizer::dry_run::dry_run(&c, &cfg)?;
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(0);
    }
    start(g, &a.registry, cfg, a.detach, a.rm, false)
}

/// `console`: the caller's terminal is the task's (`run -it`): its input goes to the task's console.
fn start(
    g: &Globals,
    registry: &RegistryArgs,
    mut cfg: ContainerConfig,
    detach: bool,
    rm: bool,
    console: bool,
) -> anyhow::Result<i32> {
    // Detached: the supervisor removes it at the end; in the foreground we read the termination first.
    cfg.remove_on_exit = rm && detach;
    let c = context::containerizer(g, Some(registry))?;
    let launched = match c.launch(&cfg, &Printed { quiet: detach }) {
        Ok(l) => l,
        Err(e) => {
            let code = e.exit_code();
            eprintln!("ucr: {e}");
            // Only a container this run claimed is ours to remove (never the one already holding the name).
            if rm && !matches!(e, ContainerError::InUse(_)) {
                let _ = c.remove(&cfg.id, true);
            }
            return Ok(code);
        }
    };
    if detach {
        println!("{}", cfg.id);
        return Ok(0);
    }
    // The caller's terminal raw while the task runs, restored before anything more is printed.
    let raw = match console {
        true => ucr_runtime::containerizer::relay::feed_console(c.paths(), &cfg.id, None)
            .inspect_err(|e| eprintln!("ucr: container {}: no input to its terminal: {e}", cfg.id))
            .ok()
            .flatten(),
        false => None,
    };
    let t = follow(&c, &cfg.id, launched);
    drop(raw);
    let t = t?;
    // A task ended for a limit exits 137 like any SIGKILL: say why, or the operator cannot tell an OOM from a
    // kill. The message's first clause names the limit and the peak.
    if let Some(reason) = t.reason.as_deref().filter(|r| r.contains("LIMITATION")) {
        let why = t.message.split("; ").next().unwrap_or(&t.message);
        eprintln!("ucr: container {}: {reason}: {why}", cfg.id);
    }
    if rm {
        c.remove(&cfg.id, true)?;
    }
    Ok(t.code)
}

/// A pod (`ucr launch` of a Marathon pod or a Mesos task group), launched whole. In the foreground each member's
/// output is shown line by line after its name (`web | ...`), a signal goes to the pod (its members are stopped
/// with their kill policies), and ucr exits with the pod's code: 0 when every member finished, else the code of
/// the member whose failure ended it.
pub fn start_pod(
    g: &Globals,
    registry: &RegistryArgs,
    pod: PodConfig,
    detach: bool,
    rm: bool,
) -> anyhow::Result<i32> {
    let c = context::containerizer(g, Some(registry))?;
    let id = pod.parent.id.clone();
    let mut launched = match c.launch_pod(&pod, &Printed { quiet: detach }) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ucr: {e}");
            if rm && !matches!(e, ContainerError::InUse(_)) {
                let _ = c.remove(&id, true);
            }
            return Ok(e.exit_code());
        }
    };
    if detach {
        println!("{id}");
        return Ok(0);
    }
    let parent = launched.remove(0);
    for member in launched {
        member.release_supervisor();
    }
    let outputs = pod
        .children
        .iter()
        .map(|m| {
            let name = m.id.rsplit('/').next().unwrap_or(&m.id);
            Output::open(&c.paths().sandbox(&m.id), Some(format!("{name} | ")))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let t = follow_outputs(&c, &id, parent, outputs)?;
    if t.state != "TASK_FINISHED" && !t.message.is_empty() {
        eprintln!("ucr: pod {id}: {}: {}", t.state, t.message);
    }
    if rm {
        c.remove(&id, true)?;
    }
    Ok(t.code)
}

/// Stream the sandbox's stdout/stderr until the supervisor says the task exited; forward SIGINT/SIGTERM/SIGHUP
/// to the task, like `docker run` does.
fn follow(c: &Containerizer, id: &str, l: Launched) -> anyhow::Result<Termination> {
    let sandbox = c.paths().sandbox(id);
    follow_outputs(c, id, l, vec![Output::open(&sandbox, None)?])
}

/// [`follow`] of container `id` (a pod's parent) showing `outputs` (a pod's members).
fn follow_outputs(
    c: &Containerizer,
    id: &str,
    mut l: Launched,
    mut outputs: Vec<Output>,
) -> anyhow::Result<Termination> {
    output::catch_signals();
    let mut buf = vec![0u8; 64 * 1024];
    let mut pump_all = |outputs: &mut Vec<Output>| -> std::io::Result<bool> {
        let mut any = false;
        for o in outputs.iter_mut() {
            any |= o.pump(&mut buf)?;
        }
        Ok(any)
    };
    let mut idle_ms = 1;
    let termination = loop {
        let any = pump_all(&mut outputs)?;
        if let Some(sig) = output::signalled() {
            let _ = c.kill(id, sig);
        }
        if l.done.buffer().is_empty() {
            idle_ms = if any { 1 } else { (idle_ms * 2).min(50) };
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
            break c.wait(id, None)?;
        }
    };
    pump_all(&mut outputs)?;
    for o in &mut outputs {
        o.flush_partial()?;
    }
    // EOF: the supervisor is done (its teardown and `--rm` included) and closes the pipe just before it exits.
    let mut rest = Vec::new();
    let _ = l.done.read_to_end(&mut rest);
    l.release_supervisor();
    Ok(termination)
}
