//! What process a container runs: the request's command combined with the image's ENTRYPOINT and CMD.
//!
//! Mesos rules (container type MESOS; Mesos `docker/runtime` isolator, MESOS-SEMANTICS.md "Command"):
//! | command | runs |
//! |---|---|
//! | shell (default) + value | `/bin/sh -c value`; ENTRYPOINT and CMD ignored |
//! | shell, no value | error: shell specified but no command value |
//! | no shell + value | exec `value` with argv = `arguments` (`argv[0]` included; `[value]` when empty) |
//! | no shell, no value, ENTRYPOINT | ENTRYPOINT + (`arguments`, or else CMD) |
//! | no shell, no value, only CMD | `CMD[0]` + (`arguments`, or else CMD[1..]) |
//! | no shell, no value, neither | error: no executable found |
//!
//! Docker rules (container type DOCKER; Mesos Docker containerizer, `Docker::run`): shell + value →
//! `/bin/sh -c value`, the image ENTRYPOINT overridden by `/bin/sh` (MESOS-1770); no shell → like
//! `docker run IMAGE [value] [arguments...]`: ENTRYPOINT + (value and arguments, or else CMD), and without an
//! ENTRYPOINT the value and arguments themselves, or else CMD.
//!
//! An entrypoint override (`cfg.entrypoint`: `--entrypoint`, docker parameter `entrypoint`) replaces the image
//! ENTRYPOINT wherever it applies, and — as `docker run --entrypoint` does — drops the image CMD, which was
//! written for the image's ENTRYPOINT. An empty override clears the ENTRYPOINT.

use ucr_registry::manifest::RunConfig;

use super::error::{ProcessError, Result};
use crate::spec::{ContainerConfig, ContainerType};

/// The program to exec and its argv. They differ only for a Mesos `shell: false` command whose `value` is not
/// `arguments[0]` (Mesos execs `value` with argv = `arguments`, e.g. busybox applets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedCommand {
    pub executable: String,
    pub argv: Vec<String>,
}

/// The command of `cfg` against the image config (`None`: no image, the host filesystem).
pub fn resolve_command(
    cfg: &ContainerConfig,
    image: Option<&RunConfig>,
) -> Result<ResolvedCommand> {
    let cmd = &cfg.command;
    if cmd.shell {
        let value = cmd.value.as_ref().ok_or(ProcessError::ShellWithoutValue)?;
        return Ok(plain(vec!["/bin/sh".into(), "-c".into(), value.clone()]));
    }
    let non_empty = |v: Option<&Vec<String>>| v.filter(|v| !v.is_empty()).cloned();
    let (entrypoint, image_cmd) = match &cfg.entrypoint {
        Some(e) => (non_empty(Some(e)), None),
        None => (
            non_empty(image.and_then(|i| i.entrypoint.as_ref())),
            non_empty(image.and_then(|i| i.cmd.as_ref())),
        ),
    };
    match cfg.container_type {
        ContainerType::Mesos => {
            if let Some(value) = &cmd.value {
                let argv = if cmd.arguments.is_empty() {
                    vec![value.clone()]
                } else {
                    cmd.arguments.clone()
                };
                return Ok(ResolvedCommand {
                    executable: value.clone(),
                    argv,
                });
            }
            let args = (!cmd.arguments.is_empty()).then(|| cmd.arguments.clone());
            match (entrypoint, image_cmd) {
                (Some(mut e), c) => {
                    e.extend(args.or(c).unwrap_or_default());
                    Ok(plain(e))
                }
                (None, Some(c)) => {
                    // Differs from Docker on purpose (Mesos): arguments replace CMD[1..], not CMD.
                    let mut argv = vec![c[0].clone()];
                    argv.extend(args.unwrap_or_else(|| c[1..].to_vec()));
                    Ok(plain(argv))
                }
                (None, None) => Err(ProcessError::NoExecutable),
            }
        }
        ContainerType::Docker => {
            let mut args: Vec<String> = cmd.value.iter().cloned().collect();
            args.extend(cmd.arguments.iter().cloned());
            let args = (!args.is_empty()).then_some(args);
            match (entrypoint, args, image_cmd) {
                (Some(mut e), a, c) => {
                    e.extend(a.or(c).unwrap_or_default());
                    Ok(plain(e))
                }
                (None, Some(a), _) | (None, None, Some(a)) => Ok(plain(a)),
                (None, None, None) => Err(ProcessError::NoExecutable),
            }
        }
    }
}

