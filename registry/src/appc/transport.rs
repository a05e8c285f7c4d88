//! Fetching what AppC needs — ACIs, their signatures, discovery pages and keys — over HTTPS, plain HTTP or
//! from local files, with the registries' trust (`--ca-file`, `certs.d`, `--insecure-registry`): one
//! `reqwest::Client` per `host[:port]`, built by `TlsOptions::client_for`.
//!
//! Plain HTTP is only used where `TlsOptions::allows_plain_http` says (loopback, or a host named insecure),
//! and that is checked before any connection, for the first URL and for every redirect: an `https` URL that
//! redirects to `http` is refused the same way, so a MITM on a redirect cannot downgrade a fetch.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::{redirect, StatusCode};
use url::Url;

use crate::error::{Error, Result};
use crate::tls::{self, TlsFailure, TlsOptions};

/// Where an ACI, its signature or a discovery page is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Url(Url),
    File(PathBuf),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Url(u) => write!(f, "{u}"),
            Location::File(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Debug)]
pub enum Fetched {
    Http(reqwest::Response),
    File(std::fs::File),
}

pub struct Transport {
    tls: TlsOptions,
    stall: Duration,
    clients: Mutex<HashMap<String, reqwest::Client>>,
}

const MAX_REDIRECTS: usize = 10;

/// `host` or `host:port` as the URL names it: what `--insecure-registry` and `certs.d` are keyed by.
pub fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

impl Transport {
    pub fn new(tls: TlsOptions, stall: Duration) -> Transport {
        Transport {
            tls,
            stall,
            clients: Mutex::new(HashMap::new()),
        }
    }

    pub fn tls(&self) -> &TlsOptions {
        &self.tls
    }

    fn client(&self, host: &str) -> Result<reqwest::Client> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(host) {
            return Ok(c.clone());
        }
        let c = self.tls.client_for_with(
            host,
            Duration::from_secs(30),
            self.stall,
            policy(self.tls.clone()),
        )?;
        clients.insert(host.to_string(), c.clone());
        Ok(c)
    }

    /// Plain http only where allowed; an error naming the host before any connection otherwise.
    fn check_scheme(&self, url: &Url) -> Result<()> {
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.tls.allows_plain_http(&host_of(url)) => Ok(()),
            "http" => Err(Error::InsecureRefused {
                registry: host_of(url),
            }),
            other => Err(Error::Transport {
                url: url.to_string(),
                why: format!("scheme {other} is not fetched (http, https or a local path)"),
            }),
        }
    }

    /// GET: None on HTTP 404/410 or a missing local file.
    pub async fn get(&self, loc: &Location) -> Result<Option<Fetched>> {
        let url = match loc {
            Location::File(p) => {
                return match std::fs::File::open(p) {
                    Ok(f) => Ok(Some(Fetched::File(f))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Error::io(p, e)),
                }
            }
            Location::Url(u) => u,
        };
        self.check_scheme(url)?;
        let host = host_of(url);
        let resp = match self.client(&host)?.get(url.clone()).send().await {
            Ok(r) => r,
            Err(e) => return Err(connect_error(url, &host, &e)),
        };
        match resp.status() {
            s if s.is_success() => Ok(Some(Fetched::Http(resp))),
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(None),
            s => {
                let final_url = resp.url().to_string();
                let body = resp.text().await.unwrap_or_default();
                Err(Error::Http {
                    url: final_url,
                    status: s.as_u16(),
                    body: body
                        .chars()
                        .take(200)
                        .collect::<String>()
                        .trim()
                        .to_string(),
                })
            }
        }
    }

    /// A small document read whole, at most `limit` bytes; None as in [`Transport::get`].
    pub async fn get_small(&self, loc: &Location, limit: u64) -> Result<Option<Vec<u8>>> {
        let too_large = || Error::TooLarge {
            what: "AppC document",
            url: loc.to_string(),
            limit,
        };
        match self.get(loc).await? {
            None => Ok(None),
            Some(Fetched::File(f)) => {
                use std::io::Read;
                let mut out = Vec::new();
                f.take(limit + 1)
                    .read_to_end(&mut out)
                    .map_err(|e| Error::io(loc.to_string(), e))?;
                if out.len() as u64 > limit {
                    return Err(too_large());
                }
                Ok(Some(out))
            }
            Some(Fetched::Http(mut r)) => {
                let mut out = Vec::new();
                loop {
                    match r.chunk().await {
                        Ok(Some(c)) => {
                            out.extend_from_slice(&c);
                            if out.len() as u64 > limit {
                                return Err(too_large());
                            }
                        }
                        Ok(None) => return Ok(Some(out)),
                        Err(e) => {
                            return Err(Error::Transport {
                                url: loc.to_string(),
                                why: tls::error_chain(&e),
                            })
                        }
                    }
                }
            }
        }
    }
}

