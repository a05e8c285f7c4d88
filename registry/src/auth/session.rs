//! The per-registry authentication session: learns the registry's scheme from its challenges, fetches Bearer
//! tokens (GET with Basic credentials, or the OAuth2 refresh-token POST for Docker identity tokens), caches them
//! per scope until they expire, and falls back to pre-emptive Basic for registries that answer 403 without a
//! challenge. Rejected credentials are an error naming the registry; there is never a silent anonymous retry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

use super::challenge::{self, Challenge};
use super::credential::Credential;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// Tokens issued without `expires_in` live 60 s (the distribution spec's default).
const DEFAULT_TOKEN_SECS: u64 = 60;
const MAX_TOKEN_RESPONSE: usize = 1 << 20;

pub struct Session {
    registry: String,
    credential: Option<Credential>,
    /// Where the credential came from, for messages.
    source: String,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    scheme: Option<Scheme>,
    tokens: HashMap<String, (Secret, Instant)>,
    token_requests: u64,
}

#[derive(Clone)]
enum Scheme {
    Basic,
    Bearer,
}

#[derive(Deserialize)]
struct TokenReply {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Session {
    pub fn new(registry: &str, credential: Option<(Credential, String)>) -> Session {
        let (credential, source) = match credential {
            Some((c, s)) => (Some(c), s),
            None => (None, String::new()),
        };
        Session {
            registry: registry.to_string(),
            credential,
            source,
            state: Mutex::new(State::default()),
        }
    }

    pub fn has_credential(&self) -> bool {
        self.credential.is_some()
    }

    /// Where the credential came from (empty without one).
    pub fn credential_source(&self) -> &str {
        &self.source
    }

    /// How many token requests this session made (tests assert the cache works).
    pub fn token_requests(&self) -> u64 {
        self.lock().token_requests
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map inconsistent; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `Authorization` value to send for `scope` when we already know how to authenticate.
    pub fn header_for(&self, scope: &str) -> Option<Secret> {
        let st = self.lock();
        match st.scheme.as_ref()? {
            Scheme::Basic => self.basic_header(),
            Scheme::Bearer => {
                if let Some(Credential::RegistryToken(t)) = &self.credential {
                    return Some(Secret::new(format!("Bearer {}", t.expose())));
                }
                let (tok, exp) = st.tokens.get(scope)?;
                (Instant::now() < *exp).then(|| Secret::new(format!("Bearer {}", tok.expose())))
            }
        }
    }

    fn basic_header(&self) -> Option<Secret> {
        match &self.credential {
            Some(Credential::Basic { username, password }) => {
                let raw = format!("{username}:{}", password.expose());
                Some(Secret::new(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )))
            }
            _ => None,
        }
    }

    /// A request for `scope` got 401 (`sent` = whether it carried credentials). Returns the header to retry
    /// with, or the authentication error to report.
    pub async fn on_unauthorized(
        &self,
        http: &reqwest::Client,
        www_authenticate: Option<&str>,
        scope: &str,
        sent: bool,
    ) -> Result<Secret> {
        let ch = www_authenticate.and_then(challenge::parse);
        match ch {
            Some(Challenge::Basic) => {
                self.lock().scheme = Some(Scheme::Basic);
                if sent {
                    return Err(self.rejected("the registry rejected the credentials"));
                }
                self.basic_header().ok_or_else(|| self.no_credentials())
            }
            Some(Challenge::Bearer {
                realm,
                service,
                scope: ch_scope,
            }) => {
                if sent {
                    return Err(self.rejected("the registry rejected the token it was given"));
                }
                self.lock().scheme = Some(Scheme::Bearer);
                if let Some(Credential::RegistryToken(t)) = &self.credential {
                    return Ok(Secret::new(format!("Bearer {}", t.expose())));
                }
                // Mesos fails when the challenge has no scope; we ask for the scope of the request instead, as
                // docker and containerd do, and leave `service` out when the registry did not name one.
                let scope_q = ch_scope.unwrap_or_else(|| scope.to_string());
                let token = self
                    .fetch_token(http, &realm, service.as_deref(), &scope_q)
                    .await?;
                let header = Secret::new(format!("Bearer {}", token.0.expose()));
                self.lock().tokens.insert(scope.to_string(), token);
                Ok(header)
            }
            None => match www_authenticate {
                Some(h) => Err(Error::Auth {
                    registry: self.registry.clone(),
                    why: format!(
                        "unsupported challenge `{}`",
                        h.chars().take(80).collect::<String>()
                    ),
                }),
                None => Err(Error::Auth {
                    registry: self.registry.clone(),
                    why: "HTTP 401 without a WWW-Authenticate challenge".into(),
                }),
            },
        }
    }

