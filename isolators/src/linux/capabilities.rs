//! `linux/capabilities`: the task's capability sets from `linux_info` (`effective_capabilities`,
//! `bounding_capabilities`; names as Mesos writes them, `CHOWN` or `CAP_CHOWN`). Without a request the task
//! gets Docker's default set less `MKNOD` (a container must not make device nodes; the device cgroup refuses
//! them too, and a FIFO needs no capability), so images that chown or bind low ports at start work as they do
//! elsewhere; a privileged container gets every capability. Effective beyond bounding is an error (the kernel
//! would silently drop it). A non-root task gets only capabilities it asked for (`effective_capabilities`, or
//! privileged), as ambient ones too, or exec would clear them; by default it has none, as in Docker and Mesos.
//! `no_new_privs` is set unless privileged: setuid binaries in an image must not gain what we withheld.

use std::collections::HashSet;
use std::str::FromStr;

use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, LinuxCapabilitiesBuilder};

use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};

const NAME: &str = "linux/capabilities";

/// Docker's default capability set without MKNOD.
pub const DEFAULT: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

pub struct CapabilitiesIsolator;

impl Isolator for CapabilitiesIsolator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, _c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        let linux = r.linux;
        let mut out = Contribution::default();
        let (effective, bounding) = if linux.privileged {
            let all: Capabilities = every();
            (all.clone(), all)
        } else {
            let bounding_asked = match &linux.bounding_capabilities {
                Some(names) => Some(parse(names, "bounding_capabilities")?),
                None => None,
            };
            // A bounding set alone is what a root task runs with (as a root process holds its bounding set;
            // Docker's cap-add/cap-drop); a non-root one still gets none of it (below).
            let effective = match (&linux.effective_capabilities, &bounding_asked) {
                (Some(names), _) => parse(names, "effective_capabilities")?,
                (None, Some(b)) => b.clone(),
                (None, None) => parse_static(DEFAULT)?,
            };
            let bounding = bounding_asked.unwrap_or_else(|| effective.clone());
            if let Some(extra) = effective.difference(&bounding).next() {
                return Err(IsolatorError::invalid(
                    NAME,
                    format!("effective capability {extra} is not in bounding_capabilities"),
                ));
            }
            (effective, bounding)
        };
        // A non-root task holds only what was asked for (Mesos grants `effective_capabilities` through the
        // ambient set, or exec would clear them): the default set is a root task's, and handed to a non-root
        // one it would undo the user switch (SETUID, DAC_OVERRIDE). As in Docker, it keeps the bounding set
        // and nothing else.
        let asked = linux.privileged || linux.effective_capabilities.is_some();
        let effective = match (r.uid, asked) {
            (0, _) | (_, true) => effective,
            _ => Capabilities::new(),
        };
        let mut b = LinuxCapabilitiesBuilder::default()
            .bounding(bounding)
            .effective(effective.clone())
            .permitted(effective.clone());
        if r.uid != 0 {
            b = b.inheritable(effective.clone()).ambient(effective);
        } else {
            b = b
                .inheritable(Capabilities::new())
                .ambient(Capabilities::new());
        }
        let caps: LinuxCapabilities = b
            .build()
            .map_err(|e| IsolatorError::invalid(NAME, e.to_string()))?;
        out.capabilities = Some(caps);
        out.no_new_privileges = Some(!linux.privileged);
        Ok(out)
    }
}

fn one(name: &str, field: &str) -> Result<Capability> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    Capability::from_str(bare)
        .map_err(|_| IsolatorError::invalid(NAME, format!("{field}: unknown capability {name:?}")))
}

fn parse(names: &[String], field: &str) -> Result<Capabilities> {
    names.iter().map(|n| one(n, field)).collect()
}

fn parse_static(names: &[&str]) -> Result<Capabilities> {
    names.iter().map(|n| one(n, "default")).collect()
}

/// Every capability the running kernel knows (`cap_last_cap`), so a privileged task is not handed numbers the
/// kernel would reject.
fn every() -> Capabilities {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    let all: HashSet<Capability> = ALL
        .iter()
        .filter_map(|n| Capability::from_str(n).ok())
        .collect();
    all.into_iter().filter(|c| number(*c) <= last).collect()
}

fn number(c: Capability) -> u32 {
    ALL.iter()
        .position(|n| Capability::from_str(n).ok() == Some(c))
        .map_or(u32::MAX, |p| p as u32)
}

/// Capability names by number (linux/capability.h), 0..=40.
const ALL: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isolator::tests_support::{container, Req};
    use crate::vocab::LinuxSpec;

    fn prepare(linux: LinuxSpec, uid: u32) -> Result<Contribution> {
        let r = Req {
            linux,
            uid,
            ..Default::default()
        };
        CapabilitiesIsolator.prepare(&container(), &r.request())
    }

    #[test]
    fn default_is_dockers_set_with_no_new_privs() {
        let c = prepare(LinuxSpec::default(), 0).expect("prepare");
        let caps = c.capabilities.expect("caps");
        let eff = caps.effective().clone().unwrap_or_default();
        assert!(eff.contains(&Capability::Chown) && !eff.contains(&Capability::SysAdmin));
        assert_eq!(eff.len(), DEFAULT.len());
        assert_eq!(c.no_new_privileges, Some(true));
    }

    #[test]
    fn requested_sets_checked() {
        let linux = LinuxSpec {
            effective_capabilities: Some(vec!["CAP_NET_ADMIN".into()]),
            bounding_capabilities: Some(vec!["NET_RAW".into()]),
            ..Default::default()
        };
        let e = prepare(linux, 0)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("NET_ADMIN") && e.contains("bounding"), "{e}");
        let bad = LinuxSpec {
            effective_capabilities: Some(vec!["FLY".into()]),
            ..Default::default()
        };
        let e = prepare(bad, 0)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("\"FLY\""), "{e}");
        // Non-root: ambient carries the set across exec.
        let linux = LinuxSpec {
            effective_capabilities: Some(vec!["NET_BIND_SERVICE".into()]),
            ..Default::default()
        };
        let c = prepare(linux, 1000).expect("prepare");
        let amb = c
            .capabilities
            .and_then(|c| c.ambient().clone())
            .unwrap_or_default();
        assert!(amb.contains(&Capability::NetBindService));
        // Non-root without a request: nothing but the bounding set.
        let c = prepare(LinuxSpec::default(), 1000).expect("prepare");
        let caps = c.capabilities.expect("caps");
        for set in [
            caps.effective(),
            caps.permitted(),
            caps.ambient(),
            caps.inheritable(),
        ] {
            assert_eq!(set.clone().unwrap_or_default().len(), 0, "{caps:?}");
        }
        assert!(caps
            .bounding()
            .clone()
            .unwrap_or_default()
            .contains(&Capability::Chown));
    }

    #[test]
    fn privileged_gets_everything_the_kernel_has() {
        let linux = LinuxSpec {
            privileged: true,
            ..Default::default()
        };
        let c = prepare(linux, 0).expect("prepare");
        let eff = c
            .capabilities
            .and_then(|c| c.effective().clone())
            .unwrap_or_default();
        assert!(eff.contains(&Capability::SysAdmin) && eff.len() > 30);
        assert_eq!(c.no_new_privileges, Some(false));
    }
}
