//! `ucr attach`: the caller's terminal on a running container, as `docker attach` and Mesos's
//! ATTACH_CONTAINER_OUTPUT/INPUT (`dcos task attach`) give it: its output from now on, and for a task with a
//! terminal the caller's keys and window size (ctrl-p ctrl-q detaches, leaving it running). ucr exits with the
//! task's code when it ends. Without a terminal, SIGINT, SIGTERM and SIGHUP are passed on to the container
//! (`--sig-proxy`, as docker's), or detach with `--sig-proxy false`.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::{ArgAction, Args};

use ucr_runtime::containerizer::relay;
use ucr_runtime::State;

use crate::context;
use crate::globals::Globals;
use crate::output::{self, Output};

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not send the caller's keys to a task with a terminal (watch only).
    #[arg(long)]
    pub no_stdin: bool,
    /// Pass SIGINT, SIGTERM and SIGHUP on to a task without a terminal; false: they detach.
    #[arg(long, value_name = "BOOL", default_value_t = true, action = ArgAction::Set)]
    pub sig_proxy: bool,
    /// The container (a pod's member by its dotted name).
    pub id: String,
}

/// Set by the console feed when the detach keys are typed.
static DETACHED: AtomicBool = AtomicBool::new(false);

/// How often the container's state is read while nothing else happens.
const STATE_EVERY: Duration = Duration::from_millis(100);

pub fn attach(g: &Globals, a: &AttachArgs) -> anyhow::Result<i32> {
    let c = context::existing(g)?;
    let id = c.resolve(&a.id);
    let st = c.container(&id)?;
    if st.state == State::Exited || st.is_lost() {
        bail!("container {id}: not running (it has exited): nothing to attach to");
    }
    // A container that removes itself at its end keeps its record until this attach has read the end.
    let _hold = ucr_runtime::container::waiters::hold(c.paths(), &id);
    let tty = c
        .container_config(&id)?
        .is_some_and(|cfg| cfg.tty.is_some());
    let mut out = Output::from_now(&c.paths().sandbox(&id))?;
    output::catch_signals();
    let keys = tty && !a.no_stdin && std::io::stdin().is_terminal();
    let raw = match keys {
        true => relay::feed_console(c.paths(), &id, Some(&DETACHED))
            .map_err(|e| anyhow::anyhow!("container {id}: no input to its terminal: {e}"))?,
        false => None,
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut idle_ms = 1;
    let mut checked = Instant::now();
    let detached = loop {
        let any = out.pump(&mut buf)?;
        if DETACHED.load(Ordering::SeqCst) {
            break true;
        }
        if let Some(sig) = output::signalled() {
            // A terminal's ctrl-c is a key the task gets; a signal to ucr itself (a hangup) leaves it be.
            if tty || !a.sig_proxy {
                break true;
            }
            let _ = c.kill(&id, sig);
        }
        if checked.elapsed() >= STATE_EVERY {
            checked = Instant::now();
            let st = c.container(&id)?;
            if st.state == State::Exited || st.is_lost() {
                break false;
            }
        }
        idle_ms = if any { 1 } else { (idle_ms * 2).min(50) };
        std::thread::sleep(Duration::from_millis(idle_ms));
    };
    out.pump(&mut buf)?;
    drop(raw);
    if detached {
        eprintln!("ucr: detached from {id}; it runs on");
        return Ok(0);
    }
    Ok(c.wait(&id, None)?.code)
}
