//! The one host-wide lock around CNI ADD and DEL. Plugins edit host-global state (the iptables chains they
//! create on first use, the bridge), and some of that is check-then-create, so two containers starting at once
//! could fail each other. A plugin chain takes tens of milliseconds, so serializing them costs little.
//!
//! The lock is an `flock` on a file, so it belongs to the open file, not to a process: every plugin run under it
//! gets a copy of the descriptor (`plugin::Invocation::exec`). A caller killed in the middle of a chain then
//! leaves the lock held by the plugin it left running, and by that plugin's children, until they end. Without
//! that, the next launch's ADD could run beside the orphaned one, the very race the lock is for. Their own
//! container's cleanup waits for them, and kills them after the plugin timeout (`stray.rs`).

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation};

use crate::error::{IsolatorError, Result};

/// How long a caller waits for the lock before it gives up: longer than a plugin may run under a live caller
/// (`PLUGIN_TIMEOUT`), long enough for a cleanup to kill an orphaned one.
const WAIT: Duration = Duration::from_secs(150);

/// The lock, held until dropped (and by every plugin given its descriptor, until they end).
#[derive(Debug)]
pub struct HostLock {
    file: File,
}

impl HostLock {
    /// The host's lock: `/run/lock/ucr-cni.lock`, or in the temp dir on a host without /run/lock.
    pub fn take() -> Result<HostLock> {
        let dir = Path::new("/run/lock");
        let dir = match dir.is_dir() {
            true => dir.to_path_buf(),
            false => std::env::temp_dir(),
        };
        Self::take_at(&dir.join("ucr-cni.lock"), WAIT)
    }

    /// The lock on file `p`, waiting at most `wait` for whoever holds it.
    pub fn take_at(p: &Path, wait: Duration) -> Result<HostLock> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(p)
            .map_err(|e| IsolatorError::io(p, e))?;
        // Polled rather than blocking: a blocking flock has no deadline, and an orphaned plugin that hangs
        // would hang every launch on the host with it.
        let deadline = Instant::now() + wait;
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(HostLock { file }),
                Err(rustix::io::Errno::WOULDBLOCK) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(2))
                }
                Err(rustix::io::Errno::WOULDBLOCK) => return Err(held_too_long(p, wait)),
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(IsolatorError::io(p, e.into())),
            }
        }
    }

    /// The descriptor a plugin is given, so that it holds the lock too.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

fn held_too_long(p: &Path, wait: Duration) -> IsolatorError {
    let why = format!(
        "still held after {} s (a CNI plugin that does not end holds it; `fuser {}` names it)",
        wait.as_secs(),
        p.display()
    );
    IsolatorError::Failed {
        isolator: "network/cni",
        why: format!("the host's CNI lock {}: {why}", p.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::plugin::{Cmd, Invocation};
    use std::os::unix::fs::PermissionsExt;

    fn try_lock(p: &Path) -> bool {
        let f = File::options().write(true).open(p).expect("open");
        flock(&f, FlockOperation::NonBlockingLockExclusive).is_ok()
    }

    #[test]
    fn a_plugin_holds_the_lock_after_its_caller_lets_go_until_it_ends() {
        let d = tempfile::tempdir().expect("tempdir");
        let lock_file = d.path().join("cni.lock");
        let pid_file = d.path().join("pid");
        // A plugin that answers at once and leaves a child behind, as a plugin does whose caller was killed
        // in the middle of its chain: the child has the plugin's descriptors, and outlives the call.
        let plugin = d.path().join("lingers");
        let body = format!(
            "#!/bin/sh\ncat >/dev/null\nsleep 30 </dev/null >/dev/null 2>&1 &\necho $! >{}\necho '{{}}'\n",
            pid_file.display()
        );
        std::fs::write(&plugin, body).expect("write");
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let lock = HostLock::take_at(&lock_file, Duration::from_secs(5)).expect("lock");
        let path = d.path().to_string_lossy().into_owned();
        let inv = Invocation {
            network: "net1",
            container_id: "c1",
            netns: Path::new("/nonexistent"),
            ifname: "eth0",
            cni_path: &path,
            lock: Some(lock.fd()),
        };
        inv.exec(Cmd::Add, "lingers", &serde_json::json!({}))
            .expect("add");
        drop(lock);
        let child: i32 = std::fs::read_to_string(&pid_file)
            .expect("pid")
            .trim()
            .parse()
            .expect("a pid");
        let held = !try_lock(&lock_file);
        // SAFETY: kill(2) of the sleep the test's plugin started.
        unsafe { libc::kill(child, libc::SIGKILL) };
        assert!(
            held,
            "the plugin's child holds the lock its caller let go of"
        );
        // Free once the last holder is gone; a new caller takes it.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !try_lock(&lock_file) {
            assert!(
                Instant::now() < deadline,
                "the lock is free once the child ended"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        HostLock::take_at(&lock_file, Duration::from_secs(1)).expect("taken again");
    }

    #[test]
    fn a_lock_held_past_the_wait_is_a_one_line_error_naming_it() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("cni.lock");
        let _held = HostLock::take_at(&p, Duration::from_secs(1)).expect("lock");
        let started = Instant::now();
        let e = HostLock::take_at(&p, Duration::from_millis(100))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert!(
            e.starts_with(&format!(
                "network/cni: the host's CNI lock {}: still held",
                p.display()
            )),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
    }
}
