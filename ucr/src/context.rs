//! From the global and per-command options to the runtime library's services: the `Images` service (store,
//! registry options, platform, `--docker_registry`) and the `Containerizer` (paths, provisioner, isolation,
//! and the command that starts a supervisor with the same global options).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use ucr_runtime::containerizer::{Config, Forker, SupervisorCommand};
use ucr_runtime::fetcher::{CacheOptions, FetchObserver};
use ucr_runtime::images::{Images, ImagesConfig, Notices, Providers, RegistryOptions};
use ucr_runtime::registry::ImageRef;
use ucr_runtime::{Containerizer, Paths};

use crate::globals::{Globals, RegistryArgs};

pub fn paths(cli: &Globals) -> Paths {
    Paths::new(&cli.root, &cli.runtime_dir)
}

/// The `Images` service for a command with these registry options (none: the defaults, for commands that
/// only read the store).
pub fn images(cli: &Globals, registry: Option<&RegistryArgs>) -> anyhow::Result<Images> {
    let default = RegistryArgs::default();
    let r = registry.unwrap_or(&default);
    Ok(Images::new(ImagesConfig {
        store_dir: cli.store_dir(),
        registry: r.options(),
        platform: r.platform.clone(),
        docker_registry: cli.docker_registry.clone(),
        docker_registry_fallback: cli.docker_registry_fallback,
        appc: cli.appc(),
        providers: match &cli.image_providers {
            Some(list) => {
                Providers::parse(list).map_err(|e| anyhow::anyhow!("--image_providers: {e}"))?
            }
            None => Providers::default(),
        },
    })?)
}

/// The containerizer with this command line's options. The isolation options are read only when a container
/// is made: later commands use what the container was made with.
pub fn containerizer(
    cli: &Globals,
    registry: Option<&RegistryArgs>,
) -> anyhow::Result<Containerizer> {
    containerizer_with(cli, registry, None)
}

/// The same, starting supervisors through `forker` (the agent's).
pub fn containerizer_with(
    cli: &Globals,
    registry: Option<&RegistryArgs>,
    forker: Option<Arc<Forker>>,
) -> anyhow::Result<Containerizer> {
    let isolation = cli.isolation.resolve()?;
    let config = Config {
        backend: cli.image_provisioner_backend.clone(),
        sandbox_directory: cli.sandbox_directory.clone(),
        cgroups_root: cli.cgroups_root.clone(),
        fetcher_stall_timeout: cli.fetcher_stall_timeout,
        fetcher_cache: Some(fetcher_cache(cli)),
        isolation: isolation.names,
        isolator_config: isolation.config,
        agent_ports: isolation.ports,
        forker,
        ..Config::new(paths(cli), supervisor_command(cli))
    };
    Ok(Containerizer::new(config, images(cli, registry)?))
}

/// The containerizer for commands on existing containers: they use what each container was made with (its
/// checkpoint), so this process's isolation options are not read, and a bad one does not stop `ps` or `rm`.
pub fn existing(cli: &Globals) -> anyhow::Result<Containerizer> {
    let config = Config {
        backend: cli.image_provisioner_backend.clone(),
        sandbox_directory: cli.sandbox_directory.clone(),
        cgroups_root: cli.cgroups_root.clone(),
        fetcher_stall_timeout: cli.fetcher_stall_timeout,
        ..Config::new(paths(cli), supervisor_command(cli))
    };
    Ok(Containerizer::new(config, images(cli, None)?))
}

/// `--fetcher_cache_dir` (default `<root>/fetch-cache`) and `--fetcher_cache_size`.
pub fn fetcher_cache(cli: &Globals) -> CacheOptions {
    CacheOptions {
        dir: cli
            .fetcher_cache_dir
            .clone()
            .unwrap_or_else(|| cli.root.join("fetch-cache")),
        capacity: cli.fetcher_cache_size,
    }
}

/// `ucr <the same globals> __supervise ...`: how a multi-threaded caller starts a supervisor.
fn supervisor_command(cli: &Globals) -> SupervisorCommand {
    let mut args: Vec<OsString> = vec![
        "--root".into(),
        cli.root.clone().into(),
        "--runtime-dir".into(),
        cli.runtime_dir.clone().into(),
        "--docker-store-dir".into(),
        cli.store_dir().into(),
        "--log-level".into(),
        cli.log_level.clone().into(),
    ];
    if let Some(b) = &cli.image_provisioner_backend {
        args.push("--image_provisioner_backend".into());
        args.push(b.into());
    }
    SupervisorCommand {
        exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe")),
        args,
    }
}

impl RegistryArgs {
    pub fn options(&self) -> RegistryOptions {
        RegistryOptions {
            docker_config: self.docker_config.clone(),
            creds: self.creds.clone(),
            ca_files: self.ca_file.clone(),
            certs_dirs: self.certs_dir.clone(),
            insecure: self.insecure_registry.clone(),
            mirrors: self.registry_mirror.clone(),
            request_docker_config: None,
            stall_timeout: self.stall_timeout,
            pull_timeout: self.pull_timeout,
            foreign_layers: self.foreign_layers,
        }
    }
}

/// What providing an image prints, unless the command is quiet (a detached run prints only the id).
pub struct Printed {
    pub quiet: bool,
}

impl Notices for Printed {
    fn loading(&self, path: &std::path::Path) {
        if !self.quiet {
            crate::progress::notice(format_args!("Loading {}", path.display()));
        }
    }

    fn pulling(&self, image: &ImageRef) {
        if !self.quiet {
            crate::progress::notice(format_args!("Pulling {image}"));
        }
    }

    fn fetch_observer(&self) -> Option<Arc<dyn FetchObserver>> {
        (!self.quiet).then(|| Arc::new(crate::fetch_progress::FetchLines) as Arc<dyn FetchObserver>)
    }
}
