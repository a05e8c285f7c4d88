//! Registry options as every front end takes them (`--creds`, `--docker-config`, `--ca-file`, `--certs-dir`,
//! `--insecure-registry`, `--registry-mirror`), and the client options they make for one image.

use std::fmt;
use std::path::PathBuf;

use ucr_registry::auth::dockercfg::DockerConfig;
use ucr_registry::auth::{Credential, Credentials};
use ucr_registry::client::{ClientOptions, Url};
use ucr_registry::tls::TlsOptions;
use ucr_registry::{ImageRef, Result};

/// Registry-related options, as the CLI and the agent take them. `Debug` never shows a credential.
#[derive(Clone, Default)]
pub struct RegistryOptions {
    /// A docker config.json (or legacy .dockercfg) path, or its JSON inline.
    pub docker_config: Option<String>,
    /// `USER:PASS` for the registry of the image named on the command line.
    pub creds: Option<String>,
    pub ca_files: Vec<PathBuf>,
    pub certs_dirs: Vec<PathBuf>,
    pub insecure: Vec<String>,
    pub mirrors: Vec<String>,
    /// A launch request's own docker config.json (Mesos `docker.config`, Marathon `pullConfig`, a
    /// `docker.credential`, a fetched `.docker/config.json`): consulted before `docker_config`, and named in
    /// errors by the second field.
    pub request_docker_config: Option<(String, String)>,
    /// `--stall-timeout`: no byte for this long ends a request (a blob download resumes); also bounds connecting.
    pub stall_timeout: Option<std::time::Duration>,
    /// `--pull-timeout`: a registry pull that has not finished by then fails.
    pub pull_timeout: Option<std::time::Duration>,
    /// `--foreign-layers`: layers may come from their descriptors' `urls`.
    pub foreign_layers: bool,
}

impl fmt::Debug for RegistryOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("RegistryOptions")
            .field("docker_config", &redacted(&self.docker_config))
            .field("creds", &redacted(&self.creds))
            .field("ca_files", &self.ca_files)
            .field("certs_dirs", &self.certs_dirs)
            .field("insecure", &self.insecure)
            .field("mirrors", &self.mirrors)
            .field("stall_timeout", &self.stall_timeout)
            .field("pull_timeout", &self.pull_timeout)
            .field("foreign_layers", &self.foreign_layers)
            .field(
                "request_docker_config",
                &self.request_docker_config.as_ref().map(|(_, from)| from),
            )
            .finish()
    }
}

impl RegistryOptions {
    /// The trust these options give (`--ca-file`, `--certs-dir`, `--insecure-registry`): the registries' and
    /// the fetcher's.
    pub fn tls(&self) -> TlsOptions {
        let mut tls = TlsOptions {
            ca_files: self.ca_files.clone(),
            insecure: self.insecure.clone(),
            ..TlsOptions::default()
        };
        if !self.certs_dirs.is_empty() {
            tls.certs_dirs = self.certs_dirs.clone();
        }
        tls
    }

    /// `image` is the image named on the command line: `--creds` applies to its registry only.
    pub fn client_options(&self, image: Option<&ImageRef>) -> Result<ClientOptions> {
        let mut credentials = Credentials::default();
        if let (Some(c), Some(img)) = (&self.creds, image) {
            credentials.explicit =
                Some((img.registry().to_string(), Credential::parse_user_pass(c)?));
        }
        if let Some((json, from)) = &self.request_docker_config {
            credentials.per_image.push(DockerConfig::parse(json, from)?);
        }
        credentials.docker_config = match &self.docker_config {
            Some(v) => Some(DockerConfig::from_flag(v)?),
            None => Credentials::load_default_docker_config()?,
        };
        let tls = self.tls();
        let mut mirrors = Vec::new();
        for m in &self.mirrors {
            let with_scheme = if m.contains("://") {
                m.clone()
            } else {
                format!("https://{m}")
            };
            let url = Url::parse(&with_scheme).map_err(|e| ucr_registry::Error::Reference {
                reference: with_scheme.clone(),
                why: format!("--registry-mirror: {e}"),
            })?;
            mirrors.push(url);
        }
        let mut opts = ClientOptions {
            tls,
            credentials,
            mirrors,
            foreign_layers: self.foreign_layers,
            ..ClientOptions::default()
        };
        if let Some(stall) = self.stall_timeout {
            opts.stall_timeout = stall;
            opts.connect_timeout = opts.connect_timeout.min(stall);
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_credentials() {
        let o = RegistryOptions {
            creds: Some("alice:hunter2".into()),
            docker_config: Some(r#"{"auths":{"r":{"auth":"c2VjcmV0"}}}"#.into()),
            ..RegistryOptions::default()
        };
        let d = format!("{o:?}");
        assert!(!d.contains("hunter2") && !d.contains("c2VjcmV0"), "{d}");
    }
}