/// Follows at most [`MAX_REDIRECTS`] redirects, never from https down to a plain http that is not allowed.
fn policy(tls: TlsOptions) -> redirect::Policy {
    redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let url = attempt.url();
        if url.scheme() == "http" && !tls.allows_plain_http(&host_of(url)) {
            let why = format!(
                "redirected to plain http://{}: name it with --insecure-registry to allow it",
                host_of(url)
            );
            return attempt.error(why);
        }
        attempt.follow()
    })
}

fn connect_error(url: &Url, host: &str, e: &reqwest::Error) -> Error {
    if tls::is_name_resolution(&tls::error_chain(e)) {
        return Error::Resolve {
            host: url.host_str().unwrap_or(host).to_string(),
        };
    }
    match tls::classify(e) {
        TlsFailure::Untrusted(chain) => Error::Tls {
            registry: host.to_string(),
            why: format!(
                "certificate not trusted ({chain}); trust its CA with --ca-file or certs.d/{host}/ca.crt"
            ),
        },
        _ => Error::Transport {
            url: url.to_string(),
            why: tls::error_chain(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(insecure: &[&str]) -> Transport {
        Transport::new(
            TlsOptions {
                insecure: insecure.iter().map(|s| s.to_string()).collect(),
                ..TlsOptions::default()
            },
            Duration::from_secs(5),
        )
    }

    fn loc(s: &str) -> Location {
        Location::Url(Url::parse(s).expect("url"))
    }

    #[tokio::test]
    async fn plain_http_is_refused_before_connecting_unless_allowed() {
        // 10.255.255.1 is not routable: a connection attempt would hang, the refusal must come first.
        let e = t(&[])
            .get(&loc("http://10.255.255.1:1/x.aci"))
            .await
            .expect_err("refused");
        assert!(matches!(e, Error::InsecureRefused { .. }), "{e}");
        assert!(e.to_string().contains("10.255.255.1:1"), "{e}");
        let e = t(&[]).get(&loc("ftp://h/x")).await.expect_err("refused");
        assert!(e.to_string().contains("scheme ftp"), "{e}");
        assert!(t(&["10.255.255.1:1"])
            .check_scheme(&Url::parse("http://10.255.255.1:1/").expect("u"))
            .is_ok());
    }

    #[tokio::test]
    async fn files_missing_or_too_large() {
        let d = tempfile::tempdir().expect("dir");
        let p = d.path().join("a.asc");
        assert!(t(&[])
            .get(&Location::File(p.clone()))
            .await
            .expect("ok")
            .is_none());
        std::fs::write(&p, vec![b'x'; 100]).expect("write");
        let got = t(&[])
            .get_small(&Location::File(p.clone()), 100)
            .await
            .expect("ok");
        assert_eq!(got.map(|v| v.len()), Some(100));
        let e = t(&[])
            .get_small(&Location::File(p), 99)
            .await
            .expect_err("too large");
        assert!(
            e.to_string().contains("exceeds the limit of 99 bytes"),
            "{e}"
        );
    }
}
