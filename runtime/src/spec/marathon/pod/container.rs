//! One container of a pod → the nested container that runs it (Marathon `TaskGroupBuilder.computeTaskInfo`,
//! `computeCommandInfo`, `computeContainerInfo`):
//! - id `<pod container id>/<name>`; the name follows Marathon's name rule (which the container id rules allow);
//! - in the pod's network, UTS and IPC namespaces, in a cgroup of its own under the pod's with its own
//!   `resources` and `resourceLimits` (Marathon ≥ 1.10: `share_cgroups: false`), or in the pod's cgroup when the
//!   pod is `legacySharedCgroups`; when it fails, the pod is killed (Mesos's default executor does so);
//! - `image`: DOCKER → the image (`forcePull` → not cached, `pullConfig.secret` → a docker config.json); APPC
//!   (Marathon 1.4–1.8) → `appc:<id>[:<version label>]`, as a Mesos `Image.appc`; none → the host's root;
//! - `exec.command.shell` → `/bin/sh -c`; `argv` → exec form after the image's ENTRYPOINT (Mesos, shell false
//!   and no value), or argv itself with `overrideEntrypoint` or without an image; no `exec` → the image's command;
//! - environment: the pod's, then the container's over it; `{"secret": name}` values are secrets of the pod;
//!   Marathon's task variables (`env.rs`) are the orchestrator's env, below both;
//! - `user` over the pod's `user`; `artifacts` are fetched; `lifecycle.killGracePeriodSeconds` is its kill grace;
//!   `linuxInfo.seccomp` and `ipcInfo` as for apps (ipc `PRIVATE` = not the pod's IPC namespace).

use ucr_registry::appc::AppcName;

use super::super::limits;
use super::super::types::{EnvValue, IpcMode};
use super::ctx::{check_name, Ctx};
use super::env::{task_env, ContainerContext};
use super::health::health_check;
use super::types::{ImageKind, MesosExec, PodContainer};
use super::volumes::mounts;
use crate::spec::config::{
    CommandSpec, ContainerConfig, ContainerType, ImageSpec, Nesting, NetworkSpec, Resources,
    Source, Tty, UriSpec,
};
use crate::spec::error::{Result, SpecError};
use crate::spec::ids::validate_id;
use crate::spec::mesos::convert::check_env_name;
use crate::spec::mesos::convert_container::image_name;

