//! Marathon app definitions (`POST /v2/apps` bodies) → `ContainerConfig`, with Marathon's own rules
//! (Marathon `TaskBuilder`, `AppDefinition` defaults):
//! - container id: the app id's `safePath` (`/group/app` → `group_app`, see `ids::marathon_container_id`);
//! - `cmd` → shell true with that value; `args` → shell false, arguments = args, no value, so the image
//!   ENTRYPOINT applies; when there is no image Marathon sets value = `args[0]` (it does so when there is no
//!   `container`), ucr does too; both → error; neither → the image's default command;
//! - resources default to Marathon's: cpus 1, mem 128, disk 0 (no disk limit);
//! - `container.type` defaults to DOCKER as in Marathon's schema; DOCKER → Docker command rules, MESOS → Mesos;
//! - `forcePullImage` → `cached = !forcePullImage`; `pullConfig.secret` and `env` `{"secret": name}` name an
//!   entry of `secrets`, whose `source` is read through a [`SecretSource`] (files by default, see
//!   `spec::secrets`); the deprecated `docker.credential {principal, secret}` is the registry's username and
//!   password (`spec::credential`);
//! - `privileged` and the honoured docker `parameters` apply to both container types;
//! - networks and ports: see `ports.rs`; task env (`MARATHON_APP_*`): see `task_env.rs`;
//! - the document is read as Marathon's reader reads it (`lenient.rs`): unknown fields are skipped and reported,
//!   `null` is absent, enum values are in any case.

mod health;
mod lenient;
pub mod pod;
pub mod ports;
pub mod task_env;
#[cfg(test)]
mod tolerance_tests;
pub mod types;
mod volumes;

use ucr_registry::appc::name::check_id;
use ucr_registry::appc::AppcName;
use ucr_registry::secret::Secret;

use self::task_env::{task_env, TaskContext};
use self::types::{
    App, AppcContainer, EngineType, EnvValue, IpcMode, ResourceLimit, ResourceLimits,
};
use super::config::{
    CommandSpec, ContainerConfig, ContainerType, ImageSpec, Limits, Resources, Source, Tty, UriSpec,
};
use super::credential::docker_config_for;
use super::docker_params::apply_docker_parameters;
use super::error::{Result, SpecError};
use super::ids::marathon_container_id;
use super::json::from_value_skipping_unknown;
use super::mesos::convert::check_env_name;
use super::mesos::convert_container::image_name;
use super::secrets::{check_docker_config, SecretSource};

/// Fields that steer Marathon's scheduling and deployments, not a container: accepted, ignored, and listed
/// in the config (`ignored`) so `inspect` and `launch --dry-run` show what had no effect. Fields Marathon does
/// not know are listed there too, by JSON path.
const SCHEDULER_FIELDS: [&str; 16] = [
    "instances",
    "acceptedResourceRoles",
    "backoffFactor",
    "backoffSeconds",
    "constraints",
    "dependencies",
    "executorResources",
    "check",
    "maxLaunchDelaySeconds",
    "readinessChecks",
    "residency",
    "upgradeStrategy",
    "versionInfo",
    "killSelection",
    "unreachableStrategy",
    "role",
];

/// Marathon's defaults (app.raml).
const DEFAULT_CPUS: f64 = 1.0;
const DEFAULT_MEM: f64 = 128.0;

/// Parses an app definition; the fields Marathon does not know are skipped (see `lenient.rs`).
pub fn parse_marathon_app(text: &str, secrets: &dyn SecretSource) -> Result<ContainerConfig> {
    parse_marathon_app_with(text, secrets).map(|(cfg, _)| cfg)
}

