//! `filesystem/linux`: what a container with an image sees besides its rootfs — a fresh /proc, /sys read-only,
//! /dev as a small tmpfs (the launcher makes the standard nodes in it), devpts, /dev/shm sized by
//! `linux_info.shm_size`, mqueue, the cgroup tree read-only; the /proc and /sys paths that leak host facts or
//! accept writes that affect the host are masked or made read-only (the runc/Docker lists). With host
//! networking, the host's /etc/hosts, /etc/resolv.conf and /etc/hostname are bound read-only so names resolve as
//! on the host (Mesos's behaviour). A privileged container keeps /proc and /sys unmasked and writable.

use std::path::Path;

use super::{host_name_files, host_root, ipc_mounts, mount, proc_mount, tmpfs};
use crate::error::Result;
use crate::isolator::{Container, Contribution, Isolator, Request};
use crate::vocab::NetworkMode;

use super::NAME;

pub use super::SHARE_PARENT;

const MASKED: &[&str] = &[
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const READ_ONLY: &[&str] = &[
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

pub struct FilesystemLinux;

impl Isolator for FilesystemLinux {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        if c.rootfs.is_none() {
            return host_root::prepare(c, r, MASKED, READ_ONLY);
        }
        let mut out = Contribution::default();
        let privileged = r.linux.privileged;
        let sys_mode = if privileged { "rw" } else { "ro" };
        out.mounts = vec![
            proc_mount()?,
            mount(
                NAME,
                "/dev",
                "tmpfs",
                "tmpfs",
                &["nosuid", "strictatime", "mode=755", "size=65536k"],
            )?,
            mount(
                NAME,
                "/dev/pts",
                "devpts",
                "devpts",
                &[
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620",
                    "gid=5",
                ],
            )?,
            mount(
                NAME,
                "/sys",
                "sysfs",
                "sysfs",
                &["nosuid", "noexec", "nodev", sys_mode],
            )?,
            mount(
                NAME,
                "/sys/fs/cgroup",
                "cgroup",
                "cgroup",
                &["nosuid", "noexec", "nodev", "relatime", sys_mode],
            )?,
        ];
        // Mesos `ipc_mode: SHARE_PARENT`: the parent's (here the host's) IPC namespace, so its /dev/shm too.
        if r.linux.ipc_mode.as_deref() == Some(SHARE_PARENT) {
            out.mounts.push(mount(
                NAME,
                "/dev/shm",
                "bind",
                "/dev/shm",
                &["rbind", "rw"],
            )?);
        } else {
            out.mounts.extend(ipc_mounts(r)?);
        }
        if let Some(own) = host_name_files(c, r)? {
            out.mounts.extend(own);
        } else if r.network.mode == NetworkMode::Host {
            for f in ["/etc/resolv.conf", "/etc/hosts", "/etc/hostname"] {
                if Path::new(f).exists() {
                    out.mounts.push(mount(
                        NAME,
                        f,
                        "bind",
                        f,
                        &["bind", "ro", "nosuid", "nodev"],
                    )?);
                }
            }
        }
        // Docker `--tmpfs`: after the kernel filesystems, so one below /dev or /run lands on them. Never
        // executable or set-uid unless asked, as Docker's default.
        for t in &r.linux.tmpfs {
            out.mounts.push(tmpfs(t)?);
        }
        out.readonly_root = r.linux.readonly_rootfs;
        if !privileged {
            out.masked_paths = MASKED.iter().map(|s| s.to_string()).collect();
            out.readonly_paths = READ_ONLY.iter().map(|s| s.to_string()).collect();
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::{Limits, LinuxSpec, NetworkSpec, Resources};

    fn prepare(linux: LinuxSpec, net: NetworkSpec) -> Result<Contribution> {
        let root = Path::new("/tmp/rootfs");
        let c = Container {
            id: "c",
            cgroup: Path::new("/ucr/c"),
            state_dir: Path::new("/tmp/state"),
            sandbox: Path::new("/tmp/sandbox"),
            sandbox_in_container: "/mnt/mesos/sandbox",
            rootfs: Some(root),
            ephemeral: &[],
        };
        let r = Request {
            resources: &Resources::default(),
            limits: &Limits::default(),
            volumes: &[],
            persistent: &[],
            network: &net,
            ports: &[],
            hostname: None,
            rlimits: &[],
            linux: &linux,
            uid: 0,
            gid: 0,
        };
        FilesystemLinux.prepare(&c, &r)
    }

    #[test]
    fn shm_size_and_masks() {
        let linux = LinuxSpec {
            shm_size: Some(128),
            ..Default::default()
        };
        let c = prepare(linux, NetworkSpec::default()).expect("prepare");
        let shm = c
            .mounts
            .iter()
            .find(|m| m.destination() == Path::new("/dev/shm"))
            .and_then(|m| m.options().clone())
            .unwrap_or_default();
        assert!(shm.contains(&"size=131072k".to_string()), "{shm:?}");
        assert!(c.readonly_paths.contains(&"/proc/sys".to_string()));
        assert!(c.masked_paths.contains(&"/proc/kcore".to_string()));
        // Host network: the host's resolver files, read-only.
        assert!(c
            .mounts
            .iter()
            .any(|m| m.destination() == Path::new("/etc/hosts")));
    }

    #[test]
    fn privileged_unmasked_and_own_netns_without_host_files() {
        let linux = LinuxSpec {
            privileged: true,
            ..Default::default()
        };
        let net = NetworkSpec {
            mode: NetworkMode::None,
            ..Default::default()
        };
        let c = prepare(linux, net).expect("prepare");
        assert!(c.masked_paths.is_empty() && c.readonly_paths.is_empty());
        assert!(!c
            .mounts
            .iter()
            .any(|m| m.destination() == Path::new("/etc/hosts")));
        let zero = LinuxSpec {
            shm_size: Some(0),
            ..Default::default()
        };
        assert!(prepare(zero, NetworkSpec::default()).is_err());
    }
}
