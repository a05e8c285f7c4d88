//! Filesystem isolation: `filesystem/linux`, for a container with an image (`linux`: its own /proc, /sys, /dev
//! and what is hidden in them) and for a task on the host's root (`host_root`), and the pieces both use.

mod host_root;
pub mod linux;

use std::path::PathBuf;

use oci_spec::runtime::{Mount, MountBuilder};

use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Request};
use crate::network::files;
use crate::vocab::{NetworkMode, Tmpfs};

const NAME: &str = "filesystem/linux";

/// Docker's default /dev/shm size when the request names none.
const DEFAULT_SHM_MB: u64 = 64;

/// Mesos `LinuxInfo.ipc_mode` value for sharing the parent's IPC namespace.
pub const SHARE_PARENT: &str = "SHARE_PARENT";

/// One OCI mount. The builder only fails on a missing destination, which every caller gives.
pub(crate) fn mount(
    isolator: &'static str,
    destination: impl Into<PathBuf>,
    typ: &str,
    source: impl Into<PathBuf>,
    options: &[&str],
) -> Result<Mount> {
    MountBuilder::default()
        .destination(destination.into())
        .typ(typ)
        .source(source.into())
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(|e| IsolatorError::invalid(isolator, e.to_string()))
}

/// The host's name files with the request's additions (Docker `--add-host`, `--dns`) on the host network,
/// written beside the container's checkpoint and bound over the originals in the container's mount namespace:
/// the host's own files are never changed. None when there is nothing to add.
pub(crate) fn host_name_files(c: &Container<'_>, r: &Request<'_>) -> Result<Option<Vec<Mount>>> {
    let additions = !r.network.extra_hosts.is_empty() || !r.network.resolver.is_empty();
    if r.network.mode != NetworkMode::Host || !additions {
        return Ok(None);
    }
    let dir = c.module_dir(NAME);
    std::fs::create_dir_all(&dir).map_err(|e| IsolatorError::io(&dir, e))?;
    let read = |f: &str| std::fs::read_to_string(f).unwrap_or_default();
    let hosts = files::with_extra_hosts(read("/etc/hosts"), &r.network.extra_hosts);
    let resolv = files::with_resolver(&files::host_resolv_conf(), &r.network.resolver);
    let hostname = read("/etc/hostname");
    Ok(Some(files::write(&dir, hostname.trim(), &hosts, &resolv)?))
}

/// Docker `--tmpfs`: never executable, set-uid or device-bearing unless the options say so, as Docker's
/// default.
pub(crate) fn tmpfs(t: &Tmpfs) -> Result<Mount> {
    if !t.path.starts_with('/') || t.path.split('/').any(|c| c == "..") {
        return Err(IsolatorError::invalid(
            NAME,
            format!("tmpfs {}: an absolute path without '..'", t.path),
        ));
    }
    let mut opts: Vec<&str> = vec!["nosuid", "nodev", "noexec"];
    opts.retain(|d| !t.options.iter().any(|o| o == &d[2..] || o == d));
    opts.extend(t.options.iter().map(String::as_str));
    mount(NAME, t.path.as_str(), "tmpfs", "tmpfs", &opts)
}

/// A fresh /proc for a container in its own pid namespace.
pub(crate) fn proc_mount() -> Result<Mount> {
    mount(
        NAME,
        "/proc",
        "proc",
        "proc",
        &["nosuid", "noexec", "nodev"],
    )
}

/// A private IPC namespace's /dev/shm (sized by `linux_info.shm_size`) and /dev/mqueue.
pub(crate) fn ipc_mounts(r: &Request<'_>) -> Result<[Mount; 2]> {
    let shm_mb = r.linux.shm_size.unwrap_or(DEFAULT_SHM_MB);
    if shm_mb == 0 {
        return Err(IsolatorError::invalid(
            NAME,
            "shm_size must be at least 1 MB",
        ));
    }
    let size = format!("size={}k", shm_mb.saturating_mul(1024));
    Ok([
        mount(
            NAME,
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", &size],
        )?,
        mount(
            NAME,
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        )?,
    ])
}
