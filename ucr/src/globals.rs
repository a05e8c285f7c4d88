//! The options every command takes (Mesos agent flags under their Mesos spellings too: `--docker_store_dir`,
//! `--work_dir`, ...), and the registry options of the commands that fetch images.

use std::path::PathBuf;

use clap::Args;
use ucr_runtime::container::paths::DEFAULT_SANDBOX_DIRECTORY;
use ucr_runtime::images::AppcSettings;

use crate::isolation::IsolationArgs;

#[derive(Args, Debug)]
pub struct Globals {
    /// Options from a TOML file (keys are the long option names); the command line wins.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State and store root.
    #[arg(
        long,
        default_value = "/var/lib/ucr",
        alias = "work_dir",
        alias = "work-dir"
    )]
    pub root: PathBuf,
    /// Runtime state (pids, bundles).
    #[arg(
        long = "runtime-dir",
        default_value = "/run/ucr",
        alias = "runtime_dir"
    )]
    pub runtime_dir: PathBuf,
    /// Docker image store (default <root>/store/docker).
    #[arg(long = "docker-store-dir", alias = "docker_store_dir")]
    pub docker_store_dir: Option<PathBuf>,
    /// AppC image store (default <root>/store/appc).
    #[arg(long = "appc-store-dir", alias = "appc_store_dir")]
    pub appc_store_dir: Option<PathBuf>,
    /// Mesos --appc_simple_discovery_uri_prefix: AppC images are fetched from
    /// PREFIX{name}-{version}-{os}-{arch}.aci, PREFIX being `http://HOST[:PORT]/PATH/`, `https://...` or a local
    /// `/DIR/`. Unset: meta discovery (`https://NAME?ac-discovery=1`).
    #[arg(
        long = "appc-simple-discovery-uri-prefix",
        alias = "appc_simple_discovery_uri_prefix"
    )]
    pub appc_simple_discovery_uri_prefix: Option<String>,
    /// OpenPGP keys trusted for AppC signatures, in rkt's layout: DIR/root.d/* for every image,
    /// DIR/prefix.d/NAME-PREFIX/* for images under that name (default <root>/store/appc-trust).
    #[arg(long = "appc-trust-dir", alias = "appc_trust_dir")]
    pub appc_trust_dir: Option<PathBuf>,
    /// require, if-present or ignore (default: require over plain HTTP, if-present over HTTPS and for local
    /// files).
    #[arg(long = "appc-signature-policy", alias = "appc_signature_policy")]
    pub appc_signature_policy: Option<String>,
    /// Trust the keys an AppC discovery page names (`ac-discovery-pubkeys`, HTTPS only) for a signed image that
    /// no key in --appc-trust-dir is trusted for yet; they are stored there and trusted from then on.
    #[arg(
        long = "appc-trust-discovered-keys",
        alias = "appc_trust_discovered_keys"
    )]
    pub appc_trust_discovered_keys: bool,
    /// error, warn, info, debug, trace.
    #[arg(long = "log-level", default_value = "warn", alias = "log_level")]
    pub log_level: String,
    /// Mesos --image_providers: the kinds of image containers may have, comma-separated: docker, appc (default:
    /// both). A container with an image of another kind is refused.
    #[arg(
        long = "image-providers",
        alias = "image_providers",
        value_name = "LIST"
    )]
    pub image_providers: Option<String>,
    /// Provisioner backend: overlay or copy (default: overlay where the filesystem supports it).
    #[arg(
        long = "image-provisioner-backend",
        alias = "image_provisioner_backend"
    )]
    pub image_provisioner_backend: Option<String>,
    /// Mesos --docker_registry: a directory of image tarballs (`NAME.tar`), where images are then only looked
    /// up, or a registry (`https://host[:port]`, `host:port`) used for names without one.
    #[arg(long = "docker-registry", alias = "docker_registry")]
    pub docker_registry: Option<String>,
    /// With a --docker_registry directory: pull from the image's registry when the directory has no file.
    #[arg(long = "docker-registry-fallback", alias = "docker_registry_fallback")]
    pub docker_registry_fallback: bool,
    /// Where the sandbox appears inside containers.
    #[arg(
        long = "sandbox-directory",
        alias = "sandbox_directory",
        default_value = DEFAULT_SANDBOX_DIRECTORY
    )]
    pub sandbox_directory: String,
    /// Mesos --fetcher_stall_timeout: a URI download that receives nothing for this long fails (`60secs`,
    /// `2mins`, `500ms`).
    #[arg(
        long = "fetcher-stall-timeout",
        alias = "fetcher_stall_timeout",
        default_value = "60secs",
        value_parser = crate::duration::parse
    )]
    pub fetcher_stall_timeout: std::time::Duration,
    /// A local secret store: a directory of files, one per secret. A Marathon secret's `source` (env secrets,
    /// secret volumes, pullConfig) is read as a file under it; without it, as a path of its own.
    #[arg(long = "secrets-dir", alias = "secrets_dir")]
    pub secrets_dir: Option<PathBuf>,
    /// Mesos --fetcher_cache_dir: where URIs with `cache: true` are kept between tasks (default
    /// <root>/fetch-cache).
    #[arg(long = "fetcher-cache-dir", alias = "fetcher_cache_dir")]
    pub fetcher_cache_dir: Option<PathBuf>,
    /// Mesos --fetcher_cache_size: what the fetcher cache may hold before the least recently used URIs are
    /// evicted (`2GB`, `512MB`).
    #[arg(
        long = "fetcher-cache-size",
        alias = "fetcher_cache_size",
        default_value = "2GB",
        value_parser = crate::bytes::parse
    )]
    pub fetcher_cache_size: u64,
    /// Mesos --cgroups_root: the cgroup parent of this instance's containers (default: ucr/<instance>, one per
    /// --root and --runtime-dir, so two instances never share or clean up each other's cgroups).
    #[arg(long = "cgroups-root", alias = "cgroups_root")]
    pub cgroups_root: Option<String>,
    #[command(flatten)]
    pub isolation: IsolationArgs,
}