    /// A request got 403 without credentials: some registries (and proxies in front of them) never challenge
    /// and expect Basic up front. Returns the pre-emptive Basic header when we have Basic credentials.
    pub fn on_forbidden(&self, sent: bool) -> Option<Secret> {
        if sent {
            return None;
        }
        let h = self.basic_header()?;
        self.lock().scheme = Some(Scheme::Basic);
        Some(h)
    }

    async fn fetch_token(
        &self,
        http: &reqwest::Client,
        realm: &str,
        service: Option<&str>,
        scope: &str,
    ) -> Result<(Secret, Instant)> {
        self.lock().token_requests += 1;
        let url = reqwest::Url::parse(realm).map_err(|e| Error::Auth {
            registry: self.registry.clone(),
            why: format!("token realm `{realm}` is not a URL: {e}"),
        })?;
        let req = match &self.credential {
            Some(Credential::IdentityToken(refresh)) => {
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("client_id", "ucr"),
                    ("refresh_token", refresh.expose()),
                    ("scope", scope),
                ];
                if let Some(s) = service {
                    form.push(("service", s));
                }
                http.post(url.clone()).form(&form)
            }
            cred => {
                let mut q = vec![("scope", scope)];
                if let Some(s) = service {
                    q.push(("service", s));
                }
                let mut r = http.get(url.clone()).query(&q);
                if let Some(Credential::Basic { username, password }) = cred {
                    r = r.basic_auth(username, Some(password.expose()));
                }
                r
            }
        };
        let realm_shown = redact_url(&url);
        let fail = |why: String| Error::Auth {
            registry: self.registry.clone(),
            why: format!("token server {realm_shown}: {why}"),
        };
        let resp = req
            .send()
            .await
            .map_err(|e| fail(crate::tls::error_chain(&e)))?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(if self.credential.is_some() {
                fail(format!(
                    "rejected the credentials (HTTP {})",
                    status.as_u16()
                ))
            } else {
                self.no_credentials()
            });
        }
        if !status.is_success() {
            return Err(fail(format!("answered HTTP {}", status.as_u16())));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| fail(crate::tls::error_chain(&e)))?;
        if body.len() > MAX_TOKEN_RESPONSE {
            return Err(Error::TooLarge {
                what: "token response",
                url: redact_url(&url),
                limit: MAX_TOKEN_RESPONSE as u64,
            });
        }
        let reply: TokenReply =
            serde_json::from_slice(&body).map_err(|e| fail(format!("unreadable reply: {e}")))?;
        let token = reply
            .token
            .filter(|t| !t.is_empty())
            .or(reply.access_token)
            .filter(|t| !t.is_empty());
        let token =
            token.ok_or_else(|| fail("reply has neither `token` nor `access_token`".into()))?;
        // Renew a little early so a token never expires in flight.
        let secs = reply
            .expires_in
            .unwrap_or(DEFAULT_TOKEN_SECS)
            .max(DEFAULT_TOKEN_SECS);
        let expiry = Instant::now() + Duration::from_secs(secs) - Duration::from_secs(secs / 10);
        Ok((Secret::new(token), expiry))
    }

    /// HTTP 401 to a request that carried credentials (or a token made from them).
    pub fn rejected(&self, why: &str) -> Error {
        Error::Auth {
            registry: self.registry.clone(),
            why: match self.source.as_str() {
                "" => format!("{why} (HTTP 401)"),
                from => format!("{why} (HTTP 401; the credentials are from {from})"),
            },
        }
    }

    fn no_credentials(&self) -> Error {
        Error::Auth {
            registry: self.registry.clone(),
            why: "the registry requires credentials and none were found (HTTP 401; use --creds, \
                  --docker-config or a docker config.json)"
                .into(),
        }
    }
}

/// URLs in messages never carry userinfo or query strings (a query may hold a signed token).
pub fn redact_url(u: &reqwest::Url) -> String {
    let mut u = u.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.to_string()
}