/// [`parse_marathon_app`], with the JSON paths of the unknown fields it skipped (also at the end of the config's
/// `ignored`), for the caller to warn about.
pub fn parse_marathon_app_with(
    text: &str,
    secrets: &dyn SecretSource,
) -> Result<(ContainerConfig, Vec<String>)> {
    let mut raw: serde_json::Value =
        serde_json::from_str(text).map_err(|e| SpecError::NotJson(e.to_string()))?;
    lenient::normalize(&mut raw);
    let (app, unknown): (App, _) = from_value_skipping_unknown(raw.clone())?;
    let (id, app_id) = marathon_container_id(&app.id)?;
    refuse_unsupported(&app)?;
    let mut cfg = ContainerConfig {
        id: id.clone(),
        source: Source::Marathon,
        ..ContainerConfig::default()
    };
    let secret = |name: &str, path: &str| -> Result<Secret> {
        let def = app.secrets.get(name).ok_or_else(|| {
            SpecError::field(
                path,
                format!("names secret {name:?}, which secrets does not declare"),
            )
        })?;
        secrets
            .read(name, &def.source)
            .map_err(|why| SpecError::Secret {
                name: name.to_string(),
                why,
            })
    };

    // Container: image, type, privileged, Linux settings, volumes.
    let mut docker_image_env = None;
    if let Some(c) = &app.container {
        let kind = c.kind.unwrap_or(EngineType::Docker);
        cfg.container_type = match kind {
            EngineType::Docker => ContainerType::Docker,
            EngineType::Mesos => ContainerType::Mesos,
        };
        if let Some(a) = &c.appc {
            cfg.image = Some(appc_image(a, c.docker.is_some(), kind)?);
        }
        match (&c.docker, kind) {
            (Some(d), _) => {
                if d.image.is_empty() {
                    return Err(SpecError::field("container.docker.image", "empty"));
                }
                let reference = image_name(&d.image, "container.docker.image")?;
                let docker_config = match (&d.pull_config, &d.credential) {
                    (Some(_), Some(_)) => {
                        return Err(SpecError::field(
                            "container.docker.credential",
                            "given with pullConfig; give only one",
                        ))
                    }
                    (Some(p), None) => {
                        let value = secret(&p.secret, "container.docker.pullConfig.secret")?;
                        check_docker_config(value.expose()).map_err(|why| SpecError::Secret {
                            name: p.secret.clone(),
                            why,
                        })?;
                        Some(value.expose().to_string())
                    }
                    (None, Some(c)) => Some(docker_config_for(
                        &reference,
                        c,
                        "container.docker.credential",
                    )?),
                    (None, None) => None,
                };
                cfg.image = Some(ImageSpec {
                    reference,
                    cached: !d.force_pull_image.unwrap_or(false),
                    docker_config,
                });
                if kind == EngineType::Docker {
                    docker_image_env = Some(d.image.as_str());
                }
                cfg.linux.privileged = d.privileged.unwrap_or(false);
            }
            (None, EngineType::Docker) => {
                return Err(SpecError::field(
                    "container.docker",
                    "missing: a DOCKER container needs docker.image (type defaults to DOCKER)",
                ))
            }
            (None, EngineType::Mesos) => {}
        }
        if let Some(linux) = &c.linux_info {
            if let Some(s) = &linux.seccomp {
                cfg.linux.seccomp = match (s.unconfined.unwrap_or(false), &s.profile_name) {
                    (true, Some(_)) => {
                        return Err(SpecError::field(
                            "container.linuxInfo.seccomp",
                            "unconfined and profileName both set; give one",
                        ))
                    }
                    (true, None) => Some("unconfined".into()),
                    (false, name) => name.clone(),
                };
            }
            if let Some(ipc) = &linux.ipc_info {
                if ipc.shm_size.is_some() && ipc.mode != IpcMode::Private {
                    return Err(SpecError::field(
                        "container.linuxInfo.ipcInfo.shmSize",
                        "only allowed with mode PRIVATE",
                    ));
                }
                cfg.linux.ipc_mode = Some(ipc.mode.as_str().to_string());
                cfg.linux.shm_size = ipc.shm_size.map(u64::from);
            }
        }
        for (i, v) in c.volumes.iter().enumerate() {
            let at = format!("container.volumes[{i}]");
            match (&v.persistent, &v.secret) {
                (Some(p), _) => cfg
                    .persistent_volumes
                    .push(volumes::persistent(v, p, &id, &at)?),
                (None, Some(name)) => {
                    let value = secret(name, &format!("{at}.secret"))?;
                    cfg.secret_volumes
                        .push((volumes::secret_path(v, &at)?, value));
                }
                (None, None) => cfg.volumes.push(volumes::volume(v, &at)?),
            }
        }
    }

    cfg.command = command(&app, cfg.image.is_some())?;
    cfg.tty = (app.tty == Some(true)).then(Tty::default);
    for (name, value) in &app.env {
        let path = format!("env.{name}");
        check_env_name(name, &path)?;
        match value {
            EnvValue::Value(v) => cfg.command.env.push((name.clone(), v.clone())),
            EnvValue::Secret(s) => {
                let value = secret(&s.secret, &format!("{path}.secret"))?;
                cfg.secret_env.push((name.clone(), value));
            }
        }
    }
    cfg.resources = resources(&app)?;
    cfg.limits = limits(
        app.resource_limits.as_ref(),
        &cfg.resources,
        "resourceLimits",
    )?;
    cfg.network = ports::network(&app)?;
    // After the app's env (a docker `env` parameter is a later `-e` and wins, as with the Docker containerizer)
    // and its resources and network (`memory`, `cpus`, `add-host`, `dns` change them).
    if let Some(d) = app.container.as_ref().and_then(|c| c.docker.as_ref()) {
        apply_docker_parameters(
            &mut cfg,
            d.parameters
                .iter()
                .map(|p| (p.key.as_str(), p.value.as_str())),
            "container.docker.parameters",
        )?;
    }
    cfg.labels.extend(app.labels.clone());
    cfg.kill_grace_period_secs = app.task_kill_grace_period_seconds.map(f64::from);
    cfg.ignored = SCHEDULER_FIELDS
        .iter()
        .filter(|f| raw.get(**f).is_some())
        .map(|f| f.to_string())
        .chain(unknown.iter().cloned())
        .collect();
    cfg.health_checks = health::health_checks(&app.health_checks, &cfg.network.port_mappings)?;
    cfg.framework_env = task_env(&TaskContext {
        container_id: &id,
        app_id: &app_id,
        version: app.version.as_deref(),
        docker_image: docker_image_env,
        cpus: app.cpus.unwrap_or(DEFAULT_CPUS),
        mem: app.mem.unwrap_or(DEFAULT_MEM),
        disk: app.disk.unwrap_or(0.0),
        gpus: app.gpus.unwrap_or(0),
        labels: &app.labels,
    });
    Ok((cfg, unknown))
}

