//! Marathon pod definitions (`POST /v2/pods` bodies) → a `PodConfig`: a parent whose only process is `ucr pause`
//! and one nested container per pod container, as Marathon has Mesos's default executor run them
//! (`TaskGroupBuilder`; docs/docs/pods.md):
//! - the parent: id = the pod id's `safePath` as for apps (`/group/db` → `group_db`); no image; the pod's
//!   network with every container's endpoints as port mappings (`network.rs`); resources = the containers' summed
//!   plus `executorResources` (Marathon's defaults 0.1 cpus, 32 MiB, 10 MiB disk), as Marathon's offer
//!   matching sums them (`PodDefinition.aggregateResources`); limits above that only when a container's
//!   `resourceLimits` ask for more; the pod's labels; `linuxInfo.ipcInfo`; the longest kill grace of its
//!   containers;
//! - the children: `container.rs`; volumes: `volumes.rs`; health checks: `health.rs`; task env: `env.rs`;
//! - scheduling fields (`scaling`, `scheduling`, `role`, a container's `check`) are accepted, have no effect, and
//!   are listed in the parent's `ignored` (a container's in its own too), as an app's are;
//! - the document is read as Marathon reads it (`lenient.rs`): unknown fields are skipped and reported, `null`
//!   is absent, enum values are in any case. Fields that cannot apply on one node are refused naming the field.

mod container;
mod ctx;
mod env;
mod health;
mod network;
pub mod types;
mod volumes;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod network_tests;
#[cfg(test)]
mod tests;

use self::container::child;
use self::ctx::{first_duplicate, Ctx};
use self::network::network;
use self::types::Pod;
use self::volumes::pod_volumes;
use super::lenient;
use super::types::IpcMode;
use crate::spec::config::{ContainerConfig, Limits, Resources, Source};
use crate::spec::error::{Result, SpecError};
use crate::spec::ids::marathon_container_id;
use crate::spec::json::from_value_skipping_unknown;
use crate::spec::pod::{pause_command, PodConfig};
use crate::spec::secrets::SecretSource;

/// Marathon's `executorResources` defaults (`ExecutorResources` in resources.raml, which
/// `PodDefinition.DefaultExecutorResources` takes), and the RAML minimums it validates them against.
const DEFAULT_EXECUTOR_CPUS: f64 = 0.1;
const DEFAULT_EXECUTOR_MEM: f64 = 32.0;
const DEFAULT_EXECUTOR_DISK: f64 = 10.0;

/// The pod-level fields that steer Marathon's scheduling, not a container: listed in the parent's `ignored`.
const SCHEDULER_FIELDS: [&str; 3] = ["scaling", "scheduling", "role"];

