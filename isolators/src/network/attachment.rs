//! One container's attachment to one CNI network, and the ADD and DEL of its plugin chain (CNI spec 1.1,
//! "Network configuration lists"): ADD runs the plugins in order, each given the previous one's result as
//! `prevResult`; DEL runs them in reverse, each given the ADD's final result. Capabilities a plugin declares
//! (`portMappings`) get their `runtimeConfig`.
//!
//! The attachment is checkpointed (atomically) before the first ADD and again with the result, so a DEL from
//! any later process (`ucr rm`, a restarted agent) uses exactly the plugins, settings, ids and result the ADD
//! used, even if the config dir has changed since.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::host_lock::HostLock;
use super::plugin::{Cmd, Invocation};
use crate::error::{IsolatorError, Result};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub network: String,
    pub cni_version: String,
    pub plugins: Vec<Value>,
    /// The config file it came from (for messages only).
    pub config_file: PathBuf,
    /// CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH.
    pub container_id: String,
    pub netns: PathBuf,
    pub ifname: String,
    pub cni_path: String,
    /// `runtimeConfig.portMappings` for plugins with the `portMappings` capability.
    pub port_mappings: Vec<Value>,
    /// The ADD's final result, once it succeeded.
    #[serde(default)]
    pub result: Option<Value>,
}

