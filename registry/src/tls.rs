//! Trust and transport per registry: one `reqwest::Client` per registry host, built from
//! - the system roots plus every `--ca-file` bundle (DC/OS-style `cacert.pem` is a bundle),
//! - `certs.d/<host[:port]>/`: `*.crt` as extra CAs, `client.cert`/`client.key` (or any `X.cert` + `X.key` pair)
//!   as the client identity, docker's layout,
//! - `--insecure-registry HOST[:PORT]`: certificate checks off for that host only.
//!
//! rustls with the `ring` provider; verification is on unless the host is named insecure.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct TlsOptions {
    pub ca_files: Vec<PathBuf>,
    pub certs_dirs: Vec<PathBuf>,
    pub insecure: Vec<String>,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            ca_files: Vec::new(),
            certs_dirs: vec![
                PathBuf::from("/etc/ucr/certs.d"),
                PathBuf::from("/etc/docker/certs.d"),
            ],
            insecure: Vec::new(),
        }
    }
}

/// Installs ring as rustls' process-wide provider (we build without aws-lc). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl TlsOptions {
    /// `--insecure-registry` names the registry exactly (`host` or `host:port`); `host` alone covers every port.
    pub fn is_insecure(&self, host: &str) -> bool {
        let bare = host_without_port(host);
        self.insecure
            .iter()
            .any(|i| i == host || (i == bare && !i.contains(':')))
    }

    /// Plain HTTP is allowed for loopback names and for registries named insecure, never otherwise.
    pub fn allows_plain_http(&self, host: &str) -> bool {
        let bare = host_without_port(host);
        bare == "localhost" || bare.starts_with("127.") || bare == "[::1]" || self.is_insecure(host)
    }

    /// The HTTP client for `host` (the API host, `name[:port]`).
    pub fn client_for(
        &self,
        host: &str,
        connect_timeout: Duration,
        stall: Duration,
    ) -> Result<reqwest::Client> {
        self.client_for_with(
            host,
            connect_timeout,
            stall,
            reqwest::redirect::Policy::default(),
        )
    }

    /// [`TlsOptions::client_for`] with its own redirect policy (the AppC fetches refuse https → http).
    pub fn client_for_with(
        &self,
        host: &str,
        connect_timeout: Duration,
        stall: Duration,
        redirects: reqwest::redirect::Policy,
    ) -> Result<reqwest::Client> {
        install_crypto_provider();
        let tls_err = |why: String| Error::Tls {
            registry: host.to_string(),
            why,
        };
        let mut b = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            // A read that waits longer than this is a stall; blob downloads resume after it.
            .read_timeout(stall)
            .user_agent(concat!("ucr/", env!("CARGO_PKG_VERSION")))
            .redirect(redirects)
            .pool_max_idle_per_host(8);
        let mut extra = Vec::new();
        for f in &self.ca_files {
            extra.extend(read_pem_bundle(f, host)?);
        }
        if let Some(dir) = self.certs_dir_for(host) {
            let (cas, identity) = read_certs_d(&dir, host)?;
            extra.extend(cas);
            if let Some(id) = identity {
                b = b.identity(id);
            }
        }
        if !extra.is_empty() {
            b = b.tls_certs_merge(extra);
        }
        if self.is_insecure(host) {
            b = b
                .tls_danger_accept_invalid_certs(true)
                .tls_danger_accept_invalid_hostnames(true);
        }
        b.build().map_err(|e| {
            tls_err(format!(
                "cannot build the HTTPS client: {}",
                error_chain(&e)
            ))
        })
    }

    fn certs_dir_for(&self, host: &str) -> Option<PathBuf> {
        self.certs_dirs
            .iter()
            .map(|d| d.join(host))
            .find(|d| d.is_dir())
    }
}

fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map(|(h, _)| &host[..h.len() + 1])
            .unwrap_or(host);
    }
    host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
}

fn read_pem_bundle(path: &Path, host: &str) -> Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Tls {
        registry: host.to_string(),
        why: format!("{}: not a PEM certificate bundle: {e}", path.display()),
    })?;
    if certs.is_empty() {
        return Err(Error::Tls {
            registry: host.to_string(),
            why: format!("{}: contains no PEM certificate", path.display()),
        });
    }
    Ok(certs)
}

/// docker's certs.d rules: every `*.crt` is a CA; `X.cert` with `X.key` is the client identity.
fn read_certs_d(
    dir: &Path,
    host: &str,
) -> Result<(Vec<reqwest::Certificate>, Option<reqwest::Identity>)> {
    let mut cas = Vec::new();
    let mut identity = None;
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for path in names {
        match path.extension().and_then(|e| e.to_str()) {
            Some("crt") => cas.extend(read_pem_bundle(&path, host)?),
            Some("cert") => {
                let key = path.with_extension("key");
                let mut pem = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                let key_pem = std::fs::read(&key).map_err(|e| Error::Tls {
                    registry: host.to_string(),
                    why: format!(
                        "client certificate {} has no key {}: {e}",
                        path.display(),
                        key.display()
                    ),
                })?;
                pem.push(b'\n');
                pem.extend_from_slice(&key_pem);
                identity = Some(reqwest::Identity::from_pem(&pem).map_err(|e| Error::Tls {
                    registry: host.to_string(),
                    why: format!("client certificate {}: {e}", path.display()),
                })?);
            }
            _ => {}
        }
    }
    Ok((cas, identity))
}

/// The whole source chain of an error on one line: reqwest hides the TLS cause several levels down.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

/// Whether a connection failed because the host name does not resolve (getaddrinfo, as hyper reports it):
/// asking again four times will not make it resolve.
pub fn is_name_resolution(chain: &str) -> bool {
    chain.contains("dns error") || chain.contains("failed to lookup address")
}

/// What a failed connection says about TLS: the peer's certificate was refused, or it does not speak TLS.
#[derive(Debug, PartialEq, Eq)]
pub enum TlsFailure {
    Untrusted(String),
    NotTls,
    Other,
}

pub fn classify(e: &reqwest::Error) -> TlsFailure {
    let chain = error_chain(e);
    if chain.contains("invalid peer certificate")
        || chain.contains("certificate") && chain.contains("Unknown")
    {
        TlsFailure::Untrusted(chain)
    } else if chain.contains("InvalidContentType") || chain.contains("corrupt message") {
        TlsFailure::NotTls
    } else {
        TlsFailure::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_is_per_registry() {
        let o = TlsOptions {
            insecure: vec!["reg:5000".into(), "plain".into()],
            ..TlsOptions::default()
        };
        assert!(o.is_insecure("reg:5000"));
        assert!(!o.is_insecure("reg:5001"));
        assert!(!o.is_insecure("reg"));
        assert!(o.is_insecure("plain:443"));
        assert!(o.is_insecure("plain"));
        assert!(!o.is_insecure("other"));
        assert!(o.allows_plain_http("localhost:5000"));
        assert!(o.allows_plain_http("127.0.0.1:1"));
        assert!(!o.allows_plain_http("example.com:5000"));
        assert!(!TlsOptions::default().allows_plain_http("reg:5000"));
    }
}