/// Marathon 1.4–1.8's `container.appc` → the AppC image `appc:NAME[:VERSION][,LABEL=VALUE...][@ID]`, as a
/// Mesos `Image.appc` is read (`mesos::convert_container::image_spec`).
fn appc_image(a: &AppcContainer, with_docker: bool, kind: EngineType) -> Result<ImageSpec> {
    if with_docker {
        return Err(SpecError::field(
            "container.appc",
            "given with container.docker; give one image",
        ));
    }
    if kind != EngineType::Mesos {
        return Err(SpecError::field(
            "container.appc",
            "only for type MESOS (Marathon ran AppC images with the Mesos containerizer)",
        ));
    }
    if a.image.is_empty() {
        return Err(SpecError::field("container.appc.image", "empty"));
    }
    if let Some(id) = a.id.as_deref().filter(|i| !i.is_empty()) {
        check_id(id).map_err(|why| SpecError::field("container.appc.id", why))?;
    }
    let written = AppcName::reference(&a.image, &a.labels, a.id.as_deref());
    Ok(ImageSpec {
        reference: image_name(&written, "container.appc.image")?,
        cached: !a.force_pull_image.unwrap_or(false),
        docker_config: None,
    })
}

/// Fields of the schema that ask for something ucr cannot do: refused by name rather than ignored.
fn refuse_unsupported(app: &App) -> Result<()> {
    if let Some(e) = app
        .executor
        .as_deref()
        .filter(|e| !e.is_empty() && *e != "//cmd")
    {
        return Err(SpecError::field(
            "executor",
            format!("{e:?}: custom executors are not supported (only \"//cmd\")"),
        ));
    }
    if app.gpus.is_some_and(|g| g > 0) {
        return Err(SpecError::field("gpus", "GPUs are not supported"));
    }
    Ok(())
}

