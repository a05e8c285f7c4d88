//! CNI network configurations: the files in `--network_cni_config_dir`, found by network name, and the bundled
//! `mesos-bridge` network written there when no file defines it (Marathon's `container/bridge` mode joins the
//! network of that name, so it must work out of the box).
//!
//! Files are read as libcni reads them: `*.conflist` (a list with `plugins`), `*.conf` and `*.json` (one plugin,
//! treated as a list of one), in name order. A file that does not parse is skipped with a warning unless it is
//! the only place the wanted network could be; two files defining the same name are an error naming both, as
//! Mesos refuses them.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{IsolatorError, Result};

/// Default `--network_cni_config_dir`: ucr's own, beside `/etc/ucr/certs.d`. Not `/etc/cni/net.d`: other
/// runtimes (kubelet, podman) take the first file there as their default network, and ucr writes its bundled
/// network into this dir.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/ucr/cni";

/// Default `--network_cni_plugins_dir` (a `:`-separated search path, like CNI_PATH): where Debian's
/// containernetworking-plugins puts them, then the upstream default.
pub const DEFAULT_PLUGINS_PATH: &str = "/usr/lib/cni:/opt/cni/bin";

/// The network Marathon's `container/bridge` mode joins (Mesos's name for it).
pub const BRIDGE_NETWORK: &str = "mesos-bridge";

/// The bridge device of the bundled network (DC/OS's name for it).
pub const BRIDGE_DEVICE: &str = "mesos-cni0";

/// CNI versions this runtime speaks, highest first.
const VERSIONS: &[&str] = &[
    "1.1.0", "1.0.0", "0.4.0", "0.3.1", "0.3.0", "0.2.0", "0.1.0",
];

/// One network: its plugin chain as written, and the version to speak to it.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkConfig {
    pub name: String,
    pub cni_version: String,
    /// Each plugin's own object (`type`, its settings, `capabilities`), without `name` and `cniVersion`,
    /// which are added per invocation.
    pub plugins: Vec<Value>,
    pub file: PathBuf,
}

fn cni_err(network: &str, file: &Path, why: impl Into<String>) -> IsolatorError {
    IsolatorError::Cni {
        network: network.to_string(),
        plugin: format!("config {}", file.display()),
        why: why.into(),
    }
}

/// Parses one config file's text.
pub fn parse(file: &Path, text: &str) -> Result<NetworkConfig> {
    let v: Value = serde_json::from_str(text).map_err(|e| cni_err("?", file, e.to_string()))?;
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| cni_err("?", file, "no \"name\""))?
        .to_string();
    let cni_version = version_of(&v).ok_or_else(|| {
        cni_err(
            &name,
            file,
            format!(
                "no usable \"cniVersion\" (ucr speaks {})",
                VERSIONS.join(", ")
            ),
        )
    })?;
    let plugins = match v.get("plugins") {
        Some(Value::Array(list)) if !list.is_empty() => list.clone(),
        Some(_) => return Err(cni_err(&name, file, "\"plugins\" must be a non-empty list")),
        None => {
            // A single-plugin .conf: the plugin is the whole object.
            let mut one = v.clone();
            if let Some(m) = one.as_object_mut() {
                m.remove("name");
                m.remove("cniVersion");
            }
            vec![one]
        }
    };
    for (i, p) in plugins.iter().enumerate() {
        if p.get("type")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(cni_err(
                &name,
                file,
                format!("plugins[{i}] has no \"type\""),
            ));
        }
    }
    Ok(NetworkConfig {
        name,
        cni_version,
        plugins,
        file: file.to_path_buf(),
    })
}

/// The version to use: the highest of `cniVersions` (CNI 1.1) that ucr speaks, else `cniVersion`.
fn version_of(v: &Value) -> Option<String> {
    if let Some(list) = v.get("cniVersions").and_then(Value::as_array) {
        let offered: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
        if let Some(best) = VERSIONS.iter().find(|k| offered.contains(k)) {
            return Some(best.to_string());
        }
    }
    let one = v.get("cniVersion").and_then(Value::as_str)?;
    VERSIONS.contains(&one).then(|| one.to_string())
}

