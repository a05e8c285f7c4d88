//! The fetcher: `CommandInfo.uris` into the sandbox before the task starts (Mesos fetcher semantics). A URI is
//! an http(s) URL, a `file://` URL or a local path; `output_file` names the result, else the URI's last path
//! segment; `extract` unpacks archives (tar in every usual compression, zip, a single .gz; see `extract`) into
//! the sandbox, confined so that a hostile archive cannot write outside it; `executable` sets the mode 0755.
//! Every file is written through the confined resolver from a descriptor of the sandbox, never following a
//! symlink at its name, and a download lands under a temporary name first, so a failed fetch leaves nothing
//! in its place. A URI with `cache: true` is downloaded into the fetcher cache (`cache`) once per user and
//! copied from there.

use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::fs::{Mode, OFlags};
use ucr_registry::confined;
use ucr_registry::tls::TlsOptions;

use crate::container::error::{ContainerError, Result};
use crate::rt;
use crate::spec::UriSpec;

pub mod cache;
pub mod credentials;
pub mod events;
pub mod extract;

pub use cache::CacheOptions;
pub use events::{FetchEvent, FetchObserver, Origin};

/// How downloads are made.
#[derive(Clone)]
pub struct FetchOptions {
    /// The registries' trust (`--ca-file`, certs.d, insecure hosts), for https URIs too.
    pub tls: TlsOptions,
    /// Mesos `--fetcher_stall_timeout`: a download that receives nothing for this long fails.
    pub stall_timeout: Duration,
    /// The fetcher cache, for URIs with `cache: true` (http and https: a local file is copied either way).
    pub cache: Option<CacheOptions>,
    /// The task's user: cache entries are per user, as Mesos keys them.
    pub user: String,
    /// Who hears about progress (a terminal's bar, JSON events, a launch's lines); None: nobody.
    pub observer: Option<std::sync::Arc<dyn FetchObserver>>,
}

impl std::fmt::Debug for FetchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchOptions")
            .field("tls", &self.tls)
            .field("stall_timeout", &self.stall_timeout)
            .field("cache", &self.cache)
            .field("user", &self.user)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

impl FetchOptions {
    fn tell(&self, e: FetchEvent) {
        if let Some(o) = &self.observer {
            o.on(e);
        }
    }
}

/// Mesos's default `--fetcher_stall_timeout`.
pub const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            tls: TlsOptions::default(),
            stall_timeout: DEFAULT_STALL_TIMEOUT,
            cache: None,
            user: "root".into(),
            observer: None,
        }
    }
}

/// A URI that could not be fetched, and why.
#[derive(Debug, thiserror::Error)]
#[error("URI {uri}: {why}")]
pub struct FetchError {
    pub uri: String,
    pub why: String,
}

/// Fetch `uris` into the sandbox of container `id`.
pub fn fetch_uris(id: &str, uris: &[UriSpec], sandbox: &Path, opts: &FetchOptions) -> Result<()> {
    for u in uris {
        fetch(u, sandbox, opts)
            .map_err(|e| ContainerError::launch(id, "fetching", e.to_string(), 125))?;
    }
    Ok(())
}

/// Fetch one URI into `dir` (a sandbox, or any directory: `ucr fetch`).
pub fn fetch(u: &UriSpec, dir: &Path, opts: &FetchOptions) -> std::result::Result<(), FetchError> {
    fetch_one(u, dir, opts).map_err(|why| FetchError {
        uri: u.value.clone(),
        why,
    })
}

pub(crate) fn file_name(u: &UriSpec) -> std::result::Result<String, String> {
    let name = match &u.output_file {
        Some(o) => o.clone(),
        None => {
            let path = u.value.split(['?', '#']).next().unwrap_or(&u.value);
            path.rsplit('/').next().unwrap_or("").to_string()
        }
    };
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(format!(
            "cannot derive a file name in the sandbox (got {name:?}); set output_file"
        ));
    }
    Ok(name)
}