/// Container `i` of the pod, under the parent whose network is `net`.
pub fn child(ctx: &Ctx, c: &PodContainer, i: usize, net: &NetworkSpec) -> Result<ContainerConfig> {
    let at = format!("containers[{i}]");
    check_name(&c.name, &format!("{at}.name"))?;
    validate_id(&c.name).map_err(|e| SpecError::field(format!("{at}.name"), e.to_string()))?;
    let id = format!("{}/{}", ctx.id, c.name);
    let legacy = ctx.pod.legacy_shared_cgroups == Some(true);
    let mut cfg = ContainerConfig {
        id: id.clone(),
        source: Source::Marathon,
        container_type: ContainerType::Mesos,
        image: image(ctx, c, &at)?,
        ..ContainerConfig::default()
    };
    let (shell, value, arguments) = command(c.exec.as_ref(), cfg.image.is_some(), &at)?;
    cfg.command = CommandSpec {
        shell,
        value,
        arguments,
        env: Vec::new(),
        user: c.user.clone().or_else(|| ctx.pod.user.clone()),
        uris: c
            .artifacts
            .iter()
            .map(|a| UriSpec {
                value: a.uri.clone(),
                extract: a.extract.unwrap_or(true),
                executable: a.executable.unwrap_or(false),
                cache: a.cache.unwrap_or(false),
                output_file: a.dest_path.clone(),
            })
            .collect(),
    };
    env(ctx, c, &at, &mut cfg)?;
    let (res, gpus) = resources(c, &at)?;
    if legacy && c.resource_limits.is_some() {
        return Err(SpecError::field(
            format!("{at}.resourceLimits"),
            "not allowed when the pod is legacySharedCgroups (its containers share the pod's limits)",
        ));
    }
    cfg.limits = limits(
        c.resource_limits.as_ref(),
        &res,
        &format!("{at}.resourceLimits"),
    )?;
    let mut share_ipc = true;
    if let Some(linux) = &c.linux_info {
        if let Some(s) = &linux.seccomp {
            // Marathon: a profile with unconfined, or neither, is refused.
            cfg.linux.seccomp = match (s.unconfined.unwrap_or(false), &s.profile_name) {
                (true, None) => Some("unconfined".into()),
                (false, Some(name)) => Some(name.clone()),
                _ => {
                    return Err(SpecError::field(
                        format!("{at}.linuxInfo.seccomp"),
                        "give either profileName or unconfined: true",
                    ))
                }
            };
        }
        if let Some(ipc) = &linux.ipc_info {
            if ipc.mode == IpcMode::ShareParent && ipc.shm_size.is_some() {
                return Err(SpecError::field(
                    format!("{at}.linuxInfo.ipcInfo.shmSize"),
                    "only allowed with mode PRIVATE",
                ));
            }
            share_ipc = ipc.mode == IpcMode::ShareParent;
            if !share_ipc {
                cfg.linux.ipc_mode = Some(ipc.mode.as_str().to_string());
                cfg.linux.shm_size = ipc.shm_size.map(u64::from);
            }
        }
    }
    let m = mounts(ctx, c, i)?;
    cfg.volumes = m.volumes;
    cfg.persistent_volumes = m.persistent;
    cfg.secret_volumes = m.secrets;
    cfg.labels = c.labels.clone();
    cfg.tty = (c.tty == Some(true)).then(Tty::default);
    if let Some(hc) = &c.health_check {
        cfg.health_checks
            .push(health_check(hc, c, net, &format!("{at}.healthCheck"))?);
    }
    cfg.kill_grace_period_secs = match c
        .lifecycle
        .as_ref()
        .and_then(|l| l.kill_grace_period_seconds)
    {
        Some(s) if !(s.is_finite() && s >= 0.0) => {
            return Err(SpecError::field(
                format!("{at}.lifecycle.killGracePeriodSeconds"),
                format!("{s} is not a non-negative number"),
            ))
        }
        other => other,
    };
    cfg.framework_env = task_env(&ContainerContext {
        task_id: &id,
        executor_id: &ctx.id,
        pod_id: &ctx.pod_id,
        version: ctx.pod.version.as_deref(),
        name: &c.name,
        cpus: res.cpus.unwrap_or(DEFAULT_CPUS),
        mem: res.mem_mb.unwrap_or(DEFAULT_MEM),
        disk: res.disk_mb.unwrap_or(0.0),
        gpus,
        pod_labels: &ctx.pod.labels,
        labels: &c.labels,
    });
    cfg.resources = res;
    cfg.nesting = Some(Nesting {
        parent: ctx.id.clone(),
        share_cgroups: legacy,
        share_pid: false,
        share_ipc,
        kills_parent: true,
    });
    if c._check.is_some() {
        cfg.ignored.push(format!("{at}.check"));
    }
    Ok(cfg)
}

/// The RAML's defaults of a container's `resources`.
pub const DEFAULT_CPUS: f64 = 1.0;
pub const DEFAULT_MEM: f64 = 128.0;

/// The container's resources, and its GPUs (0: ucr has none to give).
fn resources(c: &PodContainer, at: &str) -> Result<(Resources, u32)> {
    let r = &c.resources;
    let check = |v: f64, field: &str, min: f64| -> Result<f64> {
        if v.is_finite() && v >= min {
            Ok(v)
        } else {
            Err(SpecError::field(
                format!("{at}.resources.{field}"),
                format!("{v} must be at least {min}"),
            ))
        }
    };
    let gpus = r.gpus.unwrap_or(0);
    if gpus > 0 {
        return Err(SpecError::field(
            format!("{at}.resources.gpus"),
            "GPUs are not supported",
        ));
    }
    let disk = check(r.disk.unwrap_or(0.0), "disk", 0.0)?;
    let res = Resources {
        cpus: Some(check(r.cpus.unwrap_or(DEFAULT_CPUS), "cpus", 0.001)?),
        mem_mb: Some(check(r.mem.unwrap_or(DEFAULT_MEM), "mem", 0.001)?),
        // As for apps: disk 0 is no disk resource, not a zero quota.
        disk_mb: (disk > 0.0).then_some(disk),
        ..Resources::default()
    };
    Ok((res, gpus))
}

