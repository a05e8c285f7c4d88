//! The environment Marathon adds to every task (Marathon `TaskBuilder.taskContextEnv` and
//! `EnvironmentHelper.labelsToEnvVars`), minus the port variables (`PORT0`…, `PORTS`, `HOST`), which are set at
//! launch once host ports are allocated.
//!
//! As in Marathon: `MARATHON_APP_DOCKER_IMAGE` only for `container.type` DOCKER (Marathon's `Container.Docker`;
//! a MESOS container with a docker image does not get it), resources printed as a JVM `Double.toString` does
//! (`1.0`, `128.0`, `0.5`), label names sanitized to `[A-Za-z0-9_]` and upper-cased, labels whose key or value is
//! too long left out. `MESOS_TASK_ID` is the container id (Marathon's is `<safePath>.<uuid>`).

use std::collections::BTreeMap;

/// Marathon's limit on the length of a label variable's name and value.
const MAX_ENV_LEN: usize = 512;
const LABEL_PREFIX: &str = "MARATHON_APP_LABEL_";

pub struct TaskContext<'a> {
    pub container_id: &'a str,
    pub app_id: &'a str,
    pub version: Option<&'a str>,
    /// Only for DOCKER containers.
    pub docker_image: Option<&'a str>,
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    pub gpus: u32,
    pub labels: &'a BTreeMap<String, String>,
}

pub fn task_env(ctx: &TaskContext) -> Vec<(String, String)> {
    let mut env = vec![
        ("MESOS_TASK_ID".to_string(), ctx.container_id.to_string()),
        ("MARATHON_APP_ID".to_string(), ctx.app_id.to_string()),
    ];
    if let Some(v) = ctx.version {
        env.push(("MARATHON_APP_VERSION".into(), v.to_string()));
    }
    if let Some(image) = ctx.docker_image {
        env.push(("MARATHON_APP_DOCKER_IMAGE".into(), image.to_string()));
    }
    env.push(("MARATHON_APP_RESOURCE_CPUS".into(), jvm_double(ctx.cpus)));
    env.push(("MARATHON_APP_RESOURCE_MEM".into(), jvm_double(ctx.mem)));
    env.push(("MARATHON_APP_RESOURCE_DISK".into(), jvm_double(ctx.disk)));
    env.push(("MARATHON_APP_RESOURCE_GPUS".into(), ctx.gpus.to_string()));
    env.extend(label_env(ctx.labels));
    env
}

/// `MARATHON_APP_LABELS` (the sanitized keys, space-separated) and one `MARATHON_APP_LABEL_<KEY>` per label
/// (Marathon `EnvironmentHelper.labelsToEnvVars`), for apps and pod containers alike.
pub fn label_env(labels: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let labels: Vec<(String, &String)> = labels
        .iter()
        .filter(|(k, v)| k.len() < MAX_ENV_LEN - LABEL_PREFIX.len() && v.len() < MAX_ENV_LEN)
        .map(|(k, v)| (sanitize(k), v))
        .collect();
    let mut env = vec![(
        "MARATHON_APP_LABELS".to_string(),
        labels
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(" "),
    )];
    for (k, v) in labels {
        env.push((format!("{LABEL_PREFIX}{k}"), v.clone()));
    }
    env
}

/// Marathon: `name.replaceAll("[^a-zA-Z0-9_]+", "_").toUpperCase`.
fn sanitize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_run = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c.to_ascii_uppercase());
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out
}

/// A double as the JVM's `Double.toString` prints it, which is what Marathon puts in the env: always a decimal
/// point (`1.0`), scientific notation outside [10^-3, 10^7) (`1.0E7`).
pub fn jvm_double(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let a = v.abs();
    if v == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{v}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{v:e}");
        match s.split_once('e') {
            Some((m, e)) if m.contains('.') => format!("{m}E{e}"),
            Some((m, e)) => format!("{m}.0E{e}"),
            None => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles() {
        assert_eq!(jvm_double(1.0), "1.0");
        assert_eq!(jvm_double(128.0), "128.0");
        assert_eq!(jvm_double(0.5), "0.5");
        assert_eq!(jvm_double(0.0), "0.0");
        assert_eq!(jvm_double(16.0), "16.0");
        assert_eq!(jvm_double(1e7), "1.0E7");
        assert_eq!(jvm_double(1.5e-4), "1.5E-4");
    }

    #[test]
    fn env() {
        let labels = BTreeMap::from([
            ("HAPROXY_GROUP".to_string(), "external".to_string()),
            ("a.b-c".to_string(), "x".to_string()),
            ("long".to_string(), "v".repeat(600)),
        ]);
        let env = task_env(&TaskContext {
            container_id: "group_app",
            app_id: "/group/app",
            version: None,
            docker_image: Some("busybox"),
            cpus: 0.2,
            mem: 16.0,
            disk: 0.0,
            gpus: 0,
            labels: &labels,
        });
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("MARATHON_APP_ID"), Some("/group/app"));
        assert_eq!(get("MARATHON_APP_DOCKER_IMAGE"), Some("busybox"));
        assert_eq!(get("MARATHON_APP_RESOURCE_CPUS"), Some("0.2"));
        assert_eq!(get("MARATHON_APP_RESOURCE_MEM"), Some("16.0"));
        assert_eq!(get("MARATHON_APP_LABELS"), Some("HAPROXY_GROUP A_B_C"));
        assert_eq!(get("MARATHON_APP_LABEL_A_B_C"), Some("x"));
        assert_eq!(get("MARATHON_APP_LABEL_LONG"), None);
        assert_eq!(get("MARATHON_APP_VERSION"), None);
    }
}
