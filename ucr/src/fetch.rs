//! `ucr fetch`: the task fetcher on its own (Mesos's `mesos-fetcher`), for an operator who wants to see what a
//! task's `uris` would give, to warm the fetcher cache, or to compare it with curl (`bench/fetch.sh`). The same
//! code and options as a launch's fetch step: the registries' TLS options, the stall timeout, the cache; a
//! progress bar on a terminal, or `--json` events.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use ucr_runtime::fetcher::{fetch, FetchOptions};
use ucr_runtime::spec::UriSpec;

use crate::context;
use crate::fetch_progress::FetchProgress;
use crate::globals::{Globals, RegistryArgs};

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// The directory fetched into (made if missing), as a task's sandbox.
    #[arg(long)]
    pub into: PathBuf,
    /// Unpack archives (tar, tar.gz/bz2/xz/zst, zip, .gz) after fetching, as Mesos `extract`.
    #[arg(long)]
    pub extract: bool,
    /// Make the fetched file executable.
    #[arg(long)]
    pub executable: bool,
    /// Go through the fetcher cache (Mesos `cache`).
    #[arg(long)]
    pub cache: bool,
    /// One JSON event per line on stdout (started, progress, done, extracted).
    #[arg(long)]
    pub json: bool,
    /// The file's name in the directory (one URI only); default: the URI's last path segment.
    #[arg(long = "output-file", alias = "output_file")]
    pub output_file: Option<String>,
    /// http(s) URLs, file:// URLs or absolute paths.
    #[arg(required = true)]
    pub uris: Vec<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(g: &Globals, a: &FetchArgs) -> anyhow::Result<i32> {
    if a.output_file.is_some() && a.uris.len() > 1 {
        anyhow::bail!("--output-file names one file: give one URI");
    }
    let images = context::images(g, Some(&a.registry))?;
    std::fs::create_dir_all(&a.into).with_context(|| format!("{}", a.into.display()))?;
    let opts = FetchOptions {
        tls: images.tls(),
        stall_timeout: g.fetcher_stall_timeout,
        cache: Some(context::fetcher_cache(g)),
        user: format!("uid {}", rustix::process::getuid().as_raw()),
        observer: Some(std::sync::Arc::new(FetchProgress::new(a.json))),
    };
    for uri in &a.uris {
        let u = UriSpec {
            value: uri.clone(),
            extract: a.extract,
            executable: a.executable,
            cache: a.cache,
            output_file: a.output_file.clone(),
        };
        fetch(&u, &a.into, &opts)?;
    }
    Ok(0)
}