fn fetch_one(u: &UriSpec, sandbox: &Path, opts: &FetchOptions) -> std::result::Result<(), String> {
    if let Some((scheme, _)) = u.value.split_once("://") {
        if !matches!(scheme, "http" | "https" | "file") {
            return Err(format!(
                "the {scheme}:// scheme is not fetched by ucr (http, https, file and local paths are)"
            ));
        }
    }
    let name = file_name(u)?;
    let dir = confined::open_root(sandbox).map_err(|e| format!("{}: {e}", sandbox.display()))?;
    let size = |name: &str| -> u64 {
        rustix::fs::statat(&dir, name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW)
            .map(|s| s.st_size as u64)
            .unwrap_or(0)
    };
    let from = if u.value.starts_with("http://") || u.value.starts_with("https://") {
        match opts.cache.as_ref().filter(|_| u.cache) {
            Some(c) => {
                let (mut from, source) =
                    cache::get(c, &opts.user, &u.value, |f| download(&u.value, opts, f))?;
                tracing::debug!(uri = u.value, ?source, "fetcher cache");
                write_new(&dir, &name, 0o644, |to| {
                    std::io::copy(&mut from, to)
                        .map(drop)
                        .map_err(|e| e.to_string())
                })?;
                match source {
                    cache::Source::Hit => Origin::Cache,
                    cache::Source::Downloaded => Origin::Network,
                }
            }
            None => {
                write_new(&dir, &name, 0o644, |f| download(&u.value, opts, f))?;
                Origin::Network
            }
        }
    } else {
        let src = PathBuf::from(u.value.strip_prefix("file://").unwrap_or(&u.value));
        if !src.is_absolute() {
            return Err("a local URI must be an absolute path".into());
        }
        copy(&src, &dir, &name)?;
        Origin::Local
    };
    opts.tell(FetchEvent::Done {
        uri: u.value.clone(),
        bytes: size(&name),
        from,
    });
    let local = |e: std::io::Error| format!("{}: {e}", sandbox.join(&name).display());
    if let Some(a) = extract::archive(&name).filter(|_| u.extract) {
        extract::extract(a, sandbox, &dir, &name)?;
        opts.tell(FetchEvent::Extracted {
            uri: u.value.clone(),
            file: name.clone(),
        });
    }
    if u.executable {
        let fd = confined::open(&dir, &name, OFlags::RDONLY).map_err(local)?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o755)).map_err(|e| local(e.into()))?;
    }
    Ok(())
}

/// A local file (the operator's own path, trusted) into the sandbox, keeping its permission bits.
fn copy(src: &Path, dir: &OwnedFd, name: &str) -> std::result::Result<(), String> {
    let fail = |e: std::io::Error| format!("{}: {e}", src.display());
    let mut from = File::open(src).map_err(fail)?;
    let mode = from.metadata().map_err(fail)?.mode() & 0o777;
    write_new(dir, name, mode, |to| {
        std::io::copy(&mut from, to).map(drop).map_err(fail)
    })
}

/// Make `name` in the sandbox with what `fill` writes, via `name.part` renamed into place, so a failed fetch
/// leaves nothing.
fn write_new(
    dir: &OwnedFd,
    name: &str,
    mode: u32,
    fill: impl FnOnce(&mut File) -> std::result::Result<(), String>,
) -> std::result::Result<(), String> {
    let part = format!("{name}.part");
    let written = confined::create(dir, Path::new(&part), mode)
        .map_err(|e| format!("{part}: {e}"))
        .and_then(|mut f| {
            fill(&mut f)?;
            f.sync_all().map_err(|e| e.to_string())
        });
    if let Err(e) = written {
        let _ = rustix::fs::unlinkat(dir, part.as_str(), rustix::fs::AtFlags::empty());
        return Err(e);
    }
    rustix::fs::renameat(dir, part.as_str(), dir, name).map_err(|e| e.to_string())
}

