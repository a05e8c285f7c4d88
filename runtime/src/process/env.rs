//! A container's environment and working directory.
//!
//! Environment layers, lowest first (a later layer replaces a variable of an earlier one):
//! 1. agent defaults: `MESOS_SANDBOX` = the in-container sandbox path;
//! 2. the image `Env` (entries without `=` skipped, as the Mesos docker/runtime isolator does);
//! 3. `cfg.framework_env` (Marathon's `MARATHON_APP_*`);
//! 4. `extra` from the caller (port variables `PORT0`…, `HOST`), above the task vars as in Marathon's merge;
//! 5. `cfg.secret_env` (resolved secret variables);
//! 6. the request's env (`cfg.command.env`, later duplicates winning).
//!
//! This is Mesos' order (agent env < MESOS_SANDBOX < isolator env (image) < CommandInfo.environment), with
//! Marathon's additions inside the CommandInfo layer below the app's own `env`, as Marathon builds it. Like
//! Mesos, a request (or image) may override `MESOS_SANDBOX`. `PATH` gets [`DEFAULT_PATH`] when no layer sets it
//! (Mesos `os::host_default_path`). The result is sorted by name, so it is the same on every run.

use std::collections::BTreeMap;

use ucr_registry::manifest::RunConfig;

use crate::spec::ContainerConfig;

/// Mesos' `os::host_default_path()`.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment of the container's process, as `NAME=VALUE` strings sorted by name. `sandbox` is the sandbox
/// as seen inside the container (`/mnt/mesos/sandbox` with an image, the host path without).
pub fn build_env(
    cfg: &ContainerConfig,
    image: Option<&RunConfig>,
    sandbox: &str,
    extra: &[(String, String)],
) -> Vec<String> {
    let mut env: BTreeMap<&str, &str> = BTreeMap::new();
    env.insert("MESOS_SANDBOX", sandbox);
    for entry in image.and_then(|i| i.env.as_ref()).into_iter().flatten() {
        if let Some((k, v)) = entry.split_once('=').filter(|(k, _)| !k.is_empty()) {
            env.insert(k, v);
        }
    }
    for (k, v) in cfg.framework_env.iter().chain(extra) {
        env.insert(k, v);
    }
    for (k, v) in &cfg.secret_env {
        env.insert(k, v.expose());
    }
    for (k, v) in &cfg.command.env {
        env.insert(k, v);
    }
    env.entry("PATH").or_insert(DEFAULT_PATH);
    env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// The working directory inside the container: `cfg.workdir`, else the image `WorkingDir`, else the sandbox.
/// Empty strings count as unset (images write `"WorkingDir": ""`).
pub fn working_dir(cfg: &ContainerConfig, image: Option<&RunConfig>, sandbox: &str) -> String {
    cfg.workdir
        .as_deref()
        .filter(|w| !w.is_empty())
        .or_else(|| {
            image
                .and_then(|i| i.working_dir.as_deref())
                .filter(|w| !w.is_empty())
        })
        .unwrap_or(sandbox)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucr_registry::secret::Secret;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn precedence() {
        let image = RunConfig {
            env: Some(vec![
                "PATH=/img/bin".into(),
                "A=image".into(),
                "B=image".into(),
                "NOEQUALS".into(),
                "=x".into(),
                "EQ=a=b".into(),
            ]),
            ..RunConfig::default()
        };
        let mut cfg = ContainerConfig {
            framework_env: pairs(&[("A", "framework"), ("C", "framework"), ("F", "framework")]),
            secret_env: vec![
                ("S".into(), Secret::new("s3cret")),
                ("D".into(), Secret::new("secret")),
            ],
            ..ContainerConfig::default()
        };
        cfg.command.env = pairs(&[("B", "request"), ("D", "request"), ("B", "request2")]);
        let extra = pairs(&[("C", "extra"), ("PORT0", "31000")]);
        let env = build_env(&cfg, Some(&image), "/mnt/mesos/sandbox", &extra);
        assert_eq!(
            env,
            vec![
                "A=framework",
                "B=request2",
                "C=extra",
                "D=request",
                "EQ=a=b",
                "F=framework",
                "MESOS_SANDBOX=/mnt/mesos/sandbox",
                "PATH=/img/bin",
                "PORT0=31000",
                "S=s3cret",
            ]
        );
    }

    #[test]
    fn defaults() {
        let env = build_env(&ContainerConfig::default(), None, "/sb", &[]);
        assert_eq!(
            env,
            vec![
                "MESOS_SANDBOX=/sb".to_string(),
                format!("PATH={DEFAULT_PATH}")
            ]
        );
        // A request may override MESOS_SANDBOX, as in Mesos.
        let mut cfg = ContainerConfig::default();
        cfg.command.env = pairs(&[("MESOS_SANDBOX", "/x")]);
        assert!(build_env(&cfg, None, "/sb", &[]).contains(&"MESOS_SANDBOX=/x".to_string()));
    }

    #[test]
    fn workdir() {
        let image = RunConfig {
            working_dir: Some("/app".into()),
            ..RunConfig::default()
        };
        let empty = RunConfig {
            working_dir: Some(String::new()),
            ..RunConfig::default()
        };
        let mut cfg = ContainerConfig::default();
        assert_eq!(working_dir(&cfg, Some(&image), "/sb"), "/app");
        assert_eq!(working_dir(&cfg, Some(&empty), "/sb"), "/sb");
        assert_eq!(working_dir(&cfg, None, "/sb"), "/sb");
        cfg.workdir = Some("/w".into());
        assert_eq!(working_dir(&cfg, Some(&image), "/sb"), "/w");
    }
}
