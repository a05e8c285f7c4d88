//! Docker client configuration: `config.json` (`auths` with `auth` or `username`/`password`, `identitytoken`,
//! `registrytoken`, `credHelpers`, `credsStore`) and the legacy `.dockercfg` (the `auths` map at top level).
//! Keys are matched the way docker matches them: scheme and path stripped, Docker Hub's many spellings folded.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use serde::Deserialize;

use super::credential::Credential;
use super::helper;
use crate::error::{Error, Result};
use crate::secret::Secret;

#[derive(Clone, Debug, Default)]
pub struct DockerConfig {
    /// Where it came from, for error messages (a path, or "--docker-config", or "image config").
    origin: String,
    auths: BTreeMap<String, AuthEntry>,
    cred_helpers: BTreeMap<String, String>,
    creds_store: Option<String>,
}

#[derive(Clone, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthEntry(<redacted>)")
    }
}

#[derive(Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: Option<BTreeMap<String, AuthEntry>>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

impl DockerConfig {
    /// Where it came from: a path, `--docker-config` or `image config`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn from_file(path: &Path) -> Result<DockerConfig> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// `--docker-config` accepts a file path or the JSON itself (Mesos' `--docker_config` does both).
    pub fn from_flag(value: &str) -> Result<DockerConfig> {
        if value.trim_start().starts_with('{') {
            Self::parse(value, "--docker-config")
        } else {
            Self::from_file(Path::new(value))
        }
    }

    /// A Mesos per-image `config` secret: base64 of a docker config.json (plain JSON is accepted too).
    pub fn from_mesos_secret(data: &str) -> Result<DockerConfig> {
        if data.trim_start().starts_with('{') {
            return Self::parse(data, "image config");
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| Error::Credentials {
                source_name: "image config".into(),
                why: format!("not base64: {e}"),
            })?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Credentials {
            source_name: "image config".into(),
            why: "not UTF-8 JSON".into(),
        })?;
        Self::parse(&text, "image config")
    }

    pub fn parse(text: &str, origin: &str) -> Result<DockerConfig> {
        let bad = |why: String| Error::Credentials {
            source_name: origin.to_string(),
            why,
        };
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        let is_modern = value.get("auths").is_some()
            || value.get("credHelpers").is_some()
            || value.get("credsStore").is_some();
        let (auths, cred_helpers, creds_store) = if is_modern {
            let f: ConfigFile = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
            (f.auths.unwrap_or_default(), f.cred_helpers, f.creds_store)
        } else {
            // Legacy .dockercfg: the registry map is the whole document.
            let m: BTreeMap<String, AuthEntry> =
                serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
            (m, BTreeMap::new(), None)
        };
        Ok(DockerConfig {
            origin: origin.to_string(),
            auths: auths
                .into_iter()
                .map(|(k, v)| (normalize_key(&k), v))
                .collect(),
            cred_helpers: cred_helpers
                .into_iter()
                .map(|(k, v)| (normalize_key(&k), v))
                .collect(),
            creds_store: creds_store.filter(|s| !s.is_empty()),
        })
    }

    /// Docker's order: a `credHelpers` entry for the host, else `credsStore`, else the `auths` entry.
    pub fn lookup(&self, registry: &str) -> Result<Option<Credential>> {
        let key = normalize_key(registry);
        if let Some(name) = self.cred_helpers.get(&key) {
            return helper::get(name, &helper_server_url(&key));
        }
        if let Some(name) = &self.creds_store {
            if let Some(c) = helper::get(name, &helper_server_url(&key))? {
                return Ok(Some(c));
            }
        }
        match self.auths.get(&key) {
            Some(entry) => self.entry_credential(&key, entry),
            None => Ok(None),
        }
    }

    fn entry_credential(&self, key: &str, e: &AuthEntry) -> Result<Option<Credential>> {
        if let Some(t) = e.identitytoken.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credential::IdentityToken(Secret::new(t))));
        }
        if let Some(t) = e.registrytoken.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credential::RegistryToken(Secret::new(t))));
        }
        if let Some(a) = e.auth.as_deref().filter(|a| !a.is_empty()) {
            let bad = |why: &str| Error::Credentials {
                source_name: self.origin.clone(),
                why: format!("auths[{key}].auth: {why}"),
            };
            let raw = base64::engine::general_purpose::STANDARD
                .decode(a.trim())
                .map_err(|_| bad("not base64"))?;
            let text = String::from_utf8(raw).map_err(|_| bad("not UTF-8"))?;
            let (u, p) = text
                .split_once(':')
                .ok_or_else(|| bad("expected base64 of USER:PASS"))?;
            return Ok(Some(Credential::Basic {
                username: u.to_string(),
                password: Secret::new(p),
            }));
        }
        match (&e.username, &e.password) {
            (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credential::Basic {
                username: u.clone(),
                password: Secret::new(p.as_str()),
            })),
            _ => Ok(None),
        }
    }
}

