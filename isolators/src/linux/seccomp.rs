//! `linux/seccomp`: every container gets a seccomp filter unless it asks for `unconfined` or is privileged.
//! The profile is ucr's default (see `seccomp_default`), the agent's `--seccomp_profile_name`, or the
//! container's `linux_info.seccomp.profile_name`; a named profile is a file in `--seccomp_config_dir` in OCI
//! form or Docker's (Mesos reads Docker's format). Docker's conditional rules (`includes`/`excludes` by
//! capability, arch or kernel) are refused with an error rather than applied unconditionally, which would
//! change what the profile means. The filter is compiled by the launcher with libseccomp; a build without it
//! fails the launch, never runs a container unfiltered.

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::LinuxSeccomp;
use serde_json::Value;

use super::seccomp_default;
use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};

const NAME: &str = "linux/seccomp";
pub const UNCONFINED: &str = "unconfined";

/// `linux/seccomp`'s settings.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SeccompConfig {
    /// `--seccomp_config_dir`: where named profiles are.
    #[serde(default)]
    pub config_dir: Option<PathBuf>,
    /// `--seccomp_profile_name`: the profile for containers that name none (default: ucr's own).
    #[serde(default)]
    pub profile_name: Option<String>,
}

pub struct Seccomp {
    config_dir: Option<PathBuf>,
    default_profile: Option<String>,
}

impl Seccomp {
    pub fn new(config: &SeccompConfig) -> Self {
        Seccomp {
            config_dir: config.config_dir.clone(),
            default_profile: config.profile_name.clone(),
        }
    }

    fn named(&self, name: &str) -> Result<Value> {
        let p = Path::new(name);
        if name.is_empty() || p.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(IsolatorError::invalid(
                NAME,
                format!("profile name {name:?} must be a plain file name"),
            ));
        }
        let Some(dir) = &self.config_dir else {
            return Err(IsolatorError::invalid(
                NAME,
                format!("profile {name:?} named but no --seccomp_config_dir given"),
            ));
        };
        let path = dir.join(p);
        let text = std::fs::read_to_string(&path).map_err(|e| IsolatorError::io(&path, e))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            IsolatorError::invalid(NAME, format!("{}: not JSON: {e}", path.display()))
        })?;
        check_unconditional(&v)
            .map_err(|why| IsolatorError::invalid(NAME, format!("{}: {why}", path.display())))?;
        Ok(v)
    }
}

impl Isolator for Seccomp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, _c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        let mut out = Contribution::default();
        if r.linux.privileged {
            return Ok(out);
        }
        let choice = r
            .linux
            .seccomp
            .as_deref()
            .or(self.default_profile.as_deref());
        let profile = match choice {
            Some(UNCONFINED) => return Ok(out),
            Some(name) => self.named(name)?,
            None => seccomp_default::profile(),
        };
        let seccomp: LinuxSeccomp = serde_json::from_value(profile)
            .map_err(|e| IsolatorError::invalid(NAME, format!("profile {choice:?}: {e}")))?;
        out.seccomp = Some(seccomp);
        Ok(out)
    }
}

/// Docker-format profiles may carry rules that apply only under conditions; refuse those.
fn check_unconditional(v: &Value) -> std::result::Result<(), String> {
    let Some(rules) = v.get("syscalls").and_then(Value::as_array) else {
        return Ok(());
    };
    for (i, rule) in rules.iter().enumerate() {
        for key in ["includes", "excludes"] {
            let set = rule
                .get(key)
                .and_then(Value::as_object)
                .is_some_and(|o| !o.is_empty());
            if set {
                return Err(format!(
                    "syscalls[{i}].{key}: conditional rules are not supported; give an unconditional profile"
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isolator::tests_support::{container, Req};
    use crate::vocab::LinuxSpec;

    fn prepare(s: &Seccomp, seccomp: Option<&str>) -> Result<Contribution> {
        let r = Req {
            linux: LinuxSpec {
                seccomp: seccomp.map(str::to_string),
                ..Default::default()
            },
            ..Default::default()
        };
        s.prepare(&container(), &r.request())
    }

    #[test]
    fn default_profile_parses_and_denies_mount() {
        let s = Seccomp::new(&SeccompConfig::default());
        let c = prepare(&s, None).expect("prepare");
        let sc = c.seccomp.expect("filter");
        let denied: Vec<String> = sc
            .syscalls()
            .clone()
            .unwrap_or_default()
            .iter()
            .flat_map(|r| r.names().clone())
            .collect();
        assert!(["mount", "unshare", "init_module", "setns"]
            .iter()
            .all(|n| denied.iter().any(|d| d == n)));
        assert!(prepare(&s, Some("unconfined"))
            .expect("ok")
            .seccomp
            .is_none());
    }

    #[test]
    fn named_profiles() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = SeccompConfig {
            config_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let s = Seccomp::new(&config);
        std::fs::write(
            dir.path().join("p.json"),
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .expect("write");
        assert!(prepare(&s, Some("p.json")).expect("ok").seccomp.is_some());
        std::fs::write(
            dir.path().join("c.json"),
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["ptrace"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_PTRACE"]}}]}"#,
        )
        .expect("write");
        let e = prepare(&s, Some("c.json"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("syscalls[0].includes"), "{e}");
        let e = prepare(&s, Some("../etc/passwd"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("plain file name"), "{e}");
        let e = prepare(&s, Some("missing.json"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("missing.json"), "{e}");
    }
}
