//! The distribution client: one `RegistryClient` per registry API host, shared by every pull in the process.
//! It owns the transport (TLS per `tls::TlsOptions`), the auth `Session`, retries with backoff for connection
//! errors and 5xx, the stall timeout, and the https → http fallback that is allowed only for loopback and named
//! insecure registries.
//!
//! Requests go through reqwest rather than `oci_client::Client`: oci-client cannot present a client certificate
//! (`certs.d/*/client.cert`), exchange Docker identity tokens, send pre-emptive Basic on 403, or tell apart a
//! rejected token request from an anonymous one — see the issue note. Its reference grammar is not used either:
//! its regexps cost ~60 ms to compile at every start (reference.rs has the grammar by hand).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, RANGE, WWW_AUTHENTICATE};
pub use reqwest::Url;
use reqwest::{Response, StatusCode};

use crate::auth::session::{redact_url, Session};
use crate::auth::Credentials;
use crate::error::{Error, Result};
use crate::reference::ImageRef;
use crate::tls::{self, TlsFailure, TlsOptions};

#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub tls: TlsOptions,
    pub credentials: Credentials,
    /// Docker Hub mirrors, tried in order before the origin.
    pub mirrors: Vec<Url>,
    pub connect_timeout: Duration,
    /// No byte for this long ends the request (and a blob download resumes where it stopped).
    pub stall_timeout: Duration,
    /// Attempts after the first for connection errors and 5xx.
    pub retries: u32,
    pub backoff: Duration,
    /// Fetch a layer the registry does not have from its descriptor's `urls` (foreign, nondistributable
    /// layers). Off unless asked for: a manifest could otherwise send the client to any host.
    pub foreign_layers: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            tls: TlsOptions::default(),
            credentials: Credentials::default(),
            mirrors: Vec::new(),
            connect_timeout: Duration::from_secs(15),
            stall_timeout: Duration::from_secs(30),
            retries: 4,
            backoff: Duration::from_millis(200),
            foreign_layers: false,
        }
    }
}

/// All registry clients of this process, keyed by (API host, credential registry).
pub struct Registries {
    opts: ClientOptions,
    clients: Mutex<HashMap<String, Arc<RegistryClient>>>,
}

impl Registries {
    pub fn new(opts: ClientOptions) -> Registries {
        Registries {
            opts,
            clients: Mutex::new(HashMap::new()),
        }
    }

    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// The client for the origin registry of `image`.
    pub fn for_image(&self, image: &ImageRef) -> Result<Arc<RegistryClient>> {
        self.client(image.api_host(), image.registry(), "https")
    }

    /// Clients to try for `image`, in order: the mirrors (Docker Hub images only), then the origin.
    pub fn candidates(&self, image: &ImageRef) -> Result<Vec<Arc<RegistryClient>>> {
        let mut out = Vec::new();
        if image.is_docker_hub() {
            for m in &self.opts.mirrors {
                let Some(host) = m.host_str() else { continue };
                let host = match m.port() {
                    Some(p) => format!("{host}:{p}"),
                    None => host.to_string(),
                };
                out.push(self.client(&host, &host, m.scheme())?);
            }
        }
        out.push(self.for_image(image)?);
        Ok(out)
    }

    fn client(&self, host: &str, cred_registry: &str, scheme: &str) -> Result<Arc<RegistryClient>> {
        let key = format!("{scheme}://{host}");
        let mut map = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = map.get(&key) {
            return Ok(c.clone());
        }
        let cred = self.opts.credentials.lookup_with_source(cred_registry)?;
        let c = Arc::new(RegistryClient {
            host: host.to_string(),
            http: self.opts.tls.client_for(
                host,
                self.opts.connect_timeout,
                self.opts.stall_timeout,
            )?,
            plain_ok: scheme == "http" || self.opts.tls.allows_plain_http(host),
            scheme: Mutex::new(if scheme == "http" {
                Scheme::Http
            } else {
                Scheme::Https
            }),
            session: Session::new(cred_registry, cred),
            opts: self.opts.clone(),
        });
        map.insert(key, c.clone());
        Ok(c)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scheme {
    Https,
    Http,
}

pub struct RegistryClient {
    host: String,
    http: reqwest::Client,
    plain_ok: bool,
    scheme: Mutex<Scheme>,
    session: Session,
    opts: ClientOptions,
}

/// What one GET asks for.
pub struct Get<'a> {
    pub path: String,
    pub scope: String,
    pub accept: &'a [&'a str],
    pub range_from: Option<u64>,
}

