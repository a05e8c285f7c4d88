//! Each runc command: its arguments in, one call of `ucr_runtime::oci`, runc's output out.

use std::io::Write;

use nix::sys::signal::{SigSet, Signal};
use ucr_runtime::oci::{self, info, CreateOptions, OciError, Root, Status};

use super::args::{Cmd, CreateArgs, RuncCli};

/// Output to a closed pipe (`ucr-runc features | head`) is not an error worth a panic.
macro_rules! outln {
    ($($t:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

pub fn dispatch(cli: RuncCli) -> oci::Result<i32> {
    if cli.systemd_cgroup {
        return Err(OciError::Refused(
            "--systemd-cgroup: ucr-runc manages cgroups through cgroupfs only; configure the caller \
             for cgroupfs (containerd: SystemdCgroup = false; podman: --cgroup-manager cgroupfs)"
                .into(),
        ));
    }
    match cli.rootless.as_deref() {
        None | Some("false") | Some("auto") => {}
        Some("true") => {
            return Err(OciError::Refused(
                "--rootless=true: ucr-runc runs containers as root only".into(),
            ))
        }
        Some(other) => {
            return Err(OciError::Refused(format!(
                "--rootless {other:?}: use true, false or auto"
            )))
        }
    }
    let root = Root::new(std::path::absolute(&cli.root).unwrap_or(cli.root));
    match cli.command {
        Cmd::Create(c) => {
            oci::create(&root, &c.id, &options(&c))?;
            Ok(0)
        }
        Cmd::Start { id } => oci::start(&root, &id).map(|()| 0),
        Cmd::Run {
            create,
            detach,
            keep,
        } => run(&root, &create, detach, keep),
        Cmd::State { id } => {
            let rec = root.load(&id)?;
            print_json(&root.state(&rec));
            Ok(0)
        }
        Cmd::List { format, quiet } => list(&root, &format, quiet).map(|()| 0),
        Cmd::Kill { all, id, signal } => {
            let sig = info::parse_signal(signal.as_deref().unwrap_or("SIGTERM"))?;
            oci::kill(&root, &id, sig, all).map(|()| 0)
        }
        Cmd::Delete { force, id } => match oci::delete(&root, &id, force) {
            // runc: --force of a container that is not there is no error (the caller wants it gone).
            Err(OciError::NotExist(_)) if force => Ok(0),
            r => r.map(|()| 0),
        },
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => ps(&root, &id, &format, &ps_args).map(|()| 0),
        Cmd::Exec(a) => super::exec::run(&root, *a),
        Cmd::Update(a) => super::update::run(&root, &a).map(|()| 0),
        Cmd::Pause { id } => oci::set_paused(&root, &id, true).map(|()| 0),
        Cmd::Resume { id } => oci::set_paused(&root, &id, false).map(|()| 0),
        Cmd::Events {
            stats,
            interval,
            id,
        } => events(&root, &id, stats, &interval).map(|()| 0),
        Cmd::Features => {
            print_json(&info::features());
            Ok(0)
        }
        Cmd::Spec { bundle } => spec(&bundle).map(|()| 0),
    }
}

fn options(c: &CreateArgs) -> CreateOptions {
    CreateOptions {
        bundle: c.bundle.clone(),
        pid_file: c.pid_file.clone(),
        console_socket: c.console_socket.clone(),
        preserve_fds: c.preserve_fds,
        no_pivot: c.no_pivot,
        no_new_keyring: c.no_new_keyring,
    }
}

fn print_json(v: &serde_json::Value) {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    outln!("{text}");
}

/// create + start; in the foreground, forward signals to the init, wait for it, then delete the container.
fn run(root: &Root, c: &CreateArgs, detach: bool, keep: bool) -> oci::Result<i32> {
    let pid = oci::create(root, &c.id, &options(c))?;
    if let Err(e) = oci::start(root, &c.id) {
        let _ = oci::delete(root, &c.id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let code = forward_and_wait(pid);
    if !keep {
        oci::delete(root, &c.id, true)?;
    }
    Ok(code)
}

/// The init is this process's child (`create` forked it): signals a person sends to `run` go to it.
fn forward_and_wait(pid: i32) -> i32 {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    let blocked = set.thread_block().is_ok();
    loop {
        let mut status = 0;
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return ucr_runtime::launcher::hook::exit_code(status);
        }
        if r < 0 || !blocked {
            return oci::exec::wait(pid);
        }
        match set.wait() {
            Ok(Signal::SIGCHLD) | Err(_) => {}
            // SAFETY: kill(2) of our own child.
            Ok(sig) => unsafe {
                libc::kill(pid, sig as i32);
            },
        }
    }
}

fn list(root: &Root, format: &str, quiet: bool) -> oci::Result<()> {
    let recs = root.list()?;
    let mut out = std::io::stdout().lock();
    if quiet {
        for r in &recs {
            let _ = writeln!(out, "{}", r.id);
        }
        return Ok(());
    }
    match format {
        "json" => {
            let all: Vec<_> = recs.iter().map(|r| root.state(r)).collect();
            let _ = writeln!(out, "{}", serde_json::Value::from(all));
        }
        "table" => {
            let _ = writeln!(
                out,
                "{:<20} {:<8} {:<10} {:<40} {:<31} OWNER",
                "ID", "PID", "STATUS", "BUNDLE", "CREATED"
            );
            for r in &recs {
                let s = root.state(r);
                let _ = writeln!(
                    out,
                    "{:<20} {:<8} {:<10} {:<40} {:<31} root",
                    r.id,
                    s["pid"],
                    root.status(r).as_str(),
                    r.bundle.display(),
                    r.created
                );
            }
        }
        other => {
            return Err(OciError::Refused(format!(
                "--format {other:?}: use table or json"
            )))
        }
    }
    Ok(())
}

fn ps(root: &Root, id: &str, format: &str, ps_args: &[String]) -> oci::Result<()> {
    let pids = oci::pids(root, id)?;
    match format {
        "json" => {
            outln!("{}", serde_json::Value::from(pids));
            Ok(())
        }
        "table" => {
            let args = match ps_args.is_empty() {
                true => vec!["-ef".to_string()],
                false => ps_args.to_vec(),
            };
            let out = std::process::Command::new("ps")
                .args(&args)
                .output()
                .map_err(|e| OciError::Io {
                    path: "ps".into(),
                    why: e,
                })?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut lines = text.lines();
            let header = lines.next().unwrap_or_default();
            let col = header
                .split_whitespace()
                .position(|c| c == "PID")
                .ok_or_else(|| {
                    OciError::Refused(format!("ps {}: no PID column", args.join(" ")))
                })?;
            outln!("{header}");
            for l in lines {
                let pid = l
                    .split_whitespace()
                    .nth(col)
                    .and_then(|p| p.parse::<i32>().ok());
                if pid.is_some_and(|p| pids.contains(&p)) {
                    outln!("{l}");
                }
            }
            Ok(())
        }
        other => Err(OciError::Refused(format!(
            "--format {other:?}: use table or json"
        ))),
    }
}

fn events(root: &Root, id: &str, once: bool, interval: &str) -> oci::Result<()> {
    let every = super::units::duration(interval)
        .map_err(|e| OciError::Refused(format!("--interval {interval:?}: {e}")))?;
    if every.is_zero() {
        return Err(OciError::Refused("--interval: must be more than 0".into()));
    }
    loop {
        let s = oci::stats(root, id)?;
        outln!("{s}");
        if once {
            return Ok(());
        }
        std::thread::sleep(every);
        let rec = root.load(id)?;
        if root.status(&rec) == Status::Stopped {
            return Ok(());
        }
    }
}

fn spec(bundle: &std::path::Path) -> oci::Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(OciError::Refused(format!(
            "File {} exists. Remove it first",
            path.display()
        )));
    }
    let text = serde_json::to_string_pretty(&info::template()?).unwrap_or_default();
    std::fs::write(&path, text + "\n").map_err(|e| OciError::Io { path, why: e })
}
