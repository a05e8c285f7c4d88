//! Building the image side of ucr (store + registry clients + puller) from user-facing options, shared by the
//! CLI and, later, the agent.

use std::path::PathBuf;
use std::sync::Arc;

use ucr_registry::auth::dockercfg::DockerConfig;
use ucr_registry::auth::{Credential, Credentials};
use ucr_registry::client::{ClientOptions, Registries};
use ucr_registry::pull::Puller;
use ucr_registry::store::Store;
use ucr_registry::tls::TlsOptions;
use ucr_registry::{ImageRef, Result};

/// Registry-related options, as the CLI and the agent take them.
#[derive(Clone, Debug, Default)]
pub struct RegistryOptions {
    pub docker_config: Option<String>,
    pub creds: Option<String>,
    pub ca_files: Vec<PathBuf>,
    pub certs_dirs: Vec<PathBuf>,
    pub insecure: Vec<String>,
    pub mirrors: Vec<String>,
}

impl RegistryOptions {
    /// `image` is the image named on the command line: `--creds` applies to its registry only.
    pub fn client_options(&self, image: Option<&ImageRef>) -> Result<ClientOptions> {
        let mut credentials = Credentials::default();
        if let (Some(c), Some(img)) = (&self.creds, image) {
            credentials.explicit =
                Some((img.registry().to_string(), Credential::parse_user_pass(c)?));
        }
        credentials.docker_config = match &self.docker_config {
            Some(v) => Some(DockerConfig::from_flag(v)?),
            None => Credentials::load_default_docker_config()?,
        };
        let mut tls = TlsOptions {
            ca_files: self.ca_files.clone(),
            insecure: self.insecure.clone(),
            ..TlsOptions::default()
        };
        if !self.certs_dirs.is_empty() {
            tls.certs_dirs = self.certs_dirs.clone();
        }
        let mut mirrors = Vec::new();
        for m in &self.mirrors {
            let with_scheme = if m.contains("://") {
                m.clone()
            } else {
                format!("https://{m}")
            };
            let url = url_parse(&with_scheme)?;
            mirrors.push(url);
        }
        Ok(ClientOptions {
            tls,
            credentials,
            mirrors,
            ..ClientOptions::default()
        })
    }
}

fn url_parse(s: &str) -> Result<reqwest_url::Url> {
    reqwest_url::Url::parse(s).map_err(|e| ucr_registry::Error::Reference {
        reference: s.to_string(),
        why: format!("--registry-mirror: {e}"),
    })
}

/// Re-exported URL type of the registry client (keeps one `url` crate in the tree).
mod reqwest_url {
    pub use ucr_registry::client::Url;
}

pub fn open_store(dir: PathBuf) -> Result<Arc<Store>> {
    Ok(Arc::new(Store::open(dir)?))
}

pub fn puller(store: Arc<Store>, opts: ClientOptions) -> Puller {
    Puller::new(store, Arc::new(Registries::new(opts)))
}