/// The argv to exec, `argv[0]` being the program. When `resolve_command` gives an executable other than `argv[0]`
/// (see [`ResolvedCommand`]), `argv[0]` is replaced by it: the requested program runs, under its own name. Use
/// `resolve_command` to keep Mesos' distinct `argv[0]`.
pub fn resolve_argv(cfg: &ContainerConfig, image: Option<&RunConfig>) -> Result<Vec<String>> {
    let ResolvedCommand {
        executable,
        mut argv,
    } = resolve_command(cfg, image)?;
    if let Some(a0) = argv.first_mut() {
        *a0 = executable;
    }
    Ok(argv)
}

fn plain(argv: Vec<String>) -> ResolvedCommand {
    ResolvedCommand {
        executable: argv.first().cloned().unwrap_or_default(),
        argv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::CommandSpec;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    fn image(ep: Option<&[&str]>, cmd: Option<&[&str]>) -> RunConfig {
        RunConfig {
            entrypoint: ep.map(v),
            cmd: cmd.map(v),
            ..RunConfig::default()
        }
    }

    fn cfg(
        kind: ContainerType,
        shell: bool,
        value: Option<&str>,
        args: &[&str],
    ) -> ContainerConfig {
        ContainerConfig {
            container_type: kind,
            command: CommandSpec {
                shell,
                value: value.map(String::from),
                arguments: v(args),
                ..CommandSpec::default()
            },
            ..ContainerConfig::default()
        }
    }

    fn run(c: &ContainerConfig, i: &RunConfig) -> std::result::Result<Vec<String>, String> {
        resolve_command(c, Some(i))
            .map(|r| r.argv)
            .map_err(|e| e.to_string())
    }

    const EP: Option<&[&str]> = Some(&["/ep", "-x"]);
    const CMD: Option<&[&str]> = Some(&["/cmd", "c1"]);
    const M: ContainerType = ContainerType::Mesos;
    const D: ContainerType = ContainerType::Docker;

    #[test]
    fn mesos_shell_with_value_ignores_image() {
        for (ep, cmd) in [(None, None), (EP, None), (None, CMD), (EP, CMD)] {
            let c = cfg(M, true, Some("echo $HOME"), &["ignored"]);
            assert_eq!(
                run(&c, &image(ep, cmd)),
                Ok(v(&["/bin/sh", "-c", "echo $HOME"]))
            );
        }
        // No image at all.
        let c = cfg(M, true, Some("true"), &[]);
        assert_eq!(
            resolve_argv(&c, None).ok(),
            Some(v(&["/bin/sh", "-c", "true"]))
        );
    }

    #[test]
    fn mesos_shell_without_value() {
        for (ep, cmd) in [(None, None), (EP, CMD)] {
            let c = cfg(M, true, None, &["a"]);
            assert_eq!(
                run(&c, &image(ep, cmd)),
                Err("shell specified but no command value".into())
            );
        }
    }

    #[test]
    fn mesos_value_without_shell() {
        let c = cfg(M, false, Some("/bin/server"), &["server", "--port", "8080"]);
        let r = resolve_command(&c, Some(&image(EP, CMD))).expect("resolve");
        assert_eq!(r.executable, "/bin/server");
        assert_eq!(r.argv, v(&["server", "--port", "8080"]));
        assert_eq!(
            resolve_argv(&c, Some(&image(EP, CMD))).ok(),
            Some(v(&["/bin/server", "--port", "8080"]))
        );
        // Empty arguments: argv = [value].
        let c = cfg(M, false, Some("/bin/true"), &[]);
        assert_eq!(run(&c, &image(EP, CMD)), Ok(v(&["/bin/true"])));
    }

    #[test]
    fn mesos_entrypoint() {
        let c = cfg(M, false, None, &[]);
        assert_eq!(
            run(&c, &image(EP, CMD)),
            Ok(v(&["/ep", "-x", "/cmd", "c1"]))
        );
        assert_eq!(run(&c, &image(EP, None)), Ok(v(&["/ep", "-x"])));
        let c = cfg(M, false, None, &["a", "b"]);
        assert_eq!(run(&c, &image(EP, CMD)), Ok(v(&["/ep", "-x", "a", "b"])));
    }

    #[test]
    fn mesos_only_cmd() {
        let c = cfg(M, false, None, &[]);
        assert_eq!(run(&c, &image(None, CMD)), Ok(v(&["/cmd", "c1"])));
        // Arguments replace CMD[1..] (Docker would replace all of CMD).
        let c = cfg(M, false, None, &["a"]);
        assert_eq!(run(&c, &image(None, CMD)), Ok(v(&["/cmd", "a"])));
    }

    #[test]
    fn mesos_neither() {
        let c = cfg(M, false, None, &["a"]);
        let e = run(&c, &image(None, None)).expect_err("must fail");
        assert!(e.starts_with("no executable found"), "{e}");
        // Empty lists count as absent.
        assert!(run(&c, &image(Some(&[]), Some(&[]))).is_err());
        assert!(resolve_argv(&c, None).is_err());
    }

    #[test]
    fn mesos_entrypoint_override() {
        let mut c = cfg(M, false, None, &[]);
        c.entrypoint = Some(v(&["/bin/ls"]));
        // Replaces ENTRYPOINT and drops the image CMD.
        assert_eq!(run(&c, &image(EP, CMD)), Ok(v(&["/bin/ls"])));
        c.command.arguments = v(&["-l"]);
        assert_eq!(run(&c, &image(None, CMD)), Ok(v(&["/bin/ls", "-l"])));
        // Not where ENTRYPOINT does not apply.
        let mut c = cfg(M, true, Some("x"), &[]);
        c.entrypoint = Some(v(&["/bin/ls"]));
        assert_eq!(run(&c, &image(EP, CMD)), Ok(v(&["/bin/sh", "-c", "x"])));
        // Empty override: no ENTRYPOINT, no CMD.
        let mut c = cfg(M, false, None, &[]);
        c.entrypoint = Some(Vec::new());
        assert!(run(&c, &image(EP, CMD)).is_err());
    }

    #[test]
    fn docker_rules() {
        let c = cfg(D, true, Some("echo hi"), &[]);
        assert_eq!(
            run(&c, &image(EP, CMD)),
            Ok(v(&["/bin/sh", "-c", "echo hi"]))
        );
        assert!(run(&cfg(D, true, None, &[]), &image(EP, CMD)).is_err());
        let c = cfg(D, false, None, &[]);
        assert_eq!(
            run(&c, &image(EP, CMD)),
            Ok(v(&["/ep", "-x", "/cmd", "c1"]))
        );
        assert_eq!(run(&c, &image(None, CMD)), Ok(v(&["/cmd", "c1"])));
        let c = cfg(D, false, None, &["a"]);
        assert_eq!(run(&c, &image(EP, CMD)), Ok(v(&["/ep", "-x", "a"])));
        // Arguments replace all of CMD.
        assert_eq!(run(&c, &image(None, CMD)), Ok(v(&["a"])));
        let c = cfg(D, false, Some("run"), &["a"]);
        assert_eq!(run(&c, &image(EP, CMD)), Ok(v(&["/ep", "-x", "run", "a"])));
        assert_eq!(run(&c, &image(None, None)), Ok(v(&["run", "a"])));
        let e = run(&cfg(D, false, None, &[]), &image(None, None)).expect_err("must fail");
        assert!(e.starts_with("no executable found"), "{e}");
        let mut c = cfg(D, false, None, &[]);
        c.entrypoint = Some(v(&["/bin/ls"]));
        assert_eq!(run(&c, &image(EP, CMD)), Ok(v(&["/bin/ls"])));
        c.entrypoint = Some(Vec::new());
        c.command.arguments = v(&["/bin/true"]);
        assert_eq!(run(&c, &image(EP, CMD)), Ok(v(&["/bin/true"])));
    }
}
