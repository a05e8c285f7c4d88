//! `ucr launch --dry-run`: what a request would run, without running or pulling anything (at most the empty
//! store is made). The request is parsed as a launch parses it; the image is looked up in the local store
//! only. When it is there, the argv, environment, working directory and user come from the same functions the
//! launch uses with the image's config; when it is not, they are left out (the image's entrypoint and env
//! decide them) and the answer says so. A task without an image shows the process it would run on the host. Secret env values are shown as `<secret>`; request credentials only
//! as present.

use serde_json::{json, Value};
use ucr_registry::manifest::RunConfig;

use super::Containerizer;
use crate::container::error::Result;
use crate::container::ports::marathon_env;
use crate::process::{build_env, resolve_argv, working_dir};
use crate::spec::ContainerConfig;

/// The value shown for a host port the launch allocates.
const ALLOCATED: &str = "<allocated at launch>";

pub fn dry_run(c: &Containerizer, cfg: &ContainerConfig) -> Result<Value> {
    let (image, process) = match &cfg.image {
        Some(i) => {
            let local = c.images().local(&i.reference)?;
            let image = json!({
                "reference": i.reference.as_str(),
                "cached": i.cached,
                "credentials": i.docker_config.is_some(),
                "in_store": local.is_some(),
                "digest": local.as_ref().map(|l| l.digest.as_str()),
            });
            let process = match local.as_ref().map(|l| &l.config) {
                Some(run) => process(cfg, Some(run), &c.config().sandbox_directory)?,
                None => json!({
                    "note": "the image is not in the store: its entrypoint, command, env, working directory \
                             and user complete these at launch (ucr pull it to see them here)",
                }),
            };
            (image, process)
        }
        // On the host's root, in the sandbox where it is on the host.
        None => {
            let sandbox = c.config().paths.sandbox(&cfg.id);
            (Value::Null, process(cfg, None, &sandbox.to_string_lossy())?)
        }
    };
    Ok(json!({
        "id": cfg.id,
        "image": image,
        "process": process,
        // Each check with the protocol name its request used, beside the request's own typed form.
        "health_checks": cfg.health_checks.iter().map(|h| json!({
            "protocol": h.protocol(),
            "check": h,
        })).collect::<Vec<_>>(),
        "request": serde_json::to_value(cfg).unwrap_or(Value::Null),
    }))
}

/// The process as the launch resolves it (`process::resolve`), secret values hidden.
fn process(cfg: &ContainerConfig, run: Option<&RunConfig>, sandbox: &str) -> Result<Value> {
    let secret = |e: &String| {
        let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        cfg.secret_env.iter().any(|(k, _)| k == key)
    };
    // Marathon's PORT0…, PORTS and HOST as the launch sets them; a port the launch allocates is not known yet.
    let ports = marathon_env(cfg, &cfg.network.port_mappings)
        .into_iter()
        .map(|(k, v)| match k.starts_with("PORT") {
            true => {
                let vs: Vec<&str> = v
                    .split(',')
                    .map(|p| if p == "0" { ALLOCATED } else { p })
                    .collect();
                (k, vs.join(","))
            }
            false => (k, v),
        })
        .collect::<Vec<_>>();
    let mut env: Vec<String> = build_env(cfg, run, sandbox, &ports)
        .into_iter()
        .filter(|e| !secret(e))
        .collect();
    env.extend(cfg.secret_env.iter().map(|(k, _)| format!("{k}=<secret>")));
    env.sort();
    let image_user = run.and_then(|r| r.user.as_ref()).filter(|u| !u.is_empty());
    Ok(json!({
        "argv": resolve_argv(cfg, run)?,
        "env": env,
        "cwd": working_dir(cfg, run, sandbox),
        // The launch's rule: the request's user, else the image USER.
        "user": cfg.command.user.as_ref().or(image_user),
        "root": if run.is_some() { "the image" } else { "the host's /" },
    }))
}
