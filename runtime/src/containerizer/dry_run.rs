//! `ucr launch --dry-run`: what a request would run, without running or pulling anything (at most the empty
//! store is made). The request is parsed as a launch parses it; the image is looked up in the local store
//! only. When it is there, the argv, environment, working directory and user come from the same functions the
//! launch uses with the image's config; when it is not, they are left out (the image's entrypoint and env
//! decide them) and the answer says so. Secret env values are shown as `<secret>`; request credentials only
//! as present.

use serde_json::{json, Value};

use super::launch::NO_IMAGE;
use super::Containerizer;
use crate::container::error::{ContainerError, Result};
use crate::process::{build_env, resolve_argv, working_dir};
use crate::spec::ContainerConfig;

pub fn dry_run(c: &Containerizer, cfg: &ContainerConfig) -> Result<Value> {
    let Some(i) = &cfg.image else {
        return Err(ContainerError::launch(
            &cfg.id,
            "provisioning",
            NO_IMAGE,
            125,
        ));
    };
    let local = c.images().local(&i.reference)?;
    let image = json!({
        "reference": i.reference.as_str(),
        "cached": i.cached,
        "credentials": i.docker_config.is_some(),
        "in_store": local.is_some(),
        "digest": local.as_ref().map(|l| l.digest.as_str()),
    });
    let sandbox = &c.config().sandbox_directory;
    let process = match local.as_ref().map(|l| &l.config) {
        Some(run) => {
            let secret = |e: &String| {
                let key = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
                cfg.secret_env.iter().any(|(k, _)| k == key)
            };
            let mut env: Vec<String> = build_env(cfg, Some(run), sandbox, &[])
                .into_iter()
                .filter(|e| !secret(e))
                .collect();
            env.extend(cfg.secret_env.iter().map(|(k, _)| format!("{k}=<secret>")));
            env.sort();
            json!({
                "argv": resolve_argv(cfg, Some(run))?,
                "env": env,
                "cwd": working_dir(cfg, Some(run), sandbox),
                // The launch's rule (`process::resolve`): the request's user, else the image USER.
                "user": cfg.command.user.as_ref().or(run.user.as_ref().filter(|u| !u.is_empty())),
            })
        }
        None => json!({
            "note": "the image is not in the store: its entrypoint, command, env, working directory and user \
                     complete these at launch (ucr pull it to see them here)",
        }),
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
