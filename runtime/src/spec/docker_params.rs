//! Docker `parameters` (`[{key, value}]`, passed by the Docker containerizer to `docker run` as `--key=value`)
//! from Mesos `DockerInfo` and Marathon `container.docker`. ucr runs no docker CLI, so it honours the keys it can
//! express in a `ContainerConfig` and refuses every other one by name rather than silently dropping it.

use super::config::ContainerConfig;
use super::error::{Result, SpecError};

/// The keys honoured, long and short docker flag names.
const HONOURED: &str = "hostname, env, label, workdir, user, entrypoint (or h, e, l, w, u)";

/// Applies `params` in order (a later `hostname` wins, `env` entries append after the request's env so they win
/// over it as `docker run -e` flags given after Mesos' own do). `path` is the JSON path of the list.
pub fn apply_docker_parameters<'a>(
    cfg: &mut ContainerConfig,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    path: &str,
) -> Result<()> {
    for (i, (key, value)) in params.into_iter().enumerate() {
        let at = |what: &str| format!("{path}[{i}].{what}");
        match key {
            "hostname" | "h" => cfg.hostname = Some(value.to_string()),
            "env" | "e" => {
                // `-e NAME` without `=` copies the docker CLI's own variable; there is no such process here, and
                // copying ucr's environment into a container would leak it.
                let (k, v) = value.split_once('=').ok_or_else(|| {
                    SpecError::field(at("value"), format!("env {value:?}: expected NAME=VALUE"))
                })?;
                if k.is_empty() {
                    return Err(SpecError::field(at("value"), "env: empty variable name"));
                }
                cfg.command.env.push((k.to_string(), v.to_string()));
            }
            "label" | "l" => {
                // docker: a label without `=` has an empty value.
                let (k, v) = value.split_once('=').unwrap_or((value, ""));
                cfg.labels.insert(k.to_string(), v.to_string());
            }
            "workdir" | "w" => cfg.workdir = Some(value.to_string()),
            "user" | "u" => cfg.command.user = Some(value.to_string()),
            // `--entrypoint` takes one executable, never split; "" clears the image ENTRYPOINT.
            "entrypoint" => {
                cfg.entrypoint = Some(if value.is_empty() {
                    Vec::new()
                } else {
                    vec![value.to_string()]
                })
            }
            other => {
                return Err(SpecError::field(
                    at("key"),
                    format!("docker parameter {other:?} is not supported (ucr honours {HONOURED})"),
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honoured_and_refused() {
        let mut cfg = ContainerConfig::default();
        let params = [
            ("hostname", "h1"),
            ("env", "A=1=2"),
            ("e", "B="),
            ("label", "tier=web"),
            ("l", "bare"),
            ("workdir", "/srv"),
            ("user", "1000:1000"),
            ("entrypoint", "/bin/echo"),
        ];
        apply_docker_parameters(&mut cfg, params, "container.docker.parameters").expect("apply");
        assert_eq!(cfg.hostname.as_deref(), Some("h1"));
        assert_eq!(
            cfg.command.env,
            vec![("A".into(), "1=2".into()), ("B".into(), "".into())]
        );
        assert_eq!(cfg.labels.get("tier").map(String::as_str), Some("web"));
        assert_eq!(cfg.labels.get("bare").map(String::as_str), Some(""));
        assert_eq!(cfg.workdir.as_deref(), Some("/srv"));
        assert_eq!(cfg.command.user.as_deref(), Some("1000:1000"));
        assert_eq!(cfg.entrypoint, Some(vec!["/bin/echo".to_string()]));

        let e = apply_docker_parameters(
            &mut cfg,
            [("env", "X=1"), ("cap-add", "SYS_ADMIN")],
            "container.docker.parameters",
        )
        .expect_err("must fail")
        .to_string();
        assert!(
            e.starts_with("container.docker.parameters[1].key: docker parameter \"cap-add\""),
            "{e}"
        );
        let e = apply_docker_parameters(&mut cfg, [("env", "HOME")], "p")
            .expect_err("must fail")
            .to_string();
        assert!(e.starts_with("p[0].value:"), "{e}");
    }
}
