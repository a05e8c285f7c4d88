//! Docker `parameters` (`[{key, value}]`, passed by the Docker containerizer to `docker run` as `--key=value`)
//! from Mesos `DockerInfo` and Marathon `container.docker`. ucr runs no docker CLI, so it honours the keys it can
//! express in a `ContainerConfig` — what a `docker run` flag means on one node — and refuses every other one by
//! name rather than silently dropping it. Values are parsed as the docker CLI parses them (`docker_values.rs`).

use super::config::{ContainerConfig, Rlimit};
use super::docker_values::{capability_set, device, size_mb, tmpfs, ulimit};
use super::error::{Result, SpecError};

/// The keys honoured, long and short docker flag names.
const HONOURED: &str = "hostname, env, label, workdir, user, entrypoint, cap-add, cap-drop, privileged, \
                        memory, memory-reservation, cpu-shares, cpus, pids-limit, ulimit, shm-size, read-only, \
                        tmpfs, device, add-host, dns, dns-search, dns-option, security-opt seccomp=unconfined|NAME and no-new-privileges (or h, e, l, w, u, m)";

/// Applies `params` in order (a later `hostname` wins, `env` entries append after the request's env so they win
/// over it as `docker run -e` flags given after Mesos' own do). `path` is the JSON path of the list. Call after
/// the request's resources and limits are set: `memory`, `cpus` and `cpu-shares` change them.
pub fn apply_docker_parameters<'a>(
    cfg: &mut ContainerConfig,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
    path: &str,
) -> Result<()> {
    for (i, (key, value)) in params.into_iter().enumerate() {
        let at = |what: &str| format!("{path}[{i}].{what}");
        let bad = |why: String| SpecError::field(at("value"), format!("{key} {value:?}: {why}"));
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
            // The bounding set: a root task runs with it, a non-root one holds none of it (as Docker).
            "cap-add" | "cap-drop" => {
                let set = cfg.linux.bounding_capabilities.take();
                cfg.linux.bounding_capabilities =
                    Some(capability_set(set, value, key == "cap-add").map_err(bad)?);
            }
            "privileged" => cfg.linux.privileged = flag(value).map_err(bad)?,
            // A hard limit; the request is lowered to it if it was above.
            "memory" | "m" => {
                let mb = size_mb(value).map_err(bad)?;
                cfg.limits.mem_mb = Some(mb);
                if cfg.resources.mem_mb.is_none_or(|r| r > mb) {
                    cfg.resources.mem_mb = Some(mb);
                }
            }
            "memory-reservation" => {
                let mb = size_mb(value).map_err(bad)?;
                if cfg.limits.mem_mb.is_some_and(|l| l < mb) {
                    return Err(bad("above the memory limit".into()));
                }
                cfg.resources.mem_mb = Some(mb);
            }
            "cpu-shares" | "c" => {
                let shares: u64 = value
                    .parse()
                    .map_err(|_| bad("not a whole number".into()))?;
                if shares < 2 {
                    return Err(bad("at least 2".into()));
                }
                cfg.resources.cpus = Some(shares as f64 / 1024.0);
            }
            "cpus" => {
                let cpus: f64 = value.parse().map_err(|_| bad("not a number".into()))?;
                if !(cpus > 0.0 && cpus.is_finite()) {
                    return Err(bad("must be above 0".into()));
                }
                cfg.limits.cpus = Some(cpus);
            }
            "pids-limit" => {
                let n: i64 = value.parse().map_err(|_| bad("not a number".into()))?;
                cfg.resources.pids = (n > 0).then_some(n as u64);
            }
            "ulimit" => {
                let r: Rlimit = ulimit(value).map_err(bad)?;
                cfg.rlimits.retain(|o| o.kind != r.kind);
                cfg.rlimits.push(r);
            }
            "shm-size" => cfg.linux.shm_size = Some(size_mb(value).map_err(bad)?.ceil() as u64),
            "security-opt" => security_opt(cfg, value).map_err(bad)?,
            "read-only" => cfg.linux.readonly_rootfs = flag(value).map_err(bad)?,
            "add-host" => {
                // docker: NAME:IP (an IPv6 address has colons of its own: split at the first) or NAME=IP.
                let (name, ip) = value
                    .split_once(['=', ':'])
                    .ok_or_else(|| bad("expected NAME:IP".into()))?;
                ip.parse::<std::net::IpAddr>()
                    .map_err(|_| bad(format!("{ip:?} is not an IP address")))?;
                if name.is_empty() || name.contains(char::is_whitespace) {
                    return Err(bad("expected a host name".into()));
                }
                cfg.network
                    .extra_hosts
                    .push((name.to_string(), ip.to_string()));
            }
            "dns" => {
                value
                    .parse::<std::net::IpAddr>()
                    .map_err(|_| bad("not an IP address".into()))?;
                cfg.network.resolver.nameservers.push(value.to_string());
            }
            "dns-search" => cfg.network.resolver.search.push(word(value).map_err(bad)?),
            "dns-option" | "dns-opt" => {
                cfg.network.resolver.options.push(word(value).map_err(bad)?)
            }
            "tmpfs" => cfg.linux.tmpfs.push(tmpfs(value).map_err(bad)?),
            "device" => cfg.linux.devices.push(device(value).map_err(bad)?),
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

/// One word of a resolv.conf line.
fn word(value: &str) -> std::result::Result<String, String> {
    if value.is_empty() || value.contains(char::is_whitespace) {
        return Err("expected one word".into());
    }
    Ok(value.to_string())
}

fn flag(value: &str) -> std::result::Result<bool, String> {
    match value {
        "" | "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// `seccomp=unconfined`, `seccomp=NAME` (a profile in `--seccomp_config_dir`), `no-new-privileges[=true]` (what
/// every unprivileged ucr task has); docker also takes `:` for `=`.
fn security_opt(cfg: &mut ContainerConfig, value: &str) -> std::result::Result<(), String> {
    let (k, v) = value.split_once(['=', ':']).unwrap_or((value, ""));
    match (k, v) {
        ("seccomp", "") => Err("seccomp needs a value: unconfined or a profile name".into()),
        ("seccomp", p) if p.contains('/') => {
            Err("a profile file path: put it in --seccomp_config_dir and give its name".into())
        }
        ("seccomp", p) => {
            cfg.linux.seccomp = Some(p.trim_end_matches(".json").to_string());
            Ok(())
        }
        ("no-new-privileges", "" | "true") if !cfg.linux.privileged => Ok(()),
        ("no-new-privileges", _) => {
            Err("unprivileged ucr tasks always run with no_new_privs".into())
        }
        _ => Err("only seccomp and no-new-privileges apply (no AppArmor or SELinux labels)".into()),
    }
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
            [("env", "X=1"), ("volumes-from", "other")],
            "container.docker.parameters",
        )
        .expect_err("must fail")
        .to_string();
        assert!(
            e.starts_with("container.docker.parameters[1].key: docker parameter \"volumes-from\""),
            "{e}"
        );
        let e = apply_docker_parameters(&mut cfg, [("env", "HOME")], "p")
            .expect_err("must fail")
            .to_string();
        assert!(e.starts_with("p[0].value:"), "{e}");
    }

    #[test]
    fn resources_capabilities_and_limits() {
        let mut cfg = ContainerConfig::default();
        cfg.resources.mem_mb = Some(512.0);
        let params = [
            ("memory", "256m"),
            ("cpu-shares", "512"),
            ("cpus", "1.5"),
            ("pids-limit", "100"),
            ("ulimit", "nofile=1024:2048"),
            ("shm-size", "64m"),
            ("cap-add", "NET_ADMIN"),
            ("cap-drop", "CAP_NET_RAW"),
            ("security-opt", "seccomp=unconfined"),
            ("security-opt", "no-new-privileges"),
            ("read-only", "true"),
            ("tmpfs", "/run:rw,size=64m,exec"),
        ];
        apply_docker_parameters(&mut cfg, params, "p").expect("apply");
        assert_eq!(
            (cfg.limits.mem_mb, cfg.resources.mem_mb),
            (Some(256.0), Some(256.0))
        );
        assert_eq!(
            (cfg.resources.cpus, cfg.limits.cpus),
            (Some(0.5), Some(1.5))
        );
        assert_eq!(cfg.resources.pids, Some(100));
        assert_eq!(
            cfg.rlimits,
            vec![Rlimit {
                kind: "RLMT_NOFILE".into(),
                soft: Some(1024),
                hard: Some(2048)
            }]
        );
        assert_eq!(cfg.linux.shm_size, Some(64));
        let caps = cfg.linux.bounding_capabilities.clone().unwrap_or_default();
        assert!(caps.contains(&"NET_ADMIN".to_string()) && !caps.contains(&"NET_RAW".to_string()));
        assert!(
            caps.contains(&"CHOWN".to_string()),
            "from Docker's default set: {caps:?}"
        );
        assert_eq!(cfg.linux.seccomp.as_deref(), Some("unconfined"));
        assert!(cfg.linux.readonly_rootfs);
        assert_eq!(cfg.linux.tmpfs[0].path, "/run");
        assert_eq!(cfg.linux.tmpfs[0].options, ["rw", "size=64m", "exec"]);
        for (k, v) in [
            ("memory", "lots"),
            ("ulimit", "nofiles=1"),
            ("ulimit", "nofile=10:5"),
            ("cap-add", "WIZARDRY"),
            ("security-opt", "apparmor=x"),
            ("security-opt", "seccomp=/etc/p.json"),
            ("tmpfs", "run"),
            ("tmpfs", "/run:bind"),
        ] {
            let e = apply_docker_parameters(&mut cfg, [(k, v)], "p")
                .expect_err(v)
                .to_string();
            assert!(e.starts_with("p[0].value: ") && e.contains(v), "{e}");
        }
    }
}
