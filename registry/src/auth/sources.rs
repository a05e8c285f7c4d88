//! `Credentials`: where credentials come from, in order: `--creds` for the image's registry, a Mesos
//! per-image `config` secret, then a Docker `config.json` / legacy `.dockercfg`.

use std::path::PathBuf;

use super::credential::Credential;
use super::dockercfg::DockerConfig;
use crate::error::Result;

/// All the places credentials may come from, queried per registry.
#[derive(Default, Debug, Clone)]
pub struct Credentials {
    /// `--creds USER:PASS`: applies to the registry of the image named on the command line.
    pub explicit: Option<(String, Credential)>,
    /// Per-image configs (Mesos `image.docker.config`), consulted before the global one.
    pub per_image: Vec<DockerConfig>,
    /// The agent-wide / user Docker config.
    pub docker_config: Option<DockerConfig>,
}

impl Credentials {
    /// The default Docker config location, as docker's: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`,
    /// else the legacy `~/.dockercfg`. Absent files are not an error; unreadable or malformed ones are.
    pub fn load_default_docker_config() -> Result<Option<DockerConfig>> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
            candidates.push(PathBuf::from(dir).join("config.json"));
        }
        if let Some(home) = std::env::var_os("HOME") {
            candidates.push(PathBuf::from(&home).join(".docker/config.json"));
            candidates.push(PathBuf::from(&home).join(".dockercfg"));
        }
        for path in candidates {
            if path.exists() {
                return DockerConfig::from_file(&path).map(Some);
            }
        }
        Ok(None)
    }

    /// The credential to present to `registry` (canonical name, e.g. `docker.io` or `reg:5443`), if any.
    pub fn lookup(&self, registry: &str) -> Result<Option<Credential>> {
        Ok(self.lookup_with_source(registry)?.map(|(c, _)| c))
    }

    /// [`Credentials::lookup`], with where the credential came from (`--creds`, a config file's path, `image
    /// config`), for messages that must say which source a registry refused.
    pub fn lookup_with_source(&self, registry: &str) -> Result<Option<(Credential, String)>> {
        if let Some((reg, cred)) = &self.explicit {
            if reg == registry {
                return Ok(Some((cred.clone(), "--creds".into())));
            }
        }
        for cfg in self.per_image.iter().chain(self.docker_config.iter()) {
            if let Some(c) = cfg.lookup(registry)? {
                return Ok(Some((c, cfg.origin().to_string())));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn explicit_wins_only_for_its_registry() {
        let cfg = DockerConfig::parse(r#"{"auths":{"r:1":{"auth":"YTpi"}}}"#, "test").expect("ok");
        let creds = Credentials {
            explicit: Some((
                "r:1".into(),
                Credential::parse_user_pass("x:y").expect("ok"),
            )),
            per_image: vec![],
            docker_config: Some(cfg),
        };
        let got = creds.lookup("r:1").expect("ok").expect("some");
        assert_eq!(
            got,
            Credential::Basic {
                username: "x".into(),
                password: Secret::new("y")
            }
        );
        assert!(creds.lookup("other").expect("ok").is_none());
    }
}