/// Stream an http(s) URL into `out`. Mesos's fetcher takes HTTP 200 only (redirects are followed first).
fn download(url: &str, opts: &FetchOptions, out: &mut File) -> std::result::Result<(), String> {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or("")
        .to_string();
    let stall = opts.stall_timeout;
    let client = opts
        .tls
        .client_for(&host, Duration::from_secs(30), stall)
        .map_err(|e| e.to_string())?;
    let stalled = move |e: reqwest::Error| match e.is_timeout() {
        true => format!(
            "stalled: nothing received for {} s (--fetcher_stall_timeout)",
            stall.as_secs_f64()
        ),
        false => e.to_string(),
    };
    // The connection and the body's reader on this one thread: no chunk crosses threads, no wake-ups between
    // them; writes go out [`WRITE_SIZE`] at a time.
    let body = async {
        let mut resp = client.get(url).send().await.map_err(stalled)?;
        if resp.status().as_u16() != 200 {
            return Err(format!("HTTP {}", resp.status()));
        }
        // Copied into one reused buffer: each chunk's memory is freed at once and reused for the next (holding
        // a megabyte of chunks instead made malloc give pages back and fault them in again, 1 in 3).
        let total = resp.content_length();
        opts.tell(FetchEvent::Started {
            uri: url.to_string(),
            total,
        });
        let (mut bytes, mut told) = (0u64, 0u64);
        let mut buf = Vec::with_capacity(WRITE_SIZE);
        while let Some(chunk) = resp.chunk().await.map_err(stalled)? {
            buf.extend_from_slice(&chunk);
            if buf.len() >= WRITE_SIZE {
                out.write_all(&buf).map_err(|e| e.to_string())?;
                bytes += buf.len() as u64;
                buf.clear();
                // Every 4 MiB: often enough for a bar, rarely enough to cost nothing.
                if opts.observer.is_some() && bytes - told >= 4 << 20 {
                    told = bytes;
                    opts.tell(FetchEvent::Progress {
                        uri: url.to_string(),
                        bytes,
                        total,
                    });
                }
            }
        }
        out.write_all(&buf).map_err(|e| e.to_string())
    };
    rt::block_on_here(body).map_err(|e| format!("cannot start the async runtime: {e}"))?
}

/// Bytes gathered before a write to the file: few writes, and a buffer that stays in the CPU's cache between
/// the copy into it and the kernel's copy out (1 MiB was 15% slower than curl in `bench/fetch.sh`, this is even).
const WRITE_SIZE: usize = 128 << 10;

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn output_names_come_from_the_uri_or_output_file() {
        let mut u = UriSpec {
            value: "https://x/a/app.tgz?sig=1".into(),
            ..UriSpec::default()
        };
        assert_eq!(file_name(&u).as_deref(), Ok("app.tgz"));
        u.output_file = Some("../evil".into());
        assert!(file_name(&u).is_err());
        u.output_file = None;
        u.value = "https://x/".into();
        assert!(file_name(&u).is_err());
    }

    #[test]
    fn local_files_are_copied_and_tars_extracted_inside_the_sandbox() {
        let d = tempfile::tempdir().expect("tempdir");
        let sandbox = d.path().join("sandbox");
        fs::create_dir(&sandbox).expect("mkdir");
        let tar_path = d.path().join("app.tar");
        let mut b = tar::Builder::new(File::create(&tar_path).expect("create"));
        let data = b"hello";
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        b.append_data(&mut h, "dir/hello.txt", &data[..])
            .expect("append");
        b.into_inner().expect("finish");
        let u = UriSpec {
            value: format!("file://{}", tar_path.display()),
            extract: true,
            ..UriSpec::default()
        };
        fetch_uris("c", &[u], &sandbox, &FetchOptions::default()).expect("fetch");
        assert_eq!(
            fs::read(sandbox.join("dir/hello.txt")).expect("read"),
            b"hello"
        );
        assert!(sandbox.join("app.tar").exists());
        let missing = UriSpec {
            value: "/nonexistent/x.bin".into(),
            ..UriSpec::default()
        };
        let e =
            fetch_uris("c", &[missing], &sandbox, &FetchOptions::default()).expect_err("missing");
        assert!(e.to_string().contains("/nonexistent/x.bin"), "{e}");
    }
}
