//! `ucr run`'s flags, Docker's syntax where Docker has one (`-v HOST:CONTAINER[:ro]`, `-p [HOST:]CONTAINER[/udp]`,
//! `--ulimit nofile=SOFT:HARD`, `-e K[=V]`), into the one `ContainerConfig` every request becomes.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use ucr_runtime::registry::ImageName;
use ucr_runtime::spec::{
    self, CommandSpec, ContainerConfig, ContainerType, ImageSpec, NetworkMode, PortMapping,
    Resources, Volume, VolumeMode, VolumeSource,
};

use ucr_runtime::spec::docker_params::apply_docker_parameters;

use crate::globals::RegistryArgs;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Container id (default: a random one).
    #[arg(long)]
    pub name: Option<String>,
    /// Start and print the id; don't wait.
    #[arg(long, short)]
    pub detach: bool,
    /// Remove the container (sandbox included) once it exits.
    #[arg(long)]
    pub rm: bool,
    #[arg(long, allow_negative_numbers = true, value_parser = positive)]
    pub cpus: Option<f64>,
    /// Memory in MB.
    #[arg(long, allow_negative_numbers = true, value_parser = positive)]
    pub mem: Option<f64>,
    #[arg(long)]
    pub pids: Option<u64>,
    /// Hard CPU cap (Mesos `limits.cpus`): a CFS quota; `--cpus` then only weighs shares.
    #[arg(long = "cpus-limit", allow_negative_numbers = true, value_parser = positive_or_inf)]
    pub cpus_limit: Option<f64>,
    /// Hard memory cap in MB (Mesos `limits.mem`), above `--mem`.
    #[arg(long = "mem-limit", allow_negative_numbers = true, value_parser = positive_or_inf)]
    pub mem_limit: Option<f64>,
    /// Every capability, every device, no seccomp filter, unmasked /proc and /sys.
    #[arg(long)]
    pub privileged: bool,
    /// Effective capabilities (Mesos names, e.g. NET_ADMIN), replacing the default set; repeatable.
    #[arg(long = "cap")]
    pub cap: Vec<String>,
    /// Bounding capabilities (default: the effective set); repeatable.
    #[arg(long = "bounding-cap")]
    pub bounding_cap: Vec<String>,
    /// `unconfined`, or a profile name in --seccomp-config-dir.
    #[arg(long)]
    pub seccomp: Option<String>,
    /// TYPE=SOFT[:HARD] (e.g. nofile=4096:8192, core=unlimited); repeatable.
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Size of /dev/shm in MB.
    #[arg(long = "shm-size")]
    pub shm_size: Option<u64>,
    /// K=V, or K to pass the caller's value; repeatable.
    #[arg(long, short)]
    pub env: Vec<String>,
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    #[arg(long, short = 'w')]
    pub workdir: Option<String>,
    #[arg(long, short)]
    pub user: Option<String>,
    /// HOST:CONTAINER[:ro|rw]; repeatable.
    #[arg(long, short)]
    pub volume: Vec<String>,
    /// host (default), none, or a CNI network name.
    #[arg(long, default_value = "host")]
    pub network: String,
    /// [HOSTPORT:]CONTAINERPORT[/tcp|udp]; repeatable.
    #[arg(long, short)]
    pub publish: Vec<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    /// An /etc/hosts entry NAME:IP (repeatable).
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// A nameserver for /etc/resolv.conf instead of the host's or the network's (repeatable).
    #[arg(long)]
    pub dns: Vec<String>,
    /// A search domain for /etc/resolv.conf (repeatable).
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// The image's root filesystem read-only (the sandbox and volumes keep their modes).
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// A tmpfs mount PATH[:OPTIONS] (repeatable; e.g. /run:size=64m).
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// A host device HOST[:CONTAINER[:PERMS]] (repeatable; e.g. /dev/fuse).
    #[arg(long)]
    pub device: Vec<String>,
    /// Replace the image ENTRYPOINT.
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Run CMD as `/bin/sh -c CMD` (the Mesos default for a command value; ignores ENTRYPOINT).
    #[arg(long)]
    pub shell: bool,
    /// Give the task a terminal (a pty as its stdin, stdout and stderr; its output goes to the sandbox's
    /// stdout), as Marathon's `tty` and Mesos's `tty_info`.
    #[arg(long, short = 't')]
    pub tty: bool,
    /// Keep stdin open for the task: it reads ucr's stdin (with -t, ucr's terminal is the task's, raw, its size
    /// followed). In the foreground only.
    #[arg(long, short = 'i', conflicts_with = "detach")]
    pub interactive: bool,
    /// Run on the host's root filesystem, without an image (a Mesos command task): IMAGE is then the command's
    /// first word, run in the sandbox under the same isolators.
    #[arg(long)]
    pub no_image: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The image (with --no-image: the program to run).
    #[arg(value_name = "IMAGE")]
    pub image: String,
    /// Command and arguments (replace the image CMD, like `docker run`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

