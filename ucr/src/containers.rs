//! Commands on existing containers: ps, inspect, logs, wait, kill, stop, rm.

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;

use ucr_runtime::container::health::HealthReport;
use ucr_runtime::container::state::now;
use ucr_runtime::{ContainerState, Containerizer, State};

use crate::context;
use crate::globals::Globals;

fn containerizer(g: &Globals) -> anyhow::Result<Containerizer> {
    context::existing(g)
}

/// Whether `name` is a container's id (for `inspect`, where a container wins over an image).
pub fn is_container(g: &Globals, name: &str) -> bool {
    containerizer(g).is_ok_and(|c| c.exists(name))
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Also show exited containers.
    #[arg(long, short)]
    pub all: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn ps(g: &Globals, a: &PsArgs) -> anyhow::Result<i32> {
    let c = containerizer(g)?;
    let list = c.tree()?;
    let shown = list
        .iter()
        .filter(|(_, s)| a.all || s.state != State::Exited);
    if a.json {
        for (_, s) in shown {
            println!("{}", serde_json::to_string(&state_json(&c, s))?);
        }
        return Ok(0);
    }
    println!(
        "{:<20} {:<36} {:<13} {:>8}  {:<16} STATUS",
        "ID", "IMAGE", "STATE", "PID", "CREATED"
    );
    for (depth, s) in shown {
        // A nested container under its parent, by its Mesos name (`pod.web`), indented.
        let shown_id = match depth {
            0 => s.id.clone(),
            d => format!("{}{}", "  ".repeat(*d), s.id.replace('/', ".")),
        };
        println!(
            "{:<20} {:<36} {:<13} {:>8}  {:<16} {}",
            shown_id,
            s.image.as_deref().unwrap_or("-"),
            s.state.as_str(),
            s.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            ago(s.created),
            status_text(s, c.health(&s.id).as_ref())
        );
    }
    Ok(0)
}

fn ago(t: u64) -> String {
    let d = now().saturating_sub(t);
    match d {
        0..=59 => format!("{d}s ago"),
        60..=3599 => format!("{}m ago", d / 60),
        3600..=86399 => format!("{}h ago", d / 3600),
        _ => format!("{}d ago", d / 86400),
    }
}

fn status_text(s: &ContainerState, health: Option<&HealthReport>) -> String {
    if s.is_orphaned() {
        return format!(
            "Up since {}, its supervisor died (wait, kill, stats and rm still work)",
            s.started.map(ago).unwrap_or_default()
        );
    }
    if s.is_lost() {
        return "lost (its supervisor died; wait or rm finishes it)".into();
    }
    match (&s.termination, s.state) {
        (Some(t), State::Exited) => format!("{} ({}) {}", t.state, t.code, t.message),
        (_, State::Running) => {
            let up = format!("Up since {}", s.started.map(ago).unwrap_or_default());
            match health {
                Some(h) => format!("{up} ({})", h.status.as_str()),
                None => up,
            }
        }
        (_, st) => st.as_str().to_string(),
    }
}

fn state_json(c: &Containerizer, s: &ContainerState) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        if let Some(h) = c.health(&s.id) {
            o.insert("health".into(), serde_json::to_value(h).unwrap_or_default());
        }
        // `lost`: its supervisor died (as before `task_running` existed); `task_running` says whether the task
        // runs on without it.
        o.insert("lost".into(), (s.is_live() && !s.owner_alive()).into());
        if let Some((parent, _)) = s.id.rsplit_once('/') {
            o.insert("parent".into(), parent.into());
        }
        o.insert("task_running".into(), s.task_alive().into());
    }
    v
}