/// Finds the network `name` in `dir`; None when no file defines it.
pub fn find(dir: &Path, name: &str) -> Result<Option<NetworkConfig>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IsolatorError::io(dir, e)),
    };
    files.retain(|p| {
        matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("conf" | "conflist" | "json")
        )
    });
    files.sort();
    let mut found: Option<NetworkConfig> = None;
    let mut broken = Vec::new();
    for f in files {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                broken.push(format!("{}: {e}", f.display()));
                continue;
            }
        };
        match parse(&f, &text) {
            Ok(c) if c.name == name => {
                if let Some(first) = &found {
                    return Err(cni_err(
                        name,
                        &f,
                        format!(
                            "also defined by {}; network names must be unique",
                            first.file.display()
                        ),
                    ));
                }
                found = Some(c);
            }
            Ok(_) => {}
            Err(e) => broken.push(e.to_string()),
        }
    }
    if found.is_none() && !broken.is_empty() {
        // One of them may have been meant to define it: say why they were skipped.
        return Err(IsolatorError::Cni {
            network: name.to_string(),
            plugin: format!("config dir {}", dir.display()),
            why: format!(
                "no valid config defines it; unreadable: {}",
                broken.join("; ")
            ),
        });
    }
    for b in &broken {
        tracing::warn!(network = name, "skipping CNI config: {b}");
    }
    Ok(found)
}

/// Finds `name`; for the bundled network, writes its config into `dir` first when no file defines it.
pub fn find_or_default(dir: &Path, name: &str) -> Result<NetworkConfig> {
    if let Some(c) = find(dir, name)? {
        return Ok(c);
    }
    if name != BRIDGE_NETWORK {
        return Err(IsolatorError::Cni {
            network: name.to_string(),
            plugin: format!("config dir {}", dir.display()),
            why: "no CNI config defines this network (--network_cni_config_dir)".into(),
        });
    }
    let subnet = free_subnet(&host_routes()).ok_or_else(|| IsolatorError::Cni {
        network: name.to_string(),
        plugin: "bundled config".into(),
        why: "every candidate private subnet collides with a host route; write a config for it"
            .into(),
    })?;
    let file = dir.join(format!("{BRIDGE_NETWORK}.conflist"));
    let text = serde_json::to_string_pretty(&default_bridge(subnet)).unwrap_or_default();
    write_new(&file, text.as_bytes())?;
    tracing::info!(file = %file.display(), %subnet, "wrote the default {BRIDGE_NETWORK} network");
    // Read back what is there: a concurrent launch may have written its own first.
    find(dir, name)?.ok_or_else(|| cni_err(name, &file, "written but not found again"))
}

/// The bundled `mesos-bridge`: a bridge with NAT to the outside, host-local addresses, and portmap for host
/// ports (with `snat`, so the host's own `127.0.0.1:<hostPort>` reaches the container too).
pub fn default_bridge(subnet: Ipv4Addr) -> Value {
    json!({
        "cniVersion": "1.0.0",
        "name": BRIDGE_NETWORK,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE_DEVICE,
                "isGateway": true,
                "ipMasq": true,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": format!("{subnet}/24")}]],
                    "routes": [{"dst": "0.0.0.0/0"}]
                }
            },
            {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}
        ]
    })
}

/// Writes `file` only if absent (temp file, then a hard link, which fails if another writer won).
fn write_new(file: &Path, data: &[u8]) -> Result<()> {
    let dir = file.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(|e| IsolatorError::io(dir, e))?;
    // Unique per call: the agent's threads write configs here at once.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{}.{n}.tmp", std::process::id()));
    std::fs::write(&tmp, data).map_err(|e| IsolatorError::io(&tmp, e))?;
    let linked = std::fs::hard_link(&tmp, file);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(IsolatorError::io(file, e)),
    }
}

/// IPv4 routes of the host as (destination, netmask), the default route and our own bridge's left out.
pub fn host_routes() -> Vec<(u32, u32)> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    parse_routes(&text)
}

fn parse_routes(text: &str) -> Vec<(u32, u32)> {
    let hex = |s: &str| u32::from_str_radix(s, 16).ok();
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (iface, dst, mask) = (f.first()?, hex(f.get(1)?)?, hex(f.get(7)?)?);
            // /proc/net/route prints each address's in-memory (network order) bytes as a native u32.
            let addr = |x: u32| u32::from(Ipv4Addr::from(x.to_ne_bytes()));
            let (dst, mask) = (addr(dst), addr(mask));
            (*iface != BRIDGE_DEVICE && mask != 0).then_some((dst, mask))
        })
        .collect()
}

