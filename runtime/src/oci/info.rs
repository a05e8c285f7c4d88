//! What the OCI mode says about itself and what it reads from a command line: `features` (runtime-spec
//! features.md), the `spec` template (runc's default `config.json`), signal names.

use std::str::FromStr;

use oci_spec::runtime::Spec;

use super::error::{OciError, Result};
use super::record::OCI_VERSION;

/// runtime-spec features.md: what this runtime implements.
pub fn features() -> serde_json::Value {
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": crate::launcher::mount_option_names(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {"enabled": true},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}},
        },
        "annotations": {"io.github.ucr.runtime": "ucr"},
    })
}

/// runc's `spec` template: a busybox-style `sh` on a read-only `rootfs`, with runc's defaults (namespaces,
/// mounts, masked and read-only paths, capabilities, RLIMIT_NOFILE 1024), as `oci-spec` builds it.
pub fn template() -> Result<serde_json::Value> {
    let mut spec = Spec::default();
    spec.set_hostname(Some("ucr".into()));
    if let Some(mut p) = spec.process().clone() {
        p.set_terminal(Some(true));
        spec.set_process(Some(p));
    }
    serde_json::to_value(&spec).map_err(|e| OciError::Refused(format!("spec template: {e}")))
}

/// A signal by number (`9`), by name (`KILL`, `SIGKILL`, either case) or as `RTMIN+n` / `SIGRTMAX-n`.
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return match (1..=libc::SIGRTMAX()).contains(&n) {
            true => Ok(n),
            false => Err(OciError::Signal(s.to_string())),
        };
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let rt = |base: i32, rest: &str, sign: i32| {
        rest.parse::<i32>()
            .ok()
            .map(|n| base + sign * n)
            .filter(|n| (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(n))
    };
    let n = match name {
        "RTMIN" => Some(libc::SIGRTMIN()),
        "RTMAX" => Some(libc::SIGRTMAX()),
        _ if name.starts_with("RTMIN+") => rt(libc::SIGRTMIN(), &name[6..], 1),
        _ if name.starts_with("RTMAX-") => rt(libc::SIGRTMAX(), &name[6..], -1),
        _ => nix::sys::signal::Signal::from_str(&format!("SIG{name}"))
            .ok()
            .map(|s| s as i32),
    };
    n.ok_or_else(|| OciError::Signal(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_number_name_and_realtime_offset() {
        assert_eq!(parse_signal("9").ok(), Some(9));
        assert_eq!(parse_signal("KILL").ok(), Some(9));
        assert_eq!(parse_signal("sigterm").ok(), Some(15));
        assert_eq!(parse_signal("SIGHUP").ok(), Some(1));
        assert_eq!(parse_signal("RTMIN+3").ok(), Some(libc::SIGRTMIN() + 3));
        for bad in ["0", "65", "SIGNOPE", "RTMIN+99", ""] {
            assert!(parse_signal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn features_name_every_hook_and_the_version_range() {
        let f = features();
        assert_eq!(f["ociVersionMax"], OCI_VERSION);
        assert_eq!(f["hooks"].as_array().map(Vec::len), Some(6));
        assert!(template().is_ok());
    }
}