fn image(ctx: &Ctx, c: &PodContainer, at: &str) -> Result<Option<ImageSpec>> {
    let Some(im) = &c.image else { return Ok(None) };
    let at = format!("{at}.image");
    if im.id.is_empty() {
        return Err(SpecError::field(format!("{at}.id"), "empty"));
    }
    let (written, docker_config) = match im.kind {
        ImageKind::Docker => {
            let config = match &im.pull_config {
                Some(p) => Some(ctx.docker_config(&p.secret, &format!("{at}.pullConfig.secret"))?),
                None => None,
            };
            (im.id.clone(), config)
        }
        ImageKind::Appc => {
            if im.pull_config.is_some() {
                return Err(SpecError::field(
                    format!("{at}.pullConfig"),
                    "only for DOCKER images",
                ));
            }
            // Marathon sent `Image.appc {name: id, labels: {os: linux, arch: amd64} ++ labels}`; the AppC store
            // finds the image by name and version, `os` and `arch` default to the host's.
            let written = AppcName::reference(&im.id, &im.labels, None);
            (written, None)
        }
    };
    Ok(Some(ImageSpec {
        reference: image_name(&written, &format!("{at}.id"))?,
        cached: !im.force_pull.unwrap_or(false),
        docker_config,
    }))
}

/// (shell, value, arguments) of the container's command.
fn command(
    exec: Option<&MesosExec>,
    has_image: bool,
    at: &str,
) -> Result<(bool, Option<String>, Vec<String>)> {
    let Some(exec) = exec else {
        if !has_image {
            return Err(SpecError::field(
                format!("{at}.exec"),
                "missing: a container without an image has no default command",
            ));
        }
        return Ok((false, None, Vec::new()));
    };
    let at = format!("{at}.exec.command");
    match (&exec.command.shell, &exec.command.argv) {
        (Some(s), None) if !s.is_empty() => Ok((true, Some(s.clone()), Vec::new())),
        (None, Some(argv)) => {
            let Some(first) = argv.first() else {
                return Err(SpecError::field(format!("{at}.argv"), "empty"));
            };
            // Without an image there is no ENTRYPOINT to give the argv to: run it, as for apps.
            let exec_form = exec.override_entrypoint == Some(true) || !has_image;
            Ok((false, exec_form.then(|| first.clone()), argv.clone()))
        }
        (Some(_), None) => Err(SpecError::field(format!("{at}.shell"), "empty")),
        _ => Err(SpecError::field(at, "give exactly one of shell and argv")),
    }
}

/// The pod's environment, then the container's (a name both give is the container's, secret or not).
fn env(ctx: &Ctx, c: &PodContainer, at: &str, cfg: &mut ContainerConfig) -> Result<()> {
    let pod = ctx
        .pod
        .environment
        .iter()
        .filter(|(name, _)| !c.environment.contains_key(*name))
        .map(|(n, v)| (n, v, format!("environment.{n}")));
    let own = c
        .environment
        .iter()
        .map(|(n, v)| (n, v, format!("{at}.environment.{n}")));
    for (name, value, path) in pod.chain(own) {
        check_env_name(name, &path)?;
        match value {
            EnvValue::Value(v) => cfg.command.env.push((name.clone(), v.clone())),
            EnvValue::Secret(s) => {
                let value = ctx.secret(&s.secret, &format!("{path}.secret"))?;
                cfg.secret_env.push((name.clone(), value));
            }
        }
    }
    Ok(())
}
