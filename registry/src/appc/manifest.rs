//! The ACI image manifest (appc `spec/aci.md`, "Image Manifest Schema"), read strictly: every field the spec
//! gives a MUST is checked here, once, for images fetched, loaded and found in the store alike. Unknown
//! fields are ignored, as the spec's own reader does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{AppcError, Result};
use super::name::{check_id, check_identifier, AppcName};

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NameValue {
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub ac_kind: String,
    pub ac_version: String,
    pub name: String,
    #[serde(default)]
    pub labels: Vec<NameValue>,
    #[serde(default)]
    pub app: Option<App>,
    #[serde(default)]
    pub annotations: Vec<NameValue>,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
    #[serde(default)]
    pub path_whitelist: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct App {
    #[serde(default)]
    pub exec: Vec<String>,
    pub user: String,
    pub group: String,
    #[serde(default, rename = "supplementaryGIDs")]
    pub supplementary_gids: Vec<u32>,
    #[serde(default)]
    pub event_handlers: Vec<EventHandler>,
    #[serde(default)]
    pub working_directory: Option<String>,
    #[serde(default)]
    pub environment: Vec<NameValue>,
    #[serde(default)]
    pub isolators: Vec<Isolator>,
    #[serde(default)]
    pub mount_points: Vec<MountPoint>,
    #[serde(default)]
    pub ports: Vec<Port>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventHandler {
    pub name: String,
    pub exec: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Isolator {
    pub name: String,
    #[serde(default)]
    pub value: serde_json::Value,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MountPoint {
    pub name: String,
    pub path: String,
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    pub name: String,
    pub protocol: String,
    pub port: u16,
    #[serde(default = "one")]
    pub count: u16,
    #[serde(default)]
    pub socket_activated: bool,
}

fn one() -> u16 {
    1
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    pub image_name: String,
    #[serde(default, rename = "imageID")]
    pub image_id: Option<String>,
    #[serde(default)]
    pub labels: Vec<NameValue>,
    #[serde(default)]
    pub size: Option<u64>,
}

impl Dependency {
    /// What the dependency asks for, as a request would name it.
    pub fn appc_name(&self) -> AppcName {
        AppcName {
            name: self.image_name.clone(),
            labels: self
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
            id: self.image_id.clone(),
        }
    }
}

/// The resource isolators as numbers: what the image suggests when the request names nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ResourceHints {
    pub cpus: Option<f64>,
    pub cpus_limit: Option<f64>,
    pub mem_mb: Option<f64>,
    pub mem_mb_limit: Option<f64>,
}

impl ImageManifest {
    /// Parses and validates the manifest of the image `image` (a name, id or file, for messages).
    pub fn parse(bytes: &[u8], image: &str) -> Result<ImageManifest> {
        let m: ImageManifest = serde_json::from_slice(bytes).map_err(|e| AppcError::Manifest {
            image: image.to_string(),
            why: format!("not a valid manifest: {e}"),
        })?;
        m.validate().map_err(|why| AppcError::Manifest {
            image: image.to_string(),
            why,
        })?;
        Ok(m)
    }

    /// The labels as a map (validation made the names unique).
    pub fn label_map(&self) -> BTreeMap<String, String> {
        self.labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect()
    }

    pub fn version(&self) -> Option<&str> {
        label(&self.labels, "version")
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.ac_kind != "ImageManifest" {
            return Err(format!("acKind is `{}`, not `ImageManifest`", self.ac_kind));
        }
        if self.ac_version.is_empty() {
            return Err("acVersion is missing".into());
        }
        check_identifier(&self.name).map_err(|w| format!("name `{}`: {w}", self.name))?;
        labels(&self.labels, "labels")?;
        if let (Some(os), Some(arch)) = (label(&self.labels, "os"), label(&self.labels, "arch")) {
            if !os_arch_allowed(os, arch) {
                return Err(format!(
                    "labels: os `{os}` with arch `{arch}` is not a valid pair"
                ));
            }
        }
        unique(&self.annotations, "annotations")?;
        for (i, d) in self.dependencies.iter().enumerate() {
            let at = format!("dependencies[{i}]");
            check_identifier(&d.image_name).map_err(|w| format!("{at}.imageName: {w}"))?;
            if let Some(id) = &d.image_id {
                check_id(id).map_err(|w| format!("{at}.imageID: {w}"))?;
            }
            labels(&d.labels, &format!("{at}.labels"))?;
        }
        for (i, p) in self.path_whitelist.iter().enumerate() {
            if !p.starts_with('/') {
                return Err(format!("pathWhitelist[{i}] `{p}` is not absolute"));
            }
        }
        match &self.app {
            Some(app) => app.validate(),
            None => Ok(()),
        }
    }
}

impl App {
    fn validate(&self) -> std::result::Result<(), String> {
        if self.user.is_empty() || self.group.is_empty() {
            return Err("app.user and app.group are required".into());
        }
        if let Some(w) = &self.working_directory {
            if !w.starts_with('/') {
                return Err(format!("app.workingDirectory `{w}` is not absolute"));
            }
        }
        if self.exec.first().is_some_and(|e| e.is_empty()) {
            return Err("app.exec[0] is empty".into());
        }
        let mut handlers = Vec::new();
        for h in &self.event_handlers {
            if !["pre-start", "post-stop"].contains(&h.name.as_str()) {
                return Err(format!("app.eventHandlers: unknown handler `{}`", h.name));
            }
            if handlers.contains(&h.name) {
                return Err(format!("app.eventHandlers: `{}` given twice", h.name));
            }
            handlers.push(h.name.clone());
        }
        for e in &self.environment {
            let ok = !e.name.is_empty()
                && !e.name.starts_with(|c: char| c.is_ascii_digit())
                && e.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                return Err(format!(
                    "app.environment: `{}` is not a variable name",
                    e.name
                ));
            }
        }
        unique(&self.environment, "app.environment")?;
        for m in &self.mount_points {
            check_identifier(&m.name).map_err(|w| format!("app.mountPoints `{}`: {w}", m.name))?;
            if !m.path.starts_with('/') {
                return Err(format!(
                    "app.mountPoints `{}`: path is not absolute",
                    m.name
                ));
            }
        }
        for p in &self.ports {
            check_identifier(&p.name).map_err(|w| format!("app.ports `{}`: {w}", p.name))?;
            if !["tcp", "udp"].contains(&p.protocol.as_str()) {
                return Err(format!("app.ports `{}`: protocol `{}`", p.name, p.protocol));
            }
            if p.port == 0 || p.count == 0 || u32::from(p.port) + u32::from(p.count) > 65536 {
                return Err(format!("app.ports `{}`: port range out of 1-65535", p.name));
            }
        }
        self.resources().map(|_| ())
    }

    /// `resource/cpu` and `resource/memory` (`{"request": "250m", "limit": "1"}`, `"1G"`), as numbers.
    pub fn resources(&self) -> std::result::Result<ResourceHints, String> {
        let mut r = ResourceHints::default();
        for iso in &self.isolators {
            let (req, lim) = (iso.value.get("request"), iso.value.get("limit"));
            let parse = |v: Option<&serde_json::Value>, f: fn(&str) -> Option<f64>| match v {
                None => Ok(None),
                Some(serde_json::Value::String(s)) => f(s)
                    .map(Some)
                    .ok_or_else(|| format!("app.isolators {}: `{s}` is not a quantity", iso.name)),
                Some(other) => Err(format!(
                    "app.isolators {}: `{other}` is not a quantity",
                    iso.name
                )),
            };
            match iso.name.as_str() {
                "resource/cpu" => {
                    r.cpus = parse(req, cpus)?;
                    r.cpus_limit = parse(lim, cpus)?;
                }
                "resource/memory" => {
                    r.mem_mb = parse(req, bytes)?.map(|b| b / (1 << 20) as f64);
                    r.mem_mb_limit = parse(lim, bytes)?.map(|b| b / (1 << 20) as f64);
                }
                _ => {}
            }
        }
        Ok(r)
    }
}

fn label<'a>(labels: &'a [NameValue], name: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|l| l.name == name)
        .map(|l| l.value.as_str())
}

