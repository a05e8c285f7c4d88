//! The name-resolution files of a container with its own network: `/etc/hostname`, `/etc/hosts` (localhost and
//! the container's own addresses under its hostname) and `/etc/resolv.conf` (the CNI result's DNS settings,
//! else the host's). They are written into the isolator's checkpoint dir and bind-mounted read-only, so the
//! image's own files are never changed and a task cannot rewrite them for the next one.

use std::net::IpAddr;
use std::path::Path;

use oci_spec::runtime::{Mount, MountBuilder};

use super::result::Dns;
use crate::error::{IsolatorError, Result};
use crate::vocab::Resolver;

/// The container's hostname: the requested one, else the container id cut to a valid hostname (as Mesos uses
/// the container id, and as the launcher names a container with its own UTS namespace).
pub fn hostname(requested: Option<&str>, id: &str) -> std::result::Result<String, String> {
    if let Some(h) = requested {
        let ok = !h.is_empty()
            && h.len() <= 64
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            && !h.starts_with(['-', '.']);
        return if ok {
            Ok(h.to_string())
        } else {
            Err(format!(
                "hostname {h:?} is not a valid hostname (letters, digits, '-', '.'; at most 64)"
            ))
        };
    }
    let s: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(63)
        .collect();
    Ok(if s.is_empty() { "ucr".into() } else { s })
}

pub fn hosts(hostname: &str, ips: &[IpAddr]) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    if ips.is_empty() {
        // No network: the hostname still resolves, to loopback (Debian's convention).
        s.push_str(&format!("127.0.1.1\t{hostname}\n"));
    }
    for ip in ips {
        s.push_str(&format!("{ip}\t{hostname}\n"));
    }
    s
}

/// resolv.conf from the CNI result's DNS, or `host` (the host's file) when the result gives no nameserver.
pub fn resolv_conf(dns: &Dns, host: &str) -> String {
    if dns.nameservers.is_empty() {
        return host.to_string();
    }
    let mut s = String::new();
    for n in &dns.nameservers {
        s.push_str(&format!("nameserver {n}\n"));
    }
    if let Some(d) = &dns.domain {
        s.push_str(&format!("domain {d}\n"));
    }
    if !dns.search.is_empty() {
        s.push_str(&format!("search {}\n", dns.search.join(" ")));
    }
    if !dns.options.is_empty() {
        s.push_str(&format!("options {}\n", dns.options.join(" ")));
    }
    s
}

/// `hosts` with the request's extra entries appended (Docker `--add-host`).
pub fn with_extra_hosts(mut hosts: String, extra: &[(String, String)]) -> String {
    for (name, ip) in extra {
        hosts.push_str(&format!("{ip}\t{name}\n"));
    }
    hosts
}

/// `base` (a resolv.conf) with the request's settings in place of its own: given nameservers replace every
/// `nameserver` line, a given search list the `search`/`domain` lines, given options the `options` line.
pub fn with_resolver(base: &str, r: &Resolver) -> String {
    let keep = |l: &&str| {
        let word = l.split_whitespace().next().unwrap_or("");
        !((word == "nameserver" && !r.nameservers.is_empty())
            || ((word == "search" || word == "domain") && !r.search.is_empty())
            || (word == "options" && !r.options.is_empty()))
    };
    let mut s: String = base
        .lines()
        .filter(keep)
        .map(|l| format!("{l}\n"))
        .collect();
    for n in &r.nameservers {
        s.push_str(&format!("nameserver {n}\n"));
    }
    if !r.search.is_empty() {
        s.push_str(&format!("search {}\n", r.search.join(" ")));
    }
    if !r.options.is_empty() {
        s.push_str(&format!("options {}\n", r.options.join(" ")));
    }
    s
}

/// The host's resolver config as a container sees it: a loopback-only stub resolver (systemd-resolved's
/// 127.0.0.53) is unreachable from another network namespace, so its upstream file is used instead.
pub fn host_resolv_conf() -> String {
    let main = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let loopback_only = {
        let mut servers = main
            .lines()
            .filter_map(|l| l.trim().strip_prefix("nameserver"))
            .map(str::trim)
            .peekable();
        servers.peek().is_some()
            && servers.all(|s| s.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()))
    };
    if loopback_only {
        if let Ok(upstream) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            return upstream;
        }
    }
    main
}

