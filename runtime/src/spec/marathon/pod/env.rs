//! The environment Marathon gives each task of a pod (`TaskGroupBuilder.taskContextEnv` and the label variables
//! of `computeCommandInfo`), minus what is only known at launch: `HOST`, and the endpoint variables, which the
//! runtime adds from the parent's allocated ports (`spec::pod::endpoint_env`).
//!
//! As in Marathon: `MARATHON_CONTAINER_RESOURCE_*` are the container's own resources printed as a JVM double
//! (`0.1`, `32.0`), GPUs as an integer; the label variables are of the pod's labels and the container's, the
//! container's winning. As for apps, `MESOS_TASK_ID` is the container id (`<pod>/<name>`; Marathon's is
//! `<pod>.instance-<uuid>.<name>`) and `MESOS_EXECUTOR_ID` the pod's (`instance-<pod>.<uuid>` in Marathon).
//! `MARATHON_APP_ENFORCE_GROUP_ROLE` is left out: it reports a setting of the enclosing group, which a pod
//! definition does not carry.

use std::collections::BTreeMap;

use super::super::task_env::{jvm_double, label_env};

pub struct ContainerContext<'a> {
    /// The child's container id.
    pub task_id: &'a str,
    /// The parent's container id.
    pub executor_id: &'a str,
    pub pod_id: &'a str,
    pub version: Option<&'a str>,
    pub name: &'a str,
    pub cpus: f64,
    pub mem: f64,
    pub disk: f64,
    pub gpus: u32,
    pub pod_labels: &'a BTreeMap<String, String>,
    pub labels: &'a BTreeMap<String, String>,
}

pub fn task_env(c: &ContainerContext) -> Vec<(String, String)> {
    let mut env = vec![
        ("MESOS_TASK_ID".to_string(), c.task_id.to_string()),
        ("MESOS_EXECUTOR_ID".to_string(), c.executor_id.to_string()),
        ("MARATHON_APP_ID".to_string(), c.pod_id.to_string()),
    ];
    if let Some(v) = c.version {
        env.push(("MARATHON_APP_VERSION".into(), v.to_string()));
    }
    env.push(("MARATHON_CONTAINER_ID".into(), c.name.to_string()));
    env.push((
        "MARATHON_CONTAINER_RESOURCE_CPUS".into(),
        jvm_double(c.cpus),
    ));
    env.push(("MARATHON_CONTAINER_RESOURCE_MEM".into(), jvm_double(c.mem)));
    env.push((
        "MARATHON_CONTAINER_RESOURCE_DISK".into(),
        jvm_double(c.disk),
    ));
    env.push((
        "MARATHON_CONTAINER_RESOURCE_GPUS".into(),
        c.gpus.to_string(),
    ));
    let mut labels = c.pod_labels.clone();
    labels.extend(c.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.extend(label_env(&labels));
    env
}
