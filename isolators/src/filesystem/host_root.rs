//! `filesystem/linux` for a task without an image (Mesos's command task on the agent's own filesystem). The
//! task sees the host's root, but in a mount namespace of its own whose mounts never reach the host: a fresh
//! /proc when it has its own pid namespace (so `ps` shows its processes, not the host's), a private /dev/shm and
//! /dev/mqueue with its own IPC namespace, and a private /tmp that is the sandbox's `tmp` directory (Mesos's
//! `filesystem/linux` + shared-/tmp convention, so one task's temporary files neither see nor outlive
//! another's). Volumes are mounted in the same namespace by the volume isolators.
//!
//! Nothing is ever created on the host's side: every mount point must already exist there (`/tmp`, `/proc`,
//! `/dev/shm`, and an absolute volume path), as in Mesos, which refuses an absolute container path that does not
//! exist for a container without an image.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{host_name_files, ipc_mounts, mount, proc_mount, tmpfs, NAME, SHARE_PARENT};
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Request};

/// The contribution of `filesystem/linux` to a task on the host's root.
pub(super) fn prepare(
    c: &Container<'_>,
    r: &Request<'_>,
    masked: &[&str],
    read_only: &[&str],
) -> Result<Contribution> {
    if r.linux.readonly_rootfs {
        return Err(IsolatorError::invalid(
            NAME,
            "a read-only root filesystem needs an image (this task runs on the host's root)",
        ));
    }
    let mut out = Contribution {
        mount_namespace: true,
        ..Contribution::default()
    };
    if !r.linux.share_pid_namespace {
        out.mounts.push(proc_mount()?);
    }
    if r.linux.ipc_mode.as_deref() != Some(SHARE_PARENT) {
        // Where the host has the mount points: nothing is made on its side.
        let there = |m: &oci_spec::runtime::Mount| m.destination().is_dir();
        out.mounts.extend(ipc_mounts(r)?.into_iter().filter(there));
    }
    // The private /tmp: world-writable and sticky, as /tmp is, inside the sandbox the task owns.
    let tmp = c.sandbox.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| IsolatorError::io(&tmp, e))?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))
        .map_err(|e| IsolatorError::io(&tmp, e))?;
    out.mounts
        .push(mount(NAME, "/tmp", "bind", &tmp, &["rbind", "rw"])?);
    out.mounts
        .extend(host_name_files(c, r)?.unwrap_or_default());
    for t in &r.linux.tmpfs {
        if !Path::new(&t.path).is_dir() {
            return Err(IsolatorError::invalid(
                NAME,
                format!(
                    "tmpfs {}: a task without an image mounts only on a directory the host has",
                    t.path
                ),
            ));
        }
        out.mounts.push(tmpfs(t)?);
    }
    // Only the fresh /proc is the task's own to protect; the host's /sys it sees is the host's business.
    if !r.linux.privileged && !r.linux.share_pid_namespace {
        let proc = |l: &[&str]| -> Vec<String> {
            l.iter()
                .filter(|p| p.starts_with("/proc/"))
                .map(|s| s.to_string())
                .collect()
        };
        out.masked_paths = proc(masked);
        out.readonly_paths = proc(read_only);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Limits, LinuxSpec, NetworkSpec, Resources};

    fn prepare(sandbox: &Path, linux: LinuxSpec) -> Result<Contribution> {
        let c = Container {
            id: "c",
            cgroup: Path::new("/ucr/c"),
            state_dir: sandbox,
            sandbox,
            sandbox_in_container: &sandbox.to_string_lossy(),
            rootfs: None,
            ephemeral: &[],
        };
        let r = Request {
            resources: &Resources::default(),
            limits: &Limits::default(),
            volumes: &[],
            persistent: &[],
            network: &NetworkSpec::default(),
            ports: &[],
            hostname: None,
            rlimits: &[],
            linux: &linux,
            uid: 0,
            gid: 0,
        };
        super::prepare(&c, &r, &["/proc/kcore", "/sys/firmware"], &["/proc/sys"])
    }

    #[test]
    fn a_private_tmp_and_proc_and_only_procs_paths_protected() {
        let t = tempfile::tempdir().expect("tempdir");
        let c = prepare(t.path(), LinuxSpec::default()).expect("prepare");
        assert!(c.mount_namespace);
        let dests: Vec<_> = c.mounts.iter().map(|m| m.destination().clone()).collect();
        assert_eq!(dests.first().map(|d| d.as_path()), Some(Path::new("/proc")));
        assert!(dests.iter().any(|d| d == Path::new("/tmp")));
        assert!(!dests
            .iter()
            .any(|d| d.starts_with("/sys") || d == Path::new("/dev")));
        let mode = std::fs::metadata(t.path().join("tmp")).map(|m| m.permissions().mode());
        assert_eq!(mode.ok().map(|m| m & 0o7777), Some(0o1777));
        assert!(c.masked_paths.iter().all(|p| p.starts_with("/proc/")));
        assert!(c.readonly_paths.contains(&"/proc/sys".to_string()));
        // Sharing the host's pid namespace: its /proc is the host's, nothing to mount or protect.
        let shared = LinuxSpec {
            share_pid_namespace: true,
            ..Default::default()
        };
        let c = prepare(t.path(), shared).expect("prepare");
        assert!(c.masked_paths.is_empty());
        assert!(!c
            .mounts
            .iter()
            .any(|m| m.destination() == Path::new("/proc")));
        let ro = LinuxSpec {
            readonly_rootfs: true,
            ..Default::default()
        };
        let e = prepare(t.path(), ro).expect_err("refused").to_string();
        assert!(e.contains("read-only root"), "{e}");
    }
}