fn labels(labels: &[NameValue], at: &str) -> std::result::Result<(), String> {
    for l in labels {
        check_identifier(&l.name).map_err(|w| format!("{at}: `{}`: {w}", l.name))?;
        if l.name == "name" {
            return Err(format!("{at}: a label may not be called `name`"));
        }
    }
    unique(labels, at)
}

fn unique(items: &[NameValue], at: &str) -> std::result::Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for i in items {
        if !seen.insert(i.name.as_str()) {
            return Err(format!("{at}: `{}` given twice", i.name));
        }
    }
    Ok(())
}

/// appc `spec/types.md`, "OS-Arch legend".
fn os_arch_allowed(os: &str, arch: &str) -> bool {
    let archs: &[&str] = match os {
        "linux" => &[
            "amd64",
            "i386",
            "aarch64",
            "aarch64_be",
            "armv6l",
            "armv7l",
            "armv7b",
            "ppc64",
            "ppc64le",
            "s390x",
        ],
        "freebsd" => &["amd64", "i386", "arm"],
        "darwin" => &["x86_64", "i386"],
        _ => return false,
    };
    archs.contains(&arch)
}

/// Kubernetes-style CPU quantity: `2`, `0.5`, `250m`.
fn cpus(s: &str) -> Option<f64> {
    let v = match s.strip_suffix('m') {
        Some(milli) => milli.parse::<f64>().ok()? / 1000.0,
        None => s.parse::<f64>().ok()?,
    };
    (v.is_finite() && v > 0.0).then_some(v)
}

