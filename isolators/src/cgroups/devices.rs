//! `cgroups/devices`: a container may open only the devices Mesos allows by default (null, zero, full, random,
//! urandom, tty, console, pts, ptmx, /dev/net/tun) and may mknod any node (opening it still needs the rule), as
//! Mesos's and runc's default lists say; `linux_info` privileged allows every device.
//!
//! v1: the rules go into the launch (`deny a`, then the allows) and the placement writes them to `devices.deny` and
//! `devices.allow`. v2 has no devices files: the kernel asks a BPF program attached to the cgroup, and
//! libcgroups builds one only with its `cgroupsv2_devices` feature (a libbpf C build), so this isolator compiles
//! the same rules into a program itself (`bpf.rs`) and attaches it in `isolate`, before the task runs. The rules
//! are checkpointed at `prepare` because `isolate` gets no request.
//!
//! Host devices a request names (Docker `--device`) are added: their node in the container's /dev, with the
//! host node's numbers, and an allow rule with the requested access.
//!
//! Device nodes: the launcher creates null, zero, full, tty, random and urandom in the container's /dev, and
//! ptmx as a link to pts/ptmx. /dev/net/tun is allowed but not created, as in Mesos: a task that needs it makes
//! the node (mknod is allowed) and still needs CAP_NET_ADMIN to use it.

use std::path::Path;

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};

use super::device_rules::rules;
use super::{bpf, Controller, Tree, Version};
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};

const NAME: &str = "cgroups/devices";
const RULES_FILE: &str = "rules.json";

pub struct Devices;

impl Devices {
    /// `isolate` on a given tree (the isolator itself always works on the host's).
    pub fn isolate_in(tree: &Tree, c: &Container<'_>) -> Result<()> {
        let h = tree.get()?;
        if h.version() != Version::V2 {
            return Ok(());
        }
        let f = c.module_dir(NAME).join(RULES_FILE);
        let text = match std::fs::read(&f) {
            Ok(t) => t,
            // Never prepared (the isolator was added to a running container's set): nothing to enforce from.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(IsolatorError::io(&f, e)),
        };
        let rules: Vec<LinuxDeviceCgroup> = serde_json::from_slice(&text).map_err(|e| {
            IsolatorError::io(&f, std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        })?;
        let program = bpf::compile(&rules);
        let dir = h.dir(Controller::Devices, c.cgroup)?;
        bpf::attach(
            &bpf::load(&program).map_err(|e| bpf_err(c.cgroup, e))?,
            &dir,
        )
        .map_err(|e| bpf_err(c.cgroup, e))
    }
}

/// A host device (Docker `--device`): the node to make in the container, with the host node's type, numbers
/// and mode, and the rule that lets the container open it with `access`.
fn host_device(d: &crate::vocab::Device) -> Result<(LinuxDevice, LinuxDeviceCgroup)> {
    let bad = |why: String| IsolatorError::invalid(NAME, format!("device {}: {why}", d.host_path));
    let st = rustix::fs::stat(d.host_path.as_str()).map_err(|e| bad(e.to_string()))?;
    let kind = rustix::fs::FileType::from_raw_mode(st.st_mode);
    let typ = match kind {
        rustix::fs::FileType::CharacterDevice => LinuxDeviceType::C,
        rustix::fs::FileType::BlockDevice => LinuxDeviceType::B,
        _ => return Err(bad("not a character or block device".into())),
    };
    if !d.container_path.starts_with("/dev/") || d.container_path.contains("/../") {
        return Err(bad(format!("{}: a path under /dev", d.container_path)));
    }
    if d.access.is_empty() || !d.access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad(format!("access {:?}: some of rwm", d.access)));
    }
    let (major, minor) = (
        rustix::fs::major(st.st_rdev) as i64,
        rustix::fs::minor(st.st_rdev) as i64,
    );
    let mut node = LinuxDevice::default();
    node.set_path(d.container_path.clone().into())
        .set_typ(typ)
        .set_major(major)
        .set_minor(minor)
        .set_file_mode(Some(st.st_mode & 0o777))
        .set_uid(Some(0))
        .set_gid(Some(0));
    let mut rule = LinuxDeviceCgroup::default();
    rule.set_allow(true)
        .set_typ(Some(typ))
        .set_major(Some(major))
        .set_minor(Some(minor))
        .set_access(Some(d.access.clone()));
    Ok((node, rule))
}

fn bpf_err(cgroup: &Path, why: impl std::fmt::Display) -> IsolatorError {
    super::cgroup_err(NAME, cgroup, format!("device filter: {why}"))
}

impl Isolator for Devices {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        let mut device_rules = rules(r.linux.privileged);
        let mut devices = Vec::new();
        for d in &r.linux.devices {
            let (node, rule) = host_device(d)?;
            devices.push(node);
            device_rules.push(rule);
        }
        let dir = c.module_dir(NAME);
        std::fs::create_dir_all(&dir).map_err(|e| IsolatorError::io(&dir, e))?;
        let f = dir.join(RULES_FILE);
        let json = serde_json::to_vec(&device_rules).unwrap_or_default();
        std::fs::write(&f, json).map_err(|e| IsolatorError::io(&f, e))?;
        Ok(Contribution {
            device_rules,
            devices,
            ..Default::default()
        })
    }

    fn isolate(&self, c: &Container<'_>, _pid: i32) -> Result<()> {
        Self::isolate_in(&Tree::Host, c)
    }

    fn cleanup(&self, c: &Container<'_>) -> Result<()> {
        // The program goes with the cgroup; only the checkpoint is ours to remove.
        let dir = c.module_dir(NAME);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(IsolatorError::io(dir, e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fake::{container, Req};
    use super::*;

    #[test]
    fn deny_all_then_the_default_list_or_everything() {
        let r = rules(false);
        assert_eq!(r[0].to_string(), "a *:* rwm");
        assert!(!r[0].allow());
        let allowed: Vec<String> = r[1..].iter().map(|d| d.to_string()).collect();
        assert!(allowed.contains(&"c 1:3 rwm".to_string()), "{allowed:?}");
        assert!(allowed.contains(&"c 136:* rwm".to_string()), "{allowed:?}");
        assert!(allowed.contains(&"c 10:200 rwm".to_string()), "{allowed:?}");
        assert!(allowed.contains(&"b *:* m".to_string()), "{allowed:?}");
        assert!(r[1..].iter().all(|d| d.allow()));
        assert_eq!(allowed.len(), 12);
        let p = rules(true);
        assert_eq!(p.len(), 2);
        assert!(p[1].allow() && p[1].to_string() == "a *:* rwm");
    }

    #[test]
    fn prepare_checkpoints_the_rules_and_cleanup_removes_them() {
        let t = tempfile::tempdir().expect("tmp");
        let c = container(t.path());
        let mut req = Req::default();
        req.linux.privileged = true;
        let got = Devices.prepare(&c, &req.request()).expect("prepare");
        assert_eq!(got.device_rules.len(), 2);
        let f = c.module_dir(NAME).join(RULES_FILE);
        let back: Vec<LinuxDeviceCgroup> =
            serde_json::from_slice(&std::fs::read(&f).expect("read")).expect("json");
        assert_eq!(back, got.device_rules);
        Devices.cleanup(&c).expect("cleanup");
        assert!(!f.exists());
        Devices.cleanup(&c).expect("cleanup is idempotent");
    }
}