fn command(app: &App, has_image: bool) -> Result<CommandSpec> {
    let args = app.args.as_ref().filter(|a| !a.is_empty());
    let (shell, value, arguments) =
        match (&app.cmd, args) {
            (Some(_), Some(_)) => {
                return Err(SpecError::field(
                    "args",
                    "cmd and args are both set; give one",
                ));
            }
            (Some(cmd), None) if cmd.is_empty() => return Err(SpecError::field("cmd", "empty")),
            (Some(cmd), None) => (true, Some(cmd.clone()), Vec::new()),
            // Without an image there is no ENTRYPOINT to run the args with: run args[0] with them.
            (None, Some(args)) if !has_image => (false, args.first().cloned(), args.clone()),
            (None, Some(args)) => (false, None, args.clone()),
            (None, None) if !has_image => return Err(SpecError::field(
                "cmd",
                "missing: give cmd or args (an app without a docker image has no default command)",
            )),
            (None, None) => (false, None, Vec::new()),
        };
    let fetch = app.fetch.iter().map(|a| UriSpec {
        value: a.uri.clone(),
        extract: a.extract.unwrap_or(true),
        executable: a.executable.unwrap_or(false),
        cache: a.cache.unwrap_or(false),
        output_file: a.dest_path.clone(),
    });
    let legacy = app.uris.iter().flatten().map(|u| UriSpec {
        value: u.clone(),
        extract: true,
        executable: false,
        cache: false,
        output_file: None,
    });
    Ok(CommandSpec {
        shell,
        value,
        arguments,
        env: Vec::new(),
        user: app.user.clone(),
        uris: fetch.chain(legacy).collect(),
    })
}

fn resources(app: &App) -> Result<Resources> {
    let check = |v: f64, field: &str, min: f64| -> Result<f64> {
        if v.is_finite() && v >= min {
            Ok(v)
        } else {
            Err(SpecError::field(
                field,
                format!("{v} must be at least {min}"),
            ))
        }
    };
    let cpus = check(app.cpus.unwrap_or(DEFAULT_CPUS), "cpus", 0.001)?;
    let mem = check(app.mem.unwrap_or(DEFAULT_MEM), "mem", 0.0)?;
    let disk = check(app.disk.unwrap_or(0.0), "disk", 0.0)?;
    Ok(Resources {
        cpus: Some(cpus),
        mem_mb: Some(mem),
        // Marathon's disk 0 means "no disk resource", not a zero quota.
        disk_mb: (disk > 0.0).then_some(disk),
        pids: None,
        ports: Vec::new(),
    })
}

/// `resourceLimits` at JSON path `at` (an app's, or a pod container's) over the `request`ed resources.
pub(super) fn limits(l: Option<&ResourceLimits>, request: &Resources, at: &str) -> Result<Limits> {
    let Some(l) = l else {
        return Ok(Limits::default());
    };
    let one = |l: &Option<ResourceLimit>, req: Option<f64>, field: &str| -> Result<Option<f64>> {
        let v = match l {
            None => return Ok(None),
            Some(ResourceLimit::Unlimited(_)) => f64::INFINITY,
            Some(ResourceLimit::Number(n)) if n.is_finite() && *n >= 0.0 => *n,
            Some(ResourceLimit::Number(n)) => {
                return Err(SpecError::field(
                    field,
                    format!("{n} is not a non-negative number"),
                ))
            }
        };
        match req {
            Some(r) if v < r => Err(SpecError::field(
                field,
                format!("limit {v} is below the requested {r}"),
            )),
            _ => Ok(Some(v)),
        }
    };
    Ok(Limits {
        cpus: one(&l.cpus, request.cpus, &format!("{at}.cpus"))?,
        mem_mb: one(&l.mem, request.mem_mb, &format!("{at}.mem"))?,
    })
}