fn random_id() -> String {
    let mut b = [0u8; 6];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b.copy_from_slice(&(t as u64 ^ std::process::id() as u64).to_le_bytes()[..6]);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn config_from_args(a: &RunArgs) -> anyhow::Result<ContainerConfig> {
    let mut env = Vec::new();
    for f in &a.env_file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("--env-file {}", f.display()))?;
        for line in text.lines().map(str::trim) {
            if !line.is_empty() && !line.starts_with('#') {
                env.push(env_pair(line));
            }
        }
    }
    env.extend(a.env.iter().map(|e| env_pair(e)));
    let env: Vec<(String, String)> = env.into_iter().flatten().collect();
    if a.no_image && a.entrypoint.is_some() {
        bail!("--entrypoint: a task without an image has no ENTRYPOINT to replace");
    }
    let (container_type, command) = if a.no_image {
        // The words are the whole command: with --shell one shell line, else argv[0] and its argv (Mesos
        // `shell: false`).
        let words: Vec<String> = std::iter::once(&a.image).chain(&a.cmd).cloned().collect();
        let command = match a.shell {
            true => CommandSpec {
                shell: true,
                value: Some(words.join(" ")),
                ..CommandSpec::default()
            },
            false => CommandSpec {
                shell: false,
                value: words.first().cloned(),
                arguments: words,
                ..CommandSpec::default()
            },
        };
        (ContainerType::Mesos, command)
    } else if a.shell {
        if a.cmd.is_empty() {
            bail!("--shell: no command given");
        }
        (
            ContainerType::Mesos,
            CommandSpec {
                shell: true,
                value: Some(a.cmd.join(" ")),
                ..CommandSpec::default()
            },
        )
    } else {
        // Docker rules for the CLI (what `docker run IMAGE CMD...` users expect): CMD... replaces the image CMD and
        // follows the ENTRYPOINT.
        let mut it = a.cmd.iter().cloned();
        (
            ContainerType::Docker,
            CommandSpec {
                shell: false,
                value: it.next(),
                arguments: it.collect(),
                ..CommandSpec::default()
            },
        )
    };
    let mut volumes = Vec::new();
    for v in &a.volume {
        volumes.push(parse_volume(v)?);
    }
    let mut port_mappings = Vec::new();
    for p in &a.publish {
        port_mappings.push(parse_publish(p)?);
    }
    let mode = match a.network.as_str() {
        "host" => NetworkMode::Host,
        "none" => NetworkMode::None,
        n => NetworkMode::Cni(n.to_string()),
    };
    let mut cfg = ContainerConfig {
        id: a.name.clone().unwrap_or_else(random_id),
        container_type,
        image: match a.no_image {
            true => None,
            false => Some(ImageSpec {
                reference: ImageName::parse(&a.image)?,
                cached: true,
                docker_config: None,
            }),
        },
        command: CommandSpec {
            env,
            user: a.user.clone(),
            ..command
        },
        entrypoint: a.entrypoint.as_ref().map(|e| vec![e.clone()]),
        workdir: a.workdir.clone(),
        resources: Resources {
            cpus: a.cpus,
            mem_mb: a.mem,
            pids: a.pids,
            ..Resources::default()
        },
        volumes,
        network: spec::NetworkSpec {
            mode,
            port_mappings,
            ..spec::NetworkSpec::default()
        },
        hostname: a.hostname.clone(),
        tty: a.tty.then(spec::Tty::default),
        // With a terminal, the input goes through the task's console instead (`run.rs`).
        stdin: a.interactive && !a.tty,
        limits: spec::Limits {
            cpus: a.cpus_limit,
            mem_mb: a.mem_limit,
        },
        rlimits: a
            .ulimit
            .iter()
            .map(|u| parse_ulimit(u))
            .collect::<anyhow::Result<_>>()?,
        linux: spec::LinuxSpec {
            privileged: a.privileged,
            effective_capabilities: (!a.cap.is_empty()).then(|| a.cap.clone()),
            bounding_capabilities: (!a.bounding_cap.is_empty()).then(|| a.bounding_cap.clone()),
            seccomp: a.seccomp.clone(),
            shm_size: a.shm_size,
            readonly_rootfs: a.read_only,
            ..spec::LinuxSpec::default()
        },
        ..ContainerConfig::default()
    };
    // Docker's flags of the same names: parsed and applied as docker `parameters` are, so both mean the same.
    for (flag, values) in [
        ("add-host", &a.add_host),
        ("dns", &a.dns),
        ("dns-search", &a.dns_search),
        ("tmpfs", &a.tmpfs),
        ("device", &a.device),
    ] {
        for v in values {
            apply_docker_parameters(&mut cfg, [(flag, v.as_str())], &format!("--{flag}"))?;
        }
    }
    Ok(cfg)
}

