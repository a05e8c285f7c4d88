//! A pod member made in a process of its own, which then becomes its supervisor: the members of a pod whose
//! namespaces are made beforehand (`container::pod_ns`) need nothing of their parent to be made, so each is
//! made beside the others, on every core, rather than one after the other in the launching process. The CLI's
//! share of a pod's start is then the parent's launch and one fork per member.
//!
//! The launching process claims the id (so a taken id is its error, at once) and forks; the child provides
//! the rootfs, lets the isolators prepare, writes the bundle and fetches, with the launcher's output for its
//! notices, exactly as [`super::launch::begin`] does, and then runs the supervisor in the same process. A
//! failure is undone and recorded by the child and reported on the pipe as the supervisor reports one
//! (`spawn.rs`), so the launching process reads every member the same way. A child that a pull or a fetch left
//! with threads cannot run the supervisor (its launcher forks without exec): it execs `ucr __supervise`.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;

use super::config::Config;
use super::fork::{become_supervisor, null_device, single_threaded};
use super::launch::{claim, prepare, undo};
use super::pending::naming;
use super::spawn::{report_pipe, supervise_command, Starting};
use crate::container::checkpoint::write_json;
use crate::container::error::{ContainerError, Result};
use crate::container::handoff;
use crate::container::state::{ContainerState, Owner};
use crate::images::{Images, Notices};
use crate::spec::ContainerConfig;

/// Claims `cfg`, nested in `parent` (placed or not), and forks the process that makes it and supervises it.
/// This process must have one thread.
pub fn fork_member(
    config: &Config,
    images: &Images,
    cfg: &ContainerConfig,
    parent: &ContainerState,
    notices: &dyn Notices,
) -> Result<Starting> {
    if let Some(n) = &cfg.nesting {
        super::nested::check_id(cfg, n)?;
    }
    let id = cfg.id.as_str();
    let mut st = claim(config, cfg, Some(parent))?;
    let started = (|| {
        let (read, write, log) = report_pipe(&config.paths, id)?;
        let launcher = std::process::id() as i32;
        // SAFETY: the caller guarantees one thread, so the child is a whole copy of this process; it never
        // returns into the caller's code.
        match unsafe { libc::fork() } {
            -1 => Err(ContainerError::io("fork", std::io::Error::last_os_error())),
            0 => {
                handoff::die_with_launcher(launcher);
                drop(read);
                make_and_supervise(config, images, cfg, st.clone(), parent, notices, write, log)
            }
            pid => Ok(Starting::forked(id, read, pid)),
        }
    })();
    started.map_err(|e| undo(config, images, cfg, &mut st, e))
}

/// The child: the member's launch up to its supervisor, then the supervisor.
#[allow(clippy::too_many_arguments)]
fn make_and_supervise(
    config: &Config,
    images: &Images,
    cfg: &ContainerConfig,
    mut st: ContainerState,
    parent: &ContainerState,
    notices: &dyn Notices,
    notify: OwnedFd,
    log: File,
) -> ! {
    // SAFETY: setsid on this new process: Ctrl-C at the launcher's terminal is not for its supervisor.
    unsafe { libc::setsid() };
    // This process launches the member from here on, and says so first (`container::handoff`): with the
    // launching process as its owner, a launching process killed now would leave the member looking lost, and
    // a destroy would tear it down while this process still makes it.
    st.owner = Some(Owner::current());
    let made = write_json(&config.paths.state_file(&cfg.id), &st)
        .and_then(|()| handoff::owned().map_err(|e| ContainerError::io("prctl", e)))
        .and_then(|()| prepare(config, images, cfg, &mut st, Some(parent), notices))
        .and_then(|p| p.finish(config, &mut st, Some(parent), notices))
        .and_then(|known| Ok((known, null_device()?)))
        .map_err(|e| naming(&cfg.id, e));
    let e = match made {
        Ok((known, null)) if single_threaded() => become_supervisor(
            &config.paths,
            images.store_dir(),
            &cfg.id,
            null,
            &notify,
            log,
            Some(known),
        ),
        Ok(_) => {
            let e = exec_supervisor(config, &cfg.id, &notify, log);
            let why = format!("starting its supervisor: {e}");
            ContainerError::launch(&cfg.id, "starting", why, 125)
        }
        Err(e) => e,
    };
    let e = undo(config, images, cfg, &mut st, e);
    let line = format!(
        "failed {} {}\n",
        e.exit_code(),
        e.to_string().replace('\n', " ")
    );
    let _ = rustix::io::write(&notify, line.as_bytes());
    // SAFETY: ends the child without the launcher's exit handlers.
    unsafe { libc::_exit(1) }
}

/// `ucr __supervise` in place of this process (same pid: the launching process reaps it as its child).
/// Returns only if the exec failed.
fn exec_supervisor(config: &Config, id: &str, notify: &OwnedFd, log: File) -> std::io::Error {
    supervise_command(&config.supervisor, id, notify, log).exec()
}
