//! A pod member made in a process of its own, which then becomes its supervisor: the members of a pod whose
//! namespaces are made beforehand (`container::pod_ns`) need nothing of their parent's init to be made, so each
//! is made beside the others and beside the parent, on every core, rather than one after the other in the
//! launching process. The CLI's share of a pod's start is the parent's claim, one fork per member, and the
//! parent's making.
//!
//! The launching process claims the pod's parent and forks each member before it makes the parent. The member's
//! process claims the member (its owner from its first checkpoint), provides its image and rootfs, and waits at
//! the pod's [`Gate`] until the parent is made (its ports allocated, its sandbox and namespaces there): then the
//! rest of the launch, exactly as [`super::launch::begin`] does it, and the supervisor in the same process. A
//! failure is undone and recorded by the member's process and reported on the pipe as the supervisor reports one
//! (`spawn.rs`), so the launching process reads every member the same way. A child that a pull or a fetch left
//! with threads cannot run the supervisor (its launcher forks without exec): it execs `ucr __supervise`.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;

use super::config::Config;
use super::fork::{become_supervisor, null_device, single_threaded};
use super::launch::{claim, undo};
use super::pending::naming;
use super::provision::provision;
use super::spawn::{supervise_command, Starting};
use crate::container::error::{ContainerError, Result};
use crate::container::handoff;
use crate::container::records::load;
use crate::container::state::ContainerState;
use crate::images::{Images, Notices};
use crate::spec::ContainerConfig;

/// Where a pod's members wait for their parent to be made: a pipe whose write end the launching process alone
/// keeps. One byte for each member says the parent is made; the end of the pipe without a byte (the launching
/// process failed to make the parent, or died) says it will not be.
pub struct Gate {
    read: OwnedFd,
    write: Option<OwnedFd>,
}

impl Gate {
    pub fn new() -> Result<Gate> {
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| ContainerError::io("pipe", e.into()))?;
        Ok(Gate {
            read,
            write: Some(write),
        })
    }

    /// The parent is made: each of the `members` waiting goes on.
    pub fn open(mut self, members: usize) -> Result<()> {
        let Some(w) = self.write.take() else {
            return Ok(());
        };
        let bytes = vec![b'm'; members];
        let mut at = 0;
        while at < bytes.len() {
            match rustix::io::write(&w, &bytes[at..]) {
                Ok(n) => at += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(ContainerError::io("the pod's gate", e.into())),
            }
        }
        Ok(())
    }

    /// In a member's process: waits until the parent is made. Fails when it will not be.
    fn pass(&self, parent: &str, id: &str) -> Result<()> {
        let mut byte = [0u8; 1];
        loop {
            match rustix::io::read(&self.read, &mut byte) {
                Ok(1) => return Ok(()),
                Ok(_) => {
                    let why = format!("the pod's parent {parent} was not made");
                    return Err(ContainerError::launch(id, "preparing", why, 125));
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(ContainerError::io("the pod's gate", e.into())),
            }
        }
    }
}

/// Forks the process that makes and supervises `cfg`, nested in `parent` (claimed; made once `gate` says so).
/// This process must have one thread.
pub fn fork_member(
    config: &Config,
    images: &Images,
    cfg: &ContainerConfig,
    parent: &ContainerState,
    gate: &Gate,
    notices: &dyn Notices,
) -> Result<Starting> {
    if let Some(n) = &cfg.nesting {
        super::nested::check_id(cfg, n)?;
    }
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| ContainerError::io("pipe", e.into()))?;
    let launcher = std::process::id() as i32;
    // SAFETY: the caller guarantees one thread, so the child is a whole copy of this process; it never returns
    // into the caller's code.
    match unsafe { libc::fork() } {
        -1 => Err(ContainerError::io("fork", std::io::Error::last_os_error())),
        0 => {
            handoff::die_with_launcher(launcher);
            // SAFETY: the gate's write end is the launching process's alone: a member holding a copy would
            // never see the gate's end. Closed by number: this copy of the gate is never dropped (the child
            // ends in `_exit`).
            if let Some(w) = &gate.write {
                unsafe { libc::close(w.as_raw_fd()) };
            }
            drop(read);
            make_and_supervise(config, images, cfg, parent, gate, notices, write)
        }
        pid => Ok(Starting::forked(&cfg.id, read, pid)),
    }
}

/// The child: the member's claim and launch up to its supervisor, then the supervisor.
fn make_and_supervise(
    config: &Config,
    images: &Images,
    cfg: &ContainerConfig,
    parent: &ContainerState,
    gate: &Gate,
    notices: &dyn Notices,
    notify: OwnedFd,
) -> ! {
    // SAFETY: setsid on this new process: Ctrl-C at the launcher's terminal is not for its supervisor.
    unsafe { libc::setsid() };
    // Claimed by this process, its owner from the first checkpoint (`container::handoff`): with the launching
    // process as its owner, a launching process killed now would leave the member looking lost, and a destroy
    // would tear it down while this process still makes it.
    let mut st = match claim(config, cfg, Some(parent)) {
        Ok(st) => st,
        Err(e) => report(&notify, naming(&cfg.id, e)),
    };
    let log_path = config.paths.supervisor_log(&cfg.id);
    let made = File::create(&log_path)
        .map_err(|e| ContainerError::io(&log_path, e))
        .and_then(|log| {
            handoff::owned().map_err(|e| ContainerError::io("prctl", e))?;
            let provisioned = provision(config, images, cfg, &mut st, notices)?;
            // The parent's ports, sandbox, namespaces and /dev/shm are there once the gate opens.
            gate.pass(&parent.id, &cfg.id)?;
            let parent = load(&config.paths, &parent.id)?;
            let known = provisioned
                .prepare(config, &mut st, Some(&parent))?
                .finish(config, &mut st, Some(&parent), notices)?;
            Ok((known, null_device()?, log))
        })
        .map_err(|e| naming(&cfg.id, e));
    let e = match made {
        Ok((known, null, log)) if single_threaded() => become_supervisor(
            &config.paths,
            images.store_dir(),
            &cfg.id,
            null,
            &notify,
            log,
            Some(known),
        ),
        Ok((_, _, log)) => {
            let e = exec_supervisor(config, &cfg.id, &notify, log);
            let why = format!("starting its supervisor: {e}");
            ContainerError::launch(&cfg.id, "starting", why, 125)
        }
        Err(e) => e,
    };
    report(&notify, undo(config, images, cfg, &mut st, e))
}

/// Tells the launching process that the member's launch failed with `e` (undone and recorded), and ends.
fn report(notify: &OwnedFd, e: ContainerError) -> ! {
    let line = format!(
        "failed {} {}\n",
        e.exit_code(),
        e.to_string().replace('\n', " ")
    );
    let _ = rustix::io::write(notify, line.as_bytes());
    // SAFETY: ends the child without the launcher's exit handlers.
    unsafe { libc::_exit(1) }
}

/// `ucr __supervise` in place of this process (same pid: the launching process reaps it as its child).
/// Returns only if the exec failed.
fn exec_supervisor(config: &Config, id: &str, notify: &OwnedFd, log: File) -> std::io::Error {
    supervise_command(&config.supervisor, id, notify, log).exec()
}