/// `a.b.c` as a comparable triple (0.0.0 for anything else).
fn version(v: &str) -> (u32, u32, u32) {
    let mut it = v.split('.').map(|p| p.parse().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

impl Attachment {
    /// What every plugin of this attachment is told (ADD and DEL add the lock they hold).
    pub fn invocation(&self) -> Invocation<'_> {
        Invocation {
            network: &self.network,
            container_id: &self.container_id,
            netns: &self.netns,
            ifname: &self.ifname,
            cni_path: &self.cni_path,
            lock: None,
        }
    }

    pub fn plugin_type(plugin: &Value) -> &str {
        plugin.get("type").and_then(Value::as_str).unwrap_or("")
    }

    fn has_capability(plugin: &Value, cap: &str) -> bool {
        plugin
            .get("capabilities")
            .and_then(|c| c.get(cap))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Whether any plugin of the chain maps host ports.
    pub fn maps_ports(&self) -> bool {
        self.plugins
            .iter()
            .any(|p| Self::has_capability(p, "portMappings"))
    }

    /// What plugin `plugin` gets on stdin.
    pub fn plugin_config(&self, plugin: &Value, prev: Option<&Value>) -> Value {
        let mut c = plugin.clone();
        let Some(m) = c.as_object_mut() else {
            return c;
        };
        m.insert("name".into(), self.network.clone().into());
        m.insert("cniVersion".into(), self.cni_version.clone().into());
        // A config's own runtimeConfig is not the runtime's: only what the runtime supplies is passed.
        m.remove("runtimeConfig");
        if Self::has_capability(plugin, "portMappings") && !self.port_mappings.is_empty() {
            m.insert(
                "runtimeConfig".into(),
                json!({ "portMappings": self.port_mappings }),
            );
        }
        m.remove("prevResult");
        if let Some(p) = prev {
            m.insert("prevResult".into(), p.clone());
        }
        c
    }

    /// ADD through the chain, under the host's CNI `lock`; returns the final result.
    pub fn add(&self, lock: &HostLock) -> Result<Value> {
        let inv = Invocation {
            lock: Some(lock.fd()),
            ..self.invocation()
        };
        // prevResult chaining exists from 0.3.0 on.
        let chain = version(&self.cni_version) >= (0, 3, 0);
        let mut prev: Option<Value> = None;
        for p in &self.plugins {
            let cfg = self.plugin_config(p, if chain { prev.as_ref() } else { None });
            let result = inv.exec(Cmd::Add, Self::plugin_type(p), &cfg)?;
            prev = Some(result);
        }
        prev.ok_or_else(|| IsolatorError::Cni {
            network: self.network.clone(),
            plugin: format!("config {}", self.config_file.display()),
            why: "no plugins".into(),
        })
    }

    /// DEL through the chain in reverse. Every plugin is run even if one fails (each DEL must clean up what it
    /// can); the first failure is returned, and the whole DEL is safe to repeat. Under the host's CNI `lock`.
    pub fn del(&self, lock: &HostLock) -> Result<()> {
        let mut inv = Invocation {
            lock: Some(lock.fd()),
            ..self.invocation()
        };
        // A namespace that is gone is passed as none (CNI_NETNS empty), as the spec allows for DEL: plugins then
        // release what lives outside it (address leases, host rules) instead of failing on a stale path.
        if !super::netns::is_netns(&self.netns) {
            inv.netns = Path::new("");
        }
        // DEL gets the cached result from 0.4.0 on.
        let prev = self
            .result
            .as_ref()
            .filter(|_| version(&self.cni_version) >= (0, 4, 0));
        let mut first = None;
        for p in self.plugins.iter().rev() {
            let cfg = self.plugin_config(p, prev);
            if let Err(e) = inv.exec(Cmd::Del, Self::plugin_type(p), &cfg) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    pub fn write(&self, file: &Path) -> Result<()> {
        let data = serde_json::to_vec_pretty(self).map_err(|e| IsolatorError::Failed {
            isolator: "network/cni",
            why: format!("serializing {}: {e}", file.display()),
        })?;
        write_atomic(file, &data)
    }

    /// The checkpoint at `file`; None when absent or empty (a crash before its first write).
    pub fn read(file: &Path) -> Result<Option<Attachment>> {
        let data = match std::fs::read(file) {
            Ok(d) if d.is_empty() => return Ok(None),
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(IsolatorError::io(file, e)),
        };
        serde_json::from_slice(&data).map(Some).map_err(|e| {
            IsolatorError::io(
                file,
                std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            )
        })
    }
}

/// Temp file, fsync, rename: a reader sees the old checkpoint or the new one, never half of one.
fn write_atomic(file: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = file.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| IsolatorError::io(&tmp, e))?;
    f.write_all(data)
        .and_then(|()| f.sync_all())
        .map_err(|e| IsolatorError::io(&tmp, e))?;
    std::fs::rename(&tmp, file).map_err(|e| IsolatorError::io(file, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A fake plugin that appends "<CMD> <type> <stdin>" to a log and returns its prevResult with its own name
    /// added to `interfaces`, as a chained plugin would.
    fn fake(dir: &Path, name: &str, fail_on: &str) {
        let p = dir.join(name);
        let body = format!(
            "#!/bin/sh\ncfg=$(cat)\necho \"$CNI_COMMAND {name} $cfg\" >> {log}\n\
             if [ \"$CNI_COMMAND\" = \"{fail_on}\" ]; then echo '{{\"code\":11,\"msg\":\"{name} says no\"}}'; exit 1; fi\n\
             echo '{{\"cniVersion\":\"1.0.0\",\"interfaces\":[{{\"name\":\"{name}\"}}],\"ips\":[]}}'\n",
            log = dir.join("log").display()
        );
        std::fs::write(&p, body).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn attachment(dir: &Path) -> Attachment {
        Attachment {
            network: "n".into(),
            cni_version: "1.0.0".into(),
            plugins: vec![
                json!({"type": "one", "runtimeConfig": {"x": 1}}),
                json!({"type": "two", "capabilities": {"portMappings": true}}),
            ],
            config_file: dir.join("n.conflist"),
            container_id: "c".into(),
            netns: dir.join("netns"),
            ifname: "eth0".into(),
            cni_path: dir.display().to_string(),
            port_mappings: vec![json!({"hostPort": 31000, "containerPort": 80, "protocol": "tcp"})],
            result: None,
        }
    }

    fn log(dir: &Path) -> Vec<Value> {
        std::fs::read_to_string(dir.join("log"))
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let mut it = l.splitn(3, ' ');
                let (cmd, name, cfg) = (it.next(), it.next(), it.next());
                json!({"cmd": cmd, "plugin": name, "cfg": serde_json::from_str::<Value>(cfg.unwrap_or("null")).unwrap_or(Value::Null)})
            })
            .collect()
    }

    /// A lock of the test's own: the host's would serialize the tests with every other CNI user.
    fn lock(dir: &Path) -> HostLock {
        HostLock::take_at(&dir.join("cni.lock"), std::time::Duration::from_secs(5)).expect("lock")
    }

    #[test]
    fn add_chains_prev_results_and_runtime_config_del_reverses() {
        let d = tempfile::tempdir().expect("tempdir");
        fake(d.path(), "one", "none");
        fake(d.path(), "two", "none");
        let mut a = attachment(d.path());
        let r = a.add(&lock(d.path())).expect("add");
        assert_eq!(r["interfaces"][0]["name"], "two");
        let l = log(d.path());
        assert_eq!(l[0]["cfg"]["name"], "n");
        assert_eq!(l[0]["cfg"]["cniVersion"], "1.0.0");
        assert!(l[0]["cfg"].get("prevResult").is_none());
        assert!(
            l[0]["cfg"].get("runtimeConfig").is_none(),
            "no capability, no runtimeConfig"
        );
        assert_eq!(l[1]["cfg"]["prevResult"]["interfaces"][0]["name"], "one");
        assert_eq!(
            l[1]["cfg"]["runtimeConfig"]["portMappings"][0]["hostPort"],
            31000
        );
        a.result = Some(r);
        a.del(&lock(d.path())).expect("del");
        let l = log(d.path());
        assert_eq!(
            (l[2]["cmd"].as_str(), l[2]["plugin"].as_str()),
            (Some("DEL"), Some("two"))
        );
        assert_eq!(l[3]["plugin"], "one");
        assert_eq!(l[3]["cfg"]["prevResult"]["interfaces"][0]["name"], "two");
        // 0.3.x: no prevResult on DEL.
        a.cni_version = "0.3.1".into();
        a.del(&lock(d.path())).expect("del");
        assert!(log(d.path())[4]["cfg"].get("prevResult").is_none());
    }

    #[test]
    fn del_runs_every_plugin_and_reports_the_first_failure() {
        let d = tempfile::tempdir().expect("tempdir");
        fake(d.path(), "one", "DEL");
        fake(d.path(), "two", "DEL");
        let e = attachment(d.path())
            .del(&lock(d.path()))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("plugin two (DEL): two says no (CNI error 11: try again later)"),
            "{e}"
        );
        assert_eq!(log(d.path()).len(), 2, "one ran although two failed");
    }

    #[test]
    fn checkpoint_round_trip() {
        let d = tempfile::tempdir().expect("tempdir");
        let f = d.path().join("cni.json");
        assert!(Attachment::read(&f).expect("absent").is_none());
        std::fs::write(&f, b"").expect("empty");
        assert!(Attachment::read(&f).expect("empty").is_none());
        let a = attachment(d.path());
        a.write(&f).expect("write");
        assert_eq!(Attachment::read(&f).expect("read"), Some(a));
    }
}