/// Docker Hub's credentials live under `https://index.docker.io/v1/`; helpers expect that URL for it.
fn helper_server_url(key: &str) -> String {
    if key == "docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        key.to_string()
    }
}

/// `https://reg:5000/v2/` → `reg:5000`; every Docker Hub spelling → `docker.io`.
fn normalize_key(k: &str) -> String {
    let k = k.trim();
    let k = k
        .strip_prefix("https://")
        .or_else(|| k.strip_prefix("http://"))
        .unwrap_or(k);
    let host = k.split('/').next().unwrap_or(k).to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" | "docker.io" => {
            "docker.io".into()
        }
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(u: &str, p: &str) -> Option<Credential> {
        Some(Credential::Basic {
            username: u.into(),
            password: Secret::new(p),
        })
    }

    #[test]
    fn modern_auths() {
        let cfg = DockerConfig::parse(
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="},
                "https://reg:5443":{"username":"u","password":"p"},
                "tok.example":{"identitytoken":"refresh-me"},
                "empty.example":{}}}"#,
            "t",
        )
        .expect("parse");
        assert_eq!(cfg.lookup("docker.io").expect("ok"), basic("hub", "secret"));
        assert_eq!(cfg.lookup("reg:5443").expect("ok"), basic("u", "p"));
        assert_eq!(
            cfg.lookup("tok.example").expect("ok"),
            Some(Credential::IdentityToken(Secret::new("refresh-me")))
        );
        assert_eq!(cfg.lookup("empty.example").expect("ok"), None);
        assert_eq!(cfg.lookup("other").expect("ok"), None);
        assert!(!format!("{cfg:?}").contains("aHViOnNlY3JldA"));
    }

    #[test]
    fn legacy_dockercfg() {
        let cfg = DockerConfig::parse(r#"{"reg:5000":{"auth":"YTpi","email":"x@y"}}"#, "t")
            .expect("parse");
        assert_eq!(cfg.lookup("reg:5000").expect("ok"), basic("a", "b"));
    }

    #[test]
    fn mesos_secret_is_base64_config() {
        let json = r#"{"auths":{"r:1":{"auth":"YTpi"}}}"#;
        let b64 = base64::engine::general_purpose::STANDARD.encode(json);
        let cfg = DockerConfig::from_mesos_secret(&b64).expect("parse");
        assert_eq!(cfg.lookup("r:1").expect("ok"), basic("a", "b"));
        assert!(DockerConfig::from_mesos_secret("%%%").is_err());
    }

    #[test]
    fn bad_auth_field_names_the_entry() {
        let cfg = DockerConfig::parse(r#"{"auths":{"r:1":{"auth":"bm9jb2xvbg=="}}}"#, "cfg.json")
            .expect("parse");
        let e = cfg.lookup("r:1").expect_err("no colon");
        assert!(
            e.to_string().contains("cfg.json") && e.to_string().contains("auths[r:1]"),
            "{e}"
        );
    }
}
