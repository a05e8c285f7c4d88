//! Blob downloads as a stream of chunks that survives broken connections: on a transient error the download
//! resumes with `Range: bytes=<offset>-`; a registry that ignores Range (answers 200) is handled by skipping
//! what we already have. Never more than the descriptor's size is accepted. Foreign layers (descriptor `urls`)
//! are fetched without credentials.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::{Response, StatusCode, Url};

use crate::client::{Get, RegistryClient};
use crate::error::{Error, Result};
use crate::manifest::Descriptor;

/// How many times one blob download may resume after a transient failure.
const MAX_RESUMES: u32 = 8;

pub struct BlobSource {
    client: Arc<RegistryClient>,
    repo: String,
    desc: Descriptor,
    foreign: Option<Url>,
    offset: u64,
    skip: u64,
    resp: Option<Response>,
    resumes: u32,
}

impl BlobSource {
    pub fn new(client: Arc<RegistryClient>, repo: &str, desc: &Descriptor) -> BlobSource {
        BlobSource {
            client,
            repo: repo.to_string(),
            desc: desc.clone(),
            foreign: None,
            offset: 0,
            skip: 0,
            resp: None,
            resumes: 0,
        }
    }

    /// Bytes delivered so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The response to read from next; `None` when there is nothing more to read.
    async fn open(&mut self) -> Result<Option<Response>> {
        let resp = match &self.foreign {
            Some(url) => self.client.get_unauthenticated(url, self.offset).await?,
            None => {
                let g = Get {
                    path: format!("/v2/{}/blobs/{}", self.repo, self.desc.digest),
                    scope: format!("repository:{}:pull", self.repo),
                    accept: &[],
                    range_from: Some(self.offset),
                };
                match self.client.get(&g).await {
                    Err(Error::NotFound { .. })
                        if self.offset == 0 && self.foreign_url().is_some() =>
                    {
                        self.foreign = self.foreign_url();
                        return Box::pin(self.open()).await;
                    }
                    // Without the opt-in, say what would have fetched it.
                    Err(Error::NotFound { .. })
                        if self.offset == 0
                            && !self.client.foreign_layers()
                            && !self.desc.urls.is_empty() =>
                    {
                        return Err(Error::ForeignLayer {
                            digest: self.desc.digest.to_string(),
                            url: self.desc.urls.join(", "),
                        });
                    }
                    // Nothing after `offset`: the blob is shorter than declared; the size check says so.
                    Err(Error::Http { status: 416, .. }) if self.offset > 0 => return Ok(None),
                    other => other?,
                }
            }
        };
        // 206: the registry resumed where we asked; 200: it sent everything again, skip what we have.
        self.skip = if resp.status() == StatusCode::PARTIAL_CONTENT {
            0
        } else {
            self.offset
        };
        Ok(Some(resp))
    }

    fn foreign_url(&self) -> Option<Url> {
        if !self.client.foreign_layers() {
            return None;
        }
        self.desc
            .urls
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .find(|u| u.scheme() == "https" || u.scheme() == "http")
    }

    /// The next chunk, `None` at the end of the blob.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        loop {
            if self.resp.is_none() {
                match self.open().await? {
                    Some(r) => self.resp = Some(r),
                    None => return Ok(None),
                }
            }
            let Some(resp) = self.resp.as_mut() else {
                continue;
            };
            match resp.chunk().await {
                Ok(Some(mut c)) => {
                    if self.skip > 0 {
                        let n = (self.skip as usize).min(c.len());
                        self.skip -= n as u64;
                        c = c.slice(n..);
                        if c.is_empty() {
                            continue;
                        }
                    }
                    self.offset += c.len() as u64;
                    if self.offset > self.desc.size {
                        return Err(Error::Verify {
                            what: "layer blob",
                            digest: self.desc.digest.to_string(),
                            why: format!(
                                "registry sent more than the {} bytes the manifest declares",
                                self.desc.size
                            ),
                        });
                    }
                    return Ok(Some(c));
                }
                Ok(None) => {
                    if self.offset < self.desc.size && self.resumes < MAX_RESUMES {
                        // The connection closed early without an error: resume like after a reset.
                        self.resumes += 1;
                        self.resp = None;
                        continue;
                    }
                    return Ok(None);
                }
                Err(e) => {
                    let url = crate::auth::session::redact_url(resp.url());
                    if self.resumes >= MAX_RESUMES {
                        return Err(if e.is_timeout() {
                            Error::Stalled {
                                url,
                                secs: self.client.stall_timeout().as_secs(),
                            }
                        } else {
                            Error::Transport {
                                url,
                                why: crate::tls::error_chain(&e),
                            }
                        });
                    }
                    self.resumes += 1;
                    tracing::warn!(digest = %self.desc.digest, offset = self.offset, error = %crate::tls::error_chain(&e),
                        "blob download broke; resuming");
                    self.resp = None;
                    tokio::time::sleep(std::time::Duration::from_millis(
                        100 * u64::from(self.resumes),
                    ))
                    .await;
                }
            }
        }
    }
}