impl RegistryClient {
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn foreign_layers(&self) -> bool {
        self.opts.foreign_layers
    }

    pub fn stall_timeout(&self) -> Duration {
        self.opts.stall_timeout
    }

    fn url(&self, path: &str) -> Result<Url> {
        let scheme = match *self.scheme.lock().unwrap_or_else(|p| p.into_inner()) {
            Scheme::Https => "https",
            Scheme::Http => "http",
        };
        let s = format!("{scheme}://{}{path}", self.host);
        Url::parse(&s).map_err(|e| Error::Transport {
            url: s,
            why: e.to_string(),
        })
    }

    /// GET with authentication, retries and scheme fallback. Returns a 2xx response or an error that names the
    /// url and what went wrong (404 → NotFound, 401/403 → Auth/Denied, TLS → Tls).
    pub async fn get(&self, g: &Get<'_>) -> Result<Response> {
        let mut attempt = 0;
        loop {
            match self.get_once(g).await {
                Err(e) if e.is_transient() && attempt < self.opts.retries => {
                    attempt += 1;
                    // A 429's Retry-After is the server's own word on when to come back.
                    let wait = match &e {
                        Error::TooManyRequests {
                            retry_after: Some(secs),
                            ..
                        } => Duration::from_secs(*secs),
                        _ => self.opts.backoff * 2u32.saturating_pow(attempt - 1),
                    };
                    tracing::warn!(error = %e, attempt, "retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                }
                other => return other,
            }
        }
    }

    async fn get_once(&self, g: &Get<'_>) -> Result<Response> {
        let mut auth = self.session.header_for(&g.scope);
        let mut challenged = false;
        loop {
            let url = self.url(&g.path)?;
            let resp = match self.send(&url, g, auth.as_ref()).await {
                Ok(r) => r,
                Err(e) => match tls::classify(&e) {
                    TlsFailure::NotTls if self.plain_ok && url.scheme() == "https" => {
                        tracing::info!(host = %self.host, "registry does not speak TLS; using plain HTTP");
                        *self.scheme.lock().unwrap_or_else(|p| p.into_inner()) = Scheme::Http;
                        continue;
                    }
                    TlsFailure::NotTls if url.scheme() == "https" => {
                        return Err(Error::InsecureRefused {
                            registry: self.host.clone(),
                        });
                    }
                    TlsFailure::Untrusted(chain) => {
                        return Err(Error::Tls {
                            registry: self.host.clone(),
                            why: format!(
                                "certificate not trusted ({}); trust its CA with --ca-file or certs.d/{}/ca.crt, \
                                 or name it with --insecure-registry",
                                short_cert_reason(&chain),
                                self.host
                            ),
                        });
                    }
                    _ => return Err(transport_error(&url, &e)),
                },
            };
            let status = resp.status();
            if status.is_success() {
                return Ok(resp);
            }
            let sent = auth.is_some();
            match status {
                StatusCode::UNAUTHORIZED if !challenged => {
                    challenged = true;
                    let h = resp
                        .headers()
                        .get(WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok());
                    auth = Some(
                        self.session
                            .on_unauthorized(&self.http, h, &g.scope, sent)
                            .await?,
                    );
                }
                StatusCode::UNAUTHORIZED => {
                    return Err(self
                        .session
                        .rejected("the registry rejected the credentials"));
                }
                StatusCode::FORBIDDEN if !challenged && !sent => {
                    match self.session.on_forbidden(sent) {
                        Some(h) => {
                            challenged = true;
                            auth = Some(h);
                        }
                        None => return Err(self.denied(&url, status)),
                    }
                }
                StatusCode::FORBIDDEN => return Err(self.denied(&url, status)),
                StatusCode::NOT_FOUND => {
                    let what = error_summary(resp).await;
                    let what = if what.is_empty() {
                        what
                    } else {
                        format!(": {what}")
                    };
                    return Err(Error::NotFound {
                        url: redact_url(&url),
                        what,
                    });
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    return Err(Error::TooManyRequests {
                        url: redact_url(&url),
                        retry_after,
                    });
                }
                _ => {
                    let body = error_summary(resp).await;
                    return Err(Error::Http {
                        url: redact_url(&url),
                        status: status.as_u16(),
                        body,
                    });
                }
            }
        }
    }

    async fn send(
        &self,
        url: &Url,
        g: &Get<'_>,
        auth: Option<&crate::secret::Secret>,
    ) -> std::result::Result<Response, reqwest::Error> {
        let mut headers = HeaderMap::new();
        if !g.accept.is_empty() {
            if let Ok(v) = g.accept.join(", ").parse() {
                headers.insert(ACCEPT, v);
            }
        }
        if let Some(off) = g.range_from.filter(|o| *o > 0) {
            if let Ok(v) = format!("bytes={off}-").parse() {
                headers.insert(RANGE, v);
            }
        }
        if let Some(a) = auth {
            if let Ok(mut v) = reqwest::header::HeaderValue::from_str(a.expose()) {
                v.set_sensitive(true);
                headers.insert(AUTHORIZATION, v);
            }
        }
        // reqwest strips Authorization when a redirect leaves the origin (host, port or scheme differ).
        self.http.get(url.clone()).headers(headers).send().await
    }

    /// GET of a URL outside the registry (foreign layers): never with credentials.
    pub async fn get_unauthenticated(&self, url: &Url, range_from: u64) -> Result<Response> {
        let mut req = self.http.get(url.clone());
        if range_from > 0 {
            req = req.header(RANGE, format!("bytes={range_from}-"));
        }
        let resp = req.send().await.map_err(|e| transport_error(url, &e))?;
        if !resp.status().is_success() {
            return Err(Error::Http {
                url: redact_url(url),
                status: resp.status().as_u16(),
                body: error_summary(resp).await,
            });
        }
        Ok(resp)
    }

    fn denied(&self, url: &Url, status: StatusCode) -> Error {
        if self.session.has_credential() {
            Error::Denied {
                registry: self.host.clone(),
                url: redact_url(url),
                status: status.as_u16(),
                source_name: self.session.credential_source().to_string(),
            }
        } else {
            Error::Auth {
                registry: self.host.clone(),
                why: format!(
                    "access to {} denied (HTTP {}) and no credentials were found for it",
                    redact_url(url),
                    status.as_u16()
                ),
            }
        }
    }
}

fn transport_error(url: &Url, e: &reqwest::Error) -> Error {
    let why = tls::error_chain(e);
    if e.is_redirect() {
        return Error::Redirects {
            url: redact_url(url),
        };
    }
    if tls::is_name_resolution(&why) {
        return Error::Resolve {
            host: url.host_str().unwrap_or_default().to_string(),
        };
    }
    Error::Transport {
        url: redact_url(url),
        why,
    }
}

fn short_cert_reason(chain: &str) -> &str {
    for r in [
        "UnknownIssuer",
        "NotValidForName",
        "Expired",
        "BadSignature",
        "NotValidYet",
        "Revoked",
    ] {
        if chain.contains(r) {
            return r;
        }
    }
    "invalid certificate"
}

/// The registry's error JSON (`{"errors":[{"code","message"}]}`), shortened for one error line.
async fn error_summary(resp: Response) -> String {
    let bytes = resp.bytes().await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_string();
    #[derive(serde::Deserialize)]
    struct Errs {
        errors: Vec<E>,
    }
    #[derive(serde::Deserialize)]
    struct E {
        code: Option<String>,
        message: Option<String>,
    }
    match serde_json::from_slice::<Errs>(&bytes) {
        Ok(e) if !e.errors.is_empty() => e
            .errors
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.code.as_deref().unwrap_or("?"),
                    e.message.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => text.lines().next().unwrap_or("").to_string(),
    }
}