/// Docker's `--ulimit` form: `nofile=4096:8192`, `core=unlimited`, `stack=8192` (soft = hard).
/// A resource amount: a number above 0 (a negative one reaches here rather than being taken for an option).
pub fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

/// A limit: a number above 0, or `inf` (Mesos's unlimited).
fn positive_or_inf(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is neither a positive number nor inf")),
    }
}

fn parse_ulimit(u: &str) -> anyhow::Result<spec::Rlimit> {
    let Some((kind, values)) = u.split_once('=') else {
        bail!("--ulimit {u}: expected TYPE=SOFT[:HARD]");
    };
    let num = |s: &str| -> anyhow::Result<Option<u64>> {
        if s == "unlimited" || s == "-1" {
            return Ok(None);
        }
        s.parse()
            .map(Some)
            .with_context(|| format!("--ulimit {u}: {s:?} is not a number"))
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (num(s)?, num(h)?),
        None => (num(values)?, num(values)?),
    };
    Ok(spec::Rlimit {
        kind: format!("RLMT_{}", kind.to_ascii_uppercase()),
        soft,
        hard,
    })
}

pub fn env_pair(s: &str) -> Option<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) => Some((k.to_string(), v.to_string())),
        // Docker: a bare name passes the caller's value, and is dropped when the caller has none.
        None => std::env::var(s).ok().map(|v| (s.to_string(), v)),
    }
}

fn parse_volume(v: &str) -> anyhow::Result<Volume> {
    let parts: Vec<&str> = v.split(':').collect();
    let (host, cont, mode) = match parts.as_slice() {
        [h, c] => (*h, *c, VolumeMode::Rw),
        [h, c, "ro"] => (*h, *c, VolumeMode::Ro),
        [h, c, "rw"] => (*h, *c, VolumeMode::Rw),
        _ => bail!("--volume {v}: expected HOST:CONTAINER[:ro|rw]"),
    };
    if !host.starts_with('/') {
        bail!("--volume {v}: the host path must be absolute");
    }
    Ok(Volume {
        container_path: cont.to_string(),
        mode,
        source: VolumeSource::HostPath {
            path: host.to_string(),
        },
    })
}

fn parse_publish(p: &str) -> anyhow::Result<PortMapping> {
    let (ports, proto) = match p.split_once('/') {
        Some((a, b)) if b == "tcp" || b == "udp" => (a, b),
        Some(_) => bail!("--publish {p}: the protocol must be tcp or udp"),
        None => (p, "tcp"),
    };
    let num = |s: &str| -> anyhow::Result<u16> {
        s.parse()
            .with_context(|| format!("--publish {p}: {s:?} is not a port number"))
    };
    let (host, cont) = match ports.split_once(':') {
        Some((h, c)) => (num(h)?, num(c)?),
        None => (0, num(ports)?),
    };
    Ok(PortMapping {
        host_port: host,
        container_port: cont,
        protocol: proto.to_string(),
        name: None,
        networks: Vec::new(),
    })
}