/// Writes the three files into `dir` and returns their read-only bind mounts.
pub fn write(dir: &Path, hostname: &str, hosts: &str, resolv: &str) -> Result<Vec<Mount>> {
    let mut mounts = Vec::new();
    for (name, text) in [
        ("hostname", format!("{hostname}\n")),
        ("hosts", hosts.to_string()),
        ("resolv.conf", resolv.to_string()),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| IsolatorError::io(&p, e))?;
        let m = MountBuilder::default()
            .destination(format!("/etc/{name}"))
            .typ("bind")
            .source(&p)
            .options(
                ["bind", "ro", "nosuid", "nodev", "noexec"]
                    .map(String::from)
                    .to_vec(),
            )
            .build()
            .map_err(|e| IsolatorError::invalid("network/cni", e.to_string()))?;
        mounts.push(m);
    }
    Ok(mounts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_hosts_and_resolver_settings_over_the_base() {
        let h = with_extra_hosts(
            "127.0.0.1\tlocalhost\n".into(),
            &[("db".into(), "10.0.0.5".into())],
        );
        assert_eq!(h, "127.0.0.1\tlocalhost\n10.0.0.5\tdb\n");
        let base = "# host\nnameserver 1.1.1.1\nsearch corp\noptions ndots:2\n";
        let r = Resolver {
            nameservers: vec!["10.0.0.2".into()],
            search: vec![],
            options: vec!["timeout:1".into()],
        };
        assert_eq!(
            with_resolver(base, &r),
            "# host\nsearch corp\nnameserver 10.0.0.2\noptions timeout:1\n"
        );
    }

    #[test]
    fn hostnames() {
        assert_eq!(hostname(None, "web.1:abc").as_deref(), Ok("web1abc"));
        assert_eq!(hostname(None, "::").as_deref(), Ok("ucr"));
        assert_eq!(hostname(None, &"a".repeat(100)).map(|h| h.len()), Ok(63));
        assert_eq!(
            hostname(Some("db-1.local"), "x").as_deref(),
            Ok("db-1.local")
        );
        for bad in ["", "a b", "-x", &"h".repeat(65)] {
            assert!(hostname(Some(bad), "x").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hosts_and_resolv() {
        let ip: IpAddr = "172.31.254.5".parse().expect("ip");
        let h = hosts("web", &[ip]);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(
            h.ends_with("172.31.254.5\tweb\n") && !h.contains("127.0.1.1"),
            "{h}"
        );
        assert!(hosts("web", &[]).ends_with("127.0.1.1\tweb\n"));
        let dns = Dns {
            nameservers: vec!["10.0.0.2".into(), "10.0.0.3".into()],
            domain: Some("corp".into()),
            search: vec!["a.corp".into(), "corp".into()],
            options: vec!["ndots:3".into()],
        };
        assert_eq!(
            resolv_conf(&dns, "nameserver 9.9.9.9\n"),
            "nameserver 10.0.0.2\nnameserver 10.0.0.3\ndomain corp\nsearch a.corp corp\noptions ndots:3\n"
        );
        assert_eq!(
            resolv_conf(&Dns::default(), "nameserver 9.9.9.9\n"),
            "nameserver 9.9.9.9\n"
        );
    }

    #[test]
    fn writes_files_and_read_only_mounts() {
        let d = tempfile::tempdir().expect("tempdir");
        let m = write(d.path(), "web", "H", "R").expect("write");
        let dests: Vec<String> = m
            .iter()
            .map(|m| m.destination().display().to_string())
            .collect();
        assert_eq!(dests, ["/etc/hostname", "/etc/hosts", "/etc/resolv.conf"]);
        assert!(m.iter().all(|m| m
            .options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x == "ro"))));
        assert_eq!(
            std::fs::read_to_string(d.path().join("hostname")).unwrap_or_default(),
            "web\n"
        );
    }
}