/// `ucr inspect ID` for a container (the image form is in images.rs; a container id wins).
pub fn inspect(g: &Globals, name: &str, json: bool) -> anyhow::Result<i32> {
    let c = containerizer(g)?;
    let id = &c.resolve(name);
    let st = c.container(id)?;
    let cfg = serde_json::to_value(c.container_config(id)?)?;
    let mut v = state_json(&c, &st);
    if let Some(o) = v.as_object_mut() {
        o.insert("config".into(), cfg);
        o.insert(
            "runtime_dir".into(),
            c.paths().runtime(id).to_string_lossy().into(),
        );
        // The tree below it: each nested container's id and state.
        let kids: Vec<serde_json::Value> = c
            .tree()?
            .into_iter()
            .filter(|(_, k)| k.id.starts_with(&format!("{id}/")))
            .map(|(_, k)| serde_json::json!({"id": k.id, "state": k.state.as_str()}))
            .collect();
        o.insert("nested".into(), kids.into());
    }
    if json {
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Keep printing new output until the container exits.
    #[arg(long, short)]
    pub follow: bool,
    /// Print the task's stderr instead of its stdout.
    #[arg(long)]
    pub stderr: bool,
    pub id: String,
}

pub fn logs(g: &Globals, a: &LogsArgs) -> anyhow::Result<i32> {
    let c = containerizer(g)?;
    let id = &c.resolve(&a.id);
    c.container(id)?;
    let file = c
        .paths()
        .sandbox(id)
        .join(if a.stderr { "stderr" } else { "stdout" });
    let mut f = std::fs::File::open(&file).with_context(|| file.display().to_string())?;
    let mut out = std::io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    let mut delay = Duration::from_millis(5);
    loop {
        let n = f.read(&mut buf)?;
        if n > 0 {
            out.write_all(&buf[..n])?;
            delay = Duration::from_millis(5);
            continue;
        }
        out.flush()?;
        if !a.follow {
            return Ok(0);
        }
        let st = c.container(id)?;
        if st.state == State::Exited || st.is_lost() {
            // One last read: output written just before the exit.
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])?;
            }
            out.flush()?;
            return Ok(0);
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(100));
    }
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    pub id: String,
    /// Print the whole termination as JSON (Mesos WAIT_CONTAINER shape).
    #[arg(long)]
    pub json: bool,
}

pub fn wait(g: &Globals, a: &WaitArgs) -> anyhow::Result<i32> {
    let c = containerizer(g)?;
    let t = c.wait(&c.resolve(&a.id), None)?;
    if a.json {
        println!("{}", serde_json::to_string(&t)?);
    } else {
        println!("{}", t.code);
    }
    Ok(t.code)
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal name (KILL, SIGTERM, ...) or number.
    #[arg(long, short, default_value = "KILL")]
    pub signal: String,
    pub id: String,
}

pub fn parse_signal(s: &str) -> anyhow::Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if nix::sys::signal::Signal::try_from(n).is_ok() {
            return Ok(n);
        }
        bail!("--signal {s}: not a signal number");
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|sig| sig as i32)
        .map_err(|_| anyhow::anyhow!("--signal {s}: unknown signal"))
}

pub fn kill(g: &Globals, a: &KillArgs) -> anyhow::Result<i32> {
    let sig = parse_signal(&a.signal)?;
    let c = containerizer(g)?;
    c.kill(&c.resolve(&a.id), sig)?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds between SIGTERM and SIGKILL (default: the container's kill policy, else 3, as Mesos).
    #[arg(long = "time", short = 't', value_name = "SECONDS")]
    pub time: Option<f64>,
    pub id: String,
}

/// Prints the id once the container has exited, as `docker stop` does.
pub fn stop(g: &Globals, a: &StopArgs) -> anyhow::Result<i32> {
    let grace = match a.time {
        Some(s) => Some(
            std::time::Duration::try_from_secs_f64(s)
                .map_err(|_| anyhow::anyhow!("--time {s}: not a number of seconds"))?,
        ),
        None => None,
    };
    let c = containerizer(g)?;
    c.stop(&c.resolve(&a.id), grace)?;
    println!("{}", a.id);
    Ok(0)
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill a running container first.
    #[arg(long, short)]
    pub force: bool,
    #[arg(required = true)]
    pub ids: Vec<String>,
}

pub fn rm(g: &Globals, a: &RmArgs) -> anyhow::Result<i32> {
    let c = containerizer(g)?;
    for id in &a.ids {
        c.remove(&c.resolve(id), a.force)?;
        println!("{id}");
    }
    Ok(0)
}