impl Globals {
    pub fn store_dir(&self) -> PathBuf {
        self.docker_store_dir
            .clone()
            .unwrap_or_else(|| self.root.join("store/docker"))
    }

    pub fn appc(&self) -> AppcSettings {
        AppcSettings {
            store_dir: self
                .appc_store_dir
                .clone()
                .unwrap_or_else(|| self.root.join("store/appc")),
            simple_discovery_uri_prefix: self.appc_simple_discovery_uri_prefix.clone(),
            trust_dir: Some(
                self.appc_trust_dir
                    .clone()
                    .unwrap_or_else(|| self.root.join("store/appc-trust")),
            ),
            signature_policy: self.appc_signature_policy.clone(),
            trust_discovered_keys: self.appc_trust_discovered_keys,
        }
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// Docker config.json (or legacy .dockercfg) file, or its JSON inline.
    #[arg(long = "docker-config", alias = "docker_config")]
    pub docker_config: Option<String>,
    /// USER:PASS for the registry of the image named here.
    #[arg(long)]
    pub creds: Option<String>,
    /// Extra trusted CA bundle (PEM) for every registry; repeatable.
    #[arg(long = "ca-file", alias = "ca_file")]
    pub ca_file: Vec<PathBuf>,
    /// Per-registry trust in DIR/<host[:port]>/{ca.crt,client.cert,client.key}; repeatable.
    #[arg(long = "certs-dir", alias = "certs_dir")]
    pub certs_dir: Vec<PathBuf>,
    /// Allow plain HTTP or an unverified certificate for this registry only; repeatable.
    #[arg(long = "insecure-registry", alias = "insecure_registry")]
    pub insecure_registry: Vec<String>,
    /// Docker Hub mirror, tried before the origin; repeatable.
    #[arg(long = "registry-mirror", alias = "registry_mirror")]
    pub registry_mirror: Vec<String>,
    /// OS/ARCH[/VARIANT] to pull (default: this host's).
    #[arg(long)]
    pub platform: Option<String>,
    /// A registry download that receives nothing for this long stops and resumes where it was (`30secs`);
    /// also the longest a connection (TLS handshake included) may take.
    #[arg(long = "stall-timeout", alias = "stall_timeout", value_parser = crate::duration::parse)]
    pub stall_timeout: Option<std::time::Duration>,
    /// Fetch a layer the registry does not have from the URLs its descriptor lists (foreign or nondistributable
    /// layers). Off by default: a manifest could otherwise send ucr to any host.
    #[arg(long = "foreign-layers", alias = "foreign_layers")]
    pub foreign_layers: bool,
    /// A pull that has not finished after this long fails (a Mesos task's start timeout counts its pull).
    #[arg(long = "pull-timeout", alias = "pull_timeout", value_parser = crate::duration::parse)]
    pub pull_timeout: Option<std::time::Duration>,
}
