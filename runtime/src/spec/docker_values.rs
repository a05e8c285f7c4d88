//! Values of `docker run` flags as the docker CLI reads them: sizes (`512m`, `1g`, `1048576`), `--ulimit
//! name=soft[:hard]`, `--tmpfs PATH[:OPTIONS]`, `--device`, and capability names for `--cap-add`/`--cap-drop` (with or without `CAP_`, or `ALL`).

use super::config::{Device, Rlimit, Tmpfs};

/// A docker size (`--memory`, `--shm-size`): bytes, or a number with b, k, m, g (powers of 1024); in MB.
pub fn size_mb(value: &str) -> Result<f64, String> {
    let v = value.trim().to_ascii_lowercase();
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| "expected a size such as 512m or 1g".to_string())?;
    let bytes = match unit.trim_end_matches('b') {
        "" if unit.is_empty() || unit == "b" => n,
        "k" => n * 1024.0,
        "m" => n * 1024.0 * 1024.0,
        "g" => n * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(format!("unknown unit {unit:?} (b, k, m, g)")),
    };
    if !(bytes > 0.0 && bytes.is_finite()) {
        return Err("must be above 0".into());
    }
    Ok(bytes / (1024.0 * 1024.0))
}

/// The limits `--ulimit` names (docker's list), as Mesos `RLMT_*` kinds.
const ULIMITS: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `name=soft[:hard]`; -1 is unlimited; a single value is both.
pub fn ulimit(value: &str) -> Result<Rlimit, String> {
    let (name, limits) = value
        .split_once('=')
        .ok_or_else(|| "expected NAME=SOFT[:HARD]".to_string())?;
    if !ULIMITS.contains(&name) {
        return Err(format!("unknown limit {name:?} ({})", ULIMITS.join(", ")));
    }
    let number = |s: &str| -> Result<Option<u64>, String> {
        match s.trim() {
            "-1" | "unlimited" => Ok(None),
            n => n
                .parse()
                .map(Some)
                .map_err(|_| format!("{n:?} is not a number")),
        }
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (number(s)?, number(h)?),
        None => {
            let v = number(limits)?;
            (v, v)
        }
    };
    match (soft, hard) {
        (Some(s), Some(h)) if s > h => return Err(format!("soft {s} is above hard {h}")),
        (None, Some(_)) => return Err("an unlimited soft limit needs an unlimited hard one".into()),
        _ => {}
    }
    Ok(Rlimit {
        kind: format!("RLMT_{}", name.to_ascii_uppercase()),
        soft,
        hard,
    })
}

/// `current` (None: Docker's default set) with `name` added or dropped; `ALL` adds every capability or drops
/// them all.
pub fn capability_set(
    current: Option<Vec<String>>,
    name: &str,
    add: bool,
) -> Result<Vec<String>, String> {
    let mut set: Vec<String> = current.unwrap_or_else(|| {
        ucr_isolators::linux::capabilities::DEFAULT
            .iter()
            .map(|c| c.to_string())
            .collect()
    });
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper).to_string();
    if bare == "ALL" {
        set = if add {
            let mut all: Vec<String> = caps::all()
                .iter()
                .map(|c| c.to_string().trim_start_matches("CAP_").to_string())
                .collect();
            all.sort();
            all
        } else {
            Vec::new()
        };
        return Ok(set);
    }
    if format!("CAP_{bare}").parse::<caps::Capability>().is_err() {
        return Err(format!("unknown capability {name:?}"));
    }
    set.retain(|c| *c != bare);
    if add {
        set.push(bare);
    }
    Ok(set)
}

/// tmpfs options docker passes on (mount(8) names).
const TMPFS_OPTIONS: [&str; 13] = [
    "rw",
    "ro",
    "exec",
    "noexec",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
];