/// Parses a pod definition, with the JSON paths of the unknown fields it skipped (also at the end of the parent's
/// `ignored`, and of a child's when inside its container), for the caller to warn about.
pub fn parse_marathon_pod_with(
    text: &str,
    secrets: &dyn SecretSource,
) -> Result<(PodConfig, Vec<String>)> {
    let mut raw: serde_json::Value =
        serde_json::from_str(text).map_err(|e| SpecError::NotJson(e.to_string()))?;
    lenient::normalize_pod(&mut raw);
    let (pod, unknown): (Pod, _) = from_value_skipping_unknown(raw.clone())?;
    let (id, pod_id) = marathon_container_id(&pod.id)?;
    if pod.containers.is_empty() {
        return Err(SpecError::field(
            "containers",
            "empty: a pod has at least one container",
        ));
    }
    let names = pod
        .containers
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), format!("containers[{i}].name")));
    if let Some((at, name)) = first_duplicate(names) {
        return Err(SpecError::field(
            at,
            format!("container {name:?} is defined twice"),
        ));
    }
    let ctx = Ctx {
        pod: &pod,
        id: id.clone(),
        pod_id,
        secrets,
    };
    let ephemeral_volumes = pod_volumes(&ctx)?;
    let net = network(&pod)?;
    let mut children = Vec::with_capacity(pod.containers.len());
    for (i, c) in pod.containers.iter().enumerate() {
        let mut cfg = child(&ctx, c, i, &net)?;
        let prefix = format!("containers[{i}].");
        cfg.ignored
            .extend(unknown.iter().filter(|u| u.starts_with(&prefix)).cloned());
        children.push(cfg);
    }
    let mut parent = ContainerConfig {
        id,
        source: Source::Marathon,
        image: None,
        command: pause_command(),
        network: net,
        labels: pod.labels.clone(),
        ..ContainerConfig::default()
    };
    parent.resources = envelope(&pod, &children)?;
    parent.limits = envelope_limits(&children, &parent.resources);
    parent.kill_grace_period_secs = children
        .iter()
        .filter_map(|c| c.kill_grace_period_secs)
        .reduce(f64::max);
    if let Some(linux) = &pod.linux_info {
        if linux.seccomp.is_some() {
            return Err(SpecError::field(
                "linuxInfo.seccomp",
                "not supported at the pod level (Marathon refuses it; give it to a container)",
            ));
        }
        if let Some(ipc) = &linux.ipc_info {
            if ipc.shm_size.is_some() && ipc.mode == IpcMode::ShareParent {
                return Err(SpecError::field(
                    "linuxInfo.ipcInfo.shmSize",
                    "only allowed with mode PRIVATE",
                ));
            }
            parent.linux.ipc_mode = Some(ipc.mode.as_str().to_string());
            parent.linux.shm_size = ipc.shm_size.map(u64::from);
        }
    }
    let scheduler = SCHEDULER_FIELDS
        .iter()
        .filter(|f| raw.get(**f).is_some())
        .map(|f| f.to_string());
    let checks = pod
        .containers
        .iter()
        .enumerate()
        .filter(|(_, c)| c._check.is_some())
        .map(|(i, _)| format!("containers[{i}].check"));
    parent.ignored = scheduler
        .chain(checks)
        .chain(unknown.iter().cloned())
        .collect();
    Ok((
        PodConfig {
            parent,
            children,
            ephemeral_volumes,
        },
        unknown,
    ))
}

/// The pod's resources: its containers' and its executor's, summed (Marathon's offer matching asks for exactly
/// that much, and Mesos gives the executor's container that envelope).
fn envelope(pod: &Pod, children: &[ContainerConfig]) -> Result<Resources> {
    let ex = pod.executor_resources.as_ref();
    let check = |v: Option<f64>, default: f64, min: f64, field: &str| -> Result<f64> {
        let v = v.unwrap_or(default);
        if v.is_finite() && v >= min {
            Ok(v)
        } else {
            Err(SpecError::field(
                format!("executorResources.{field}"),
                format!("{v} must be at least {min}"),
            ))
        }
    };
    let cpus = check(ex.and_then(|e| e.cpus), DEFAULT_EXECUTOR_CPUS, 0.1, "cpus")?;
    let mem = check(ex.and_then(|e| e.mem), DEFAULT_EXECUTOR_MEM, 32.0, "mem")?;
    let disk = check(ex.and_then(|e| e.disk), DEFAULT_EXECUTOR_DISK, 10.0, "disk")?;
    let sum = |f: fn(&Resources) -> Option<f64>, base: f64| {
        base + children.iter().filter_map(|c| f(&c.resources)).sum::<f64>()
    };
    Ok(Resources {
        cpus: Some(sum(|r| r.cpus, cpus)),
        mem_mb: Some(sum(|r| r.mem_mb, mem)),
        disk_mb: Some(sum(|r| r.disk_mb, disk)),
        ..Resources::default()
    })
}

/// Limits of the envelope: none (= its resources) unless a container may use more than it asked for; then the
/// envelope's resources with each container's excess added, so the envelope never caps what a container's own
/// limits allow (`unlimited` makes the envelope unlimited).
fn envelope_limits(children: &[ContainerConfig], envelope: &Resources) -> Limits {
    let any = |f: fn(&Limits) -> Option<f64>| children.iter().any(|c| f(&c.limits).is_some());
    let excess = |lim: fn(&Limits) -> Option<f64>, req: fn(&Resources) -> Option<f64>| {
        children
            .iter()
            .map(|c| match (lim(&c.limits), req(&c.resources)) {
                (Some(l), Some(r)) => l - r,
                _ => 0.0,
            })
            .sum::<f64>()
    };
    Limits {
        cpus: any(|l| l.cpus)
            .then(|| envelope.cpus.unwrap_or(0.0) + excess(|l| l.cpus, |r| r.cpus)),
        mem_mb: any(|l| l.mem_mb)
            .then(|| envelope.mem_mb.unwrap_or(0.0) + excess(|l| l.mem_mb, |r| r.mem_mb)),
    }
}