/// The first /24 among private candidates that overlaps no route.
pub fn free_subnet(routes: &[(u32, u32)]) -> Option<Ipv4Addr> {
    let candidates = (0..16u8)
        .map(|i| Ipv4Addr::new(172, 31 - i, 254, 0))
        .chain((0..16u8).map(|i| Ipv4Addr::new(10, 254 - i, 254, 0)));
    let mask24 = 0xffff_ff00u32;
    candidates.into_iter().find(|c| {
        let c = u32::from(*c);
        routes.iter().all(|(dst, mask)| {
            let m = mask & mask24;
            (dst & m) != (c & m)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflist_and_single_conf() {
        let f = Path::new("/x/a.conflist");
        let c = parse(
            f,
            r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}"#,
        )
        .expect("parse");
        assert_eq!(
            (c.name.as_str(), c.cni_version.as_str(), c.plugins.len()),
            ("n", "1.0.0", 2)
        );
        let one = parse(
            f,
            r#"{"cniVersion":"0.4.0","name":"m","type":"ptp","ipMasq":true}"#,
        )
        .expect("parse");
        assert_eq!(one.plugins, vec![json!({"type":"ptp","ipMasq":true})]);
        let best = parse(
            f,
            r#"{"cniVersion":"0.4.0","cniVersions":["0.4.0","1.0.0","9.9.9"],"name":"v","plugins":[{"type":"x"}]}"#,
        )
        .expect("parse");
        assert_eq!(best.cni_version, "1.0.0");
        for bad in [
            r#"{"cniVersion":"1.0.0","plugins":[{"type":"x"}]}"#,
            r#"{"cniVersion":"7.0.0","name":"n","plugins":[{"type":"x"}]}"#,
            r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"notype":1}]}"#,
            r#"{"cniVersion":"1.0.0","name":"n","plugins":[]}"#,
        ] {
            let e = parse(f, bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("/x/a.conflist"), "{bad}: {e}");
        }
    }

    #[test]
    fn find_by_name_duplicates_and_broken_files() {
        let d = tempfile::tempdir().expect("tempdir");
        let w = |n: &str, t: &str| std::fs::write(d.path().join(n), t).expect("write");
        w(
            "10-a.conflist",
            r#"{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"bridge"}]}"#,
        );
        w(
            "20-b.conf",
            r#"{"cniVersion":"1.0.0","name":"b","type":"bridge"}"#,
        );
        w("README", "not a config");
        assert_eq!(
            find(d.path(), "b").expect("find").map(|c| c.name),
            Some("b".into())
        );
        assert!(find(d.path(), "zzz").expect("find").is_none());
        w(
            "30-a.json",
            r#"{"cniVersion":"1.0.0","name":"a","type":"ptp"}"#,
        );
        let e = find(d.path(), "a")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("10-a.conflist") && e.contains("30-a.json"),
            "{e}"
        );
        w("40-broken.conf", "{");
        assert!(find(d.path(), "b")
            .expect("broken file is skipped")
            .is_some());
        let e = find(d.path(), "c")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("40-broken.conf"), "{e}");
        assert!(find(&d.path().join("missing"), "a")
            .expect("no dir")
            .is_none());
    }

    #[test]
    fn default_bridge_is_written_once_on_a_free_subnet() {
        let d = tempfile::tempdir().expect("tempdir");
        let dir = d.path().join("cni");
        let e = find_or_default(&dir, "other")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("network other") && e.contains("no CNI config"),
            "{e}"
        );
        let c = find_or_default(&dir, BRIDGE_NETWORK).expect("default");
        assert_eq!(c.file, dir.join("mesos-bridge.conflist"));
        let types: Vec<&str> = c
            .plugins
            .iter()
            .filter_map(|p| p["type"].as_str())
            .collect();
        assert_eq!(types, ["bridge", "portmap"]);
        // An operator's edit is kept.
        let edited = c.plugins[0]["ipam"]["ranges"][0][0]["subnet"]
            .as_str()
            .unwrap_or("")
            .to_string();
        std::fs::write(
            &c.file,
            std::fs::read_to_string(&c.file)
                .unwrap_or_default()
                .replace(&edited, "10.9.9.0/24"),
        )
        .expect("edit");
        let again = find_or_default(&dir, BRIDGE_NETWORK).expect("again");
        assert_eq!(
            again.plugins[0]["ipam"]["ranges"][0][0]["subnet"],
            "10.9.9.0/24"
        );
    }

    #[test]
    fn routes_and_subnet_choice() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                    docker0\t0000FEAC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n\
                    mesos-cni0\t00FE1FAC\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        let routes = parse_routes(text);
        assert_eq!(
            routes,
            vec![
                (u32::from(Ipv4Addr::new(192, 0, 2, 0)), 0xffff_ff00),
                (u32::from(Ipv4Addr::new(172, 254, 0, 0)), 0xffff_0000),
            ]
        );
        assert_eq!(free_subnet(&routes), Some(Ipv4Addr::new(172, 31, 254, 0)));
        let busy = [(u32::from(Ipv4Addr::new(172, 16, 0, 0)), 0xfff0_0000)];
        assert_eq!(free_subnet(&busy), Some(Ipv4Addr::new(10, 254, 254, 0)));
        assert_eq!(
            free_subnet(&[(0x0a00_0000, 0xff00_0000), (0xac10_0000, 0xfff0_0000)]),
            None
        );
    }
}
