//! What an AppC image's `app` section gives its container beyond the process (appc `spec/aci.md`), each only
//! where the request left it open — Mesos ignores all three (its `appc/runtime` isolator applies only exec,
//! environment and working directory):
//! - `ports`: a port mapping that names a port and leaves `container_port` 0 gets the app's port of that name;
//! - `mountPoints`: a volume whose `container_path` is a bare mount-point name (no `/`) is mounted at that
//!   mount point's path, read-only when the mount point says so (rkt's `--volume NAME,...` matching);
//! - `resource/cpu` and `resource/memory`: the request and limit when the request names none.
//!
//! The launch checkpoints the container's config again with these filled in, so `inspect`, `update` and
//! recovery see what runs.

use ucr_isolators::vocab::VolumeMode;
use ucr_registry::appc::manifest::App;

use crate::spec::ContainerConfig;

/// `cfg` with the app's defaults applied; None when the app changes nothing.
pub fn with_app(cfg: &ContainerConfig, app: &App) -> Result<Option<ContainerConfig>, String> {
    let mut out = cfg.clone();
    for pm in &mut out.network.port_mappings {
        let Some(name) = pm.name.as_deref() else {
            continue;
        };
        if pm.container_port != 0 {
            continue;
        }
        if let Some(p) = app.ports.iter().find(|p| p.name == name) {
            pm.container_port = p.port;
            if pm.protocol.is_empty() {
                pm.protocol = p.protocol.clone();
            }
        }
    }
    for v in &mut out.volumes {
        if v.container_path.contains('/') {
            continue;
        }
        if let Some(mp) = app.mount_points.iter().find(|m| m.name == v.container_path) {
            v.container_path = mp.path.clone();
            if mp.read_only {
                v.mode = VolumeMode::Ro;
            }
        }
    }
    let hints = app.resources()?;
    let r = &mut out.resources;
    if r.cpus.is_none() {
        r.cpus = hints.cpus.or(hints.cpus_limit);
        if out.limits.cpus.is_none() {
            out.limits.cpus = hints.cpus_limit;
        }
    }
    if r.mem_mb.is_none() {
        r.mem_mb = hints.mem_mb.or(hints.mem_mb_limit);
        if out.limits.mem_mb.is_none() {
            out.limits.mem_mb = hints.mem_mb_limit;
        }
    }
    Ok((out != *cfg).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use ucr_isolators::vocab::{PortMapping, Volume, VolumeSource};

    #[test]
    fn ports_mount_points_and_resources_fill_what_the_request_left_open() {
        let app: App = serde_json::from_value(json!({
            "user": "0", "group": "0",
            "ports": [{"name": "http", "protocol": "tcp", "port": 8080}],
            "mountPoints": [{"name": "data", "path": "/var/data", "readOnly": true}],
            "isolators": [{"name": "resource/memory", "value": {"request": "64Mi", "limit": "128Mi"}}]
        }))
        .expect("app");
        let mut cfg: ContainerConfig =
            serde_json::from_value(json!({"id": "a", "command": {"shell": true, "value": "x"}}))
                .expect("cfg");
        cfg.network.port_mappings.push(PortMapping {
            host_port: 0,
            container_port: 0,
            protocol: "tcp".into(),
            name: Some("http".into()),
            networks: Vec::new(),
        });
        cfg.volumes.push(Volume {
            container_path: "data".into(),
            mode: VolumeMode::Rw,
            source: VolumeSource::HostPath {
                path: "/srv".into(),
            },
        });
        cfg.resources.cpus = Some(1.0);
        let out = with_app(&cfg, &app).expect("ok").expect("changed");
        assert_eq!(out.network.port_mappings[0].container_port, 8080);
        assert_eq!(out.volumes[0].container_path, "/var/data");
        assert_eq!(out.volumes[0].mode, VolumeMode::Ro);
        assert_eq!(
            (out.resources.cpus, out.resources.mem_mb),
            (Some(1.0), Some(64.0))
        );
        assert_eq!(out.limits.mem_mb, Some(128.0));
        let same = with_app(&out, &app).expect("ok");
        assert!(same.is_none());
    }
}