/// `--tmpfs PATH[:OPTION,...]`.
pub fn tmpfs(value: &str) -> Result<Tmpfs, String> {
    let (path, options) = value.split_once(':').unwrap_or((value, ""));
    if !path.starts_with('/') || path.split('/').any(|c| c == "..") {
        return Err("the path must be absolute, without '..'".into());
    }
    let options: Vec<String> = options
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(o) = options
        .iter()
        .find(|o| !TMPFS_OPTIONS.contains(&o.split('=').next().unwrap_or("")))
    {
        return Err(format!("option {o:?} ({})", TMPFS_OPTIONS.join(", ")));
    }
    Ok(Tmpfs {
        path: path.to_string(),
        options,
    })
}

/// `--device HOST[:CONTAINER[:PERMS]]` (PERMS some of rwm, default rwm; CONTAINER defaults to HOST).
pub fn device(value: &str) -> Result<Device, String> {
    let mut parts = value.split(':');
    let host = parts.next().unwrap_or("");
    let second = parts.next();
    let third = parts.next();
    if parts.next().is_some() || !host.starts_with("/dev/") {
        return Err("expected /dev/HOST[:/dev/CONTAINER[:rwm]]".into());
    }
    // docker: `--device /dev/x:rw` is HOST:PERMS when the second part is not a path.
    let (container, access) = match (second, third) {
        (Some(p), None) if !p.starts_with('/') => (host, p),
        (Some(c), a) => (c, a.unwrap_or("rwm")),
        (None, _) => (host, "rwm"),
    };
    if !container.starts_with("/dev/") || container.split('/').any(|c| c == "..") {
        return Err(format!("{container}: the device must appear under /dev"));
    }
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(format!("permissions {access:?}: some of r, w, m"));
    }
    Ok(Device {
        host_path: host.to_string(),
        container_path: container.to_string(),
        access: access.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_reads_them() {
        assert_eq!(size_mb("512m"), Ok(512.0));
        assert_eq!(size_mb("1g"), Ok(1024.0));
        assert_eq!(size_mb("1G"), Ok(1024.0));
        assert_eq!(size_mb("1048576"), Ok(1.0));
        assert_eq!(size_mb("2048k"), Ok(2.0));
        assert_eq!(size_mb("64mb"), Ok(64.0));
        assert!(size_mb("1x").is_err() && size_mb("").is_err() && size_mb("0").is_err());
    }

    #[test]
    fn devices_as_docker_reads_them() {
        let d = device("/dev/fuse").expect("fuse");
        assert_eq!(
            (d.container_path.as_str(), d.access.as_str()),
            ("/dev/fuse", "rwm")
        );
        let d = device("/dev/sda:/dev/xvda:r").expect("sda");
        assert_eq!(
            (d.container_path.as_str(), d.access.as_str()),
            ("/dev/xvda", "r")
        );
        let d = device("/dev/kvm:rw").expect("kvm");
        assert_eq!(
            (d.container_path.as_str(), d.access.as_str()),
            ("/dev/kvm", "rw")
        );
        for bad in [
            "fuse",
            "/etc/passwd",
            "/dev/a:/etc/b",
            "/dev/a:/dev/b:x",
            "/dev/a:/dev/../b",
        ] {
            assert!(device(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ulimits_and_capabilities() {
        let r = ulimit("nproc=-1").expect("nproc");
        assert_eq!(
            (r.kind.as_str(), r.soft, r.hard),
            ("RLMT_NPROC", None, None)
        );
        let r = ulimit("core=0").expect("core");
        assert_eq!((r.soft, r.hard), (Some(0), Some(0)));
        let all = capability_set(None, "ALL", true).expect("all");
        assert!(
            all.len() > 35 && all.contains(&"SYS_ADMIN".to_string()),
            "{all:?}"
        );
        assert_eq!(capability_set(None, "all", false), Ok(Vec::new()));
        let s = capability_set(Some(vec!["KILL".into()]), "cap_sys_ptrace", true).expect("add");
        assert_eq!(s, vec!["KILL".to_string(), "SYS_PTRACE".to_string()]);
    }
}