/// Kubernetes-style byte quantity: `512M`, `1G`, `1Gi`, `1048576`.
fn bytes(s: &str) -> Option<f64> {
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let mult: f64 = match unit {
        "" => 1.0,
        "K" | "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0 * 1024.0,
        "Gi" => 1024.0 * 1024.0 * 1024.0,
        "Ti" => 1024.0f64.powi(4),
        _ => return None,
    };
    let v = num.parse::<f64>().ok()? * mult;
    (v.is_finite() && v > 0.0).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({"acKind": "ImageManifest", "acVersion": "0.8.11", "name": "example.com/worker",
               "labels": [{"name": "version", "value": "1.0.0"}, {"name": "os", "value": "linux"},
                          {"name": "arch", "value": "amd64"}],
               "app": {"exec": ["/bin/worker", "--fast"], "user": "0", "group": "0",
                       "environment": [{"name": "MODE", "value": "x"}],
                       "isolators": [{"name": "resource/cpu", "value": {"request": "250m", "limit": "1"}},
                                     {"name": "resource/memory", "value": {"limit": "64Mi"}}],
                       "ports": [{"name": "http", "protocol": "tcp", "port": 8080}]},
               "unknownField": true})
    }

    fn parse(v: &serde_json::Value) -> Result<ImageManifest> {
        ImageManifest::parse(&serde_json::to_vec(v).expect("json"), "test")
    }

    #[test]
    fn a_full_manifest_reads_with_its_resources() {
        let m = parse(&base()).expect("valid");
        assert_eq!(m.version(), Some("1.0.0"));
        let app = m.app.expect("app");
        let r = app.resources().expect("quantities");
        assert_eq!((r.cpus, r.cpus_limit), (Some(0.25), Some(1.0)));
        assert_eq!((r.mem_mb, r.mem_mb_limit), (None, Some(64.0)));
        assert_eq!(app.ports[0].count, 1);
    }

    #[test]
    fn every_must_is_checked() {
        type Change = Box<dyn Fn(&mut serde_json::Value)>;
        let cases: Vec<(Change, &str)> = vec![
            (Box::new(|v| v["acKind"] = json!("PodManifest")), "acKind"),
            (Box::new(|v| v["acVersion"] = json!("")), "acVersion"),
            (Box::new(|v| v["name"] = json!("Example.com")), "name"),
            (
                Box::new(|v| v["labels"][0]["name"] = json!("name")),
                "`name`",
            ),
            (
                Box::new(|v| v["labels"][1]["name"] = json!("version")),
                "twice",
            ),
            (
                Box::new(|v| v["labels"][2]["value"] = json!("x86_64")),
                "pair",
            ),
            (Box::new(|v| v["app"]["user"] = json!("")), "app.user"),
            (
                Box::new(|v| v["app"]["workingDirectory"] = json!("rel")),
                "absolute",
            ),
            (
                Box::new(|v| v["app"]["environment"][0]["name"] = json!("1X")),
                "variable",
            ),
            (
                Box::new(|v| v["app"]["ports"][0]["protocol"] = json!("sctp")),
                "protocol",
            ),
            (
                Box::new(|v| v["app"]["ports"][0]["port"] = json!(0)),
                "port range",
            ),
            (
                Box::new(|v| v["app"]["isolators"][0]["value"]["request"] = json!("lots")),
                "quantity",
            ),
            (
                Box::new(|v| {
                    v["app"]["eventHandlers"] = json!([{"name": "on-boot", "exec": ["x"]}])
                }),
                "handler",
            ),
            (
                Box::new(|v| {
                    v["dependencies"] = json!([{"imageName": "b", "imageID": "sha256-0"}])
                }),
                "imageID",
            ),
            (
                Box::new(|v| v["pathWhitelist"] = json!(["etc/x"])),
                "pathWhitelist",
            ),
            (
                Box::new(|v| v["app"] = json!({"exec": ["/x"]})),
                "missing field",
            ),
        ];
        for (change, says) in cases {
            let mut v = base();
            change(&mut v);
            let e = parse(&v).expect_err(says).to_string();
            assert!(e.contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn quantities() {
        assert_eq!(cpus("2"), Some(2.0));
        assert_eq!(cpus("500m"), Some(0.5));
        assert_eq!(cpus("-1"), None);
        assert_eq!(bytes("1G"), Some(1e9));
        assert_eq!(bytes("1Gi"), Some(1073741824.0));
        assert_eq!(bytes("12Q"), None);
    }
}
