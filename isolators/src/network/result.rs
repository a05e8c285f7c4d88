//! What ucr reads from a CNI ADD result: the container's addresses and its DNS settings. Results of every
//! version this runtime speaks are read: 0.3.0 and later list `ips` (`address` in CIDR form, `interface` an
//! index into `interfaces`), 0.1.0/0.2.0 have `ip4`/`ip6` objects.

use std::net::IpAddr;

use serde_json::Value;

/// The addresses of the container and the DNS settings a CNI result gives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attached {
    /// The container's addresses, IPv4 first, in result order otherwise.
    pub ips: Vec<IpAddr>,
    pub dns: Dns,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dns {
    pub nameservers: Vec<String>,
    pub domain: Option<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn address(cidr: &str) -> Option<IpAddr> {
    cidr.split('/').next()?.parse().ok()
}

pub fn parse(result: &Value) -> Attached {
    let mut ips: Vec<IpAddr> = Vec::new();
    if let Some(list) = result.get("ips").and_then(Value::as_array) {
        let interfaces = result.get("interfaces").and_then(Value::as_array);
        for ip in list {
            // An address on a host-side interface (no `sandbox`) is not the container's.
            let on_host = ip
                .get("interface")
                .and_then(Value::as_u64)
                .and_then(|i| interfaces.and_then(|l| l.get(i as usize)))
                .is_some_and(|iface| {
                    iface
                        .get("sandbox")
                        .and_then(Value::as_str)
                        .is_none_or(str::is_empty)
                });
            if on_host {
                continue;
            }
            if let Some(a) = ip.get("address").and_then(Value::as_str).and_then(address) {
                ips.push(a);
            }
        }
    } else {
        for key in ["ip4", "ip6"] {
            if let Some(a) = result
                .get(key)
                .and_then(|o| o.get("ip"))
                .and_then(Value::as_str)
                .and_then(address)
            {
                ips.push(a);
            }
        }
    }
    ips.sort_by_key(|a| a.is_ipv6());
    let dns = result.get("dns").cloned().unwrap_or(Value::Null);
    Attached {
        ips,
        dns: Dns {
            nameservers: strings(dns.get("nameservers")),
            domain: dns
                .get("domain")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
            search: strings(dns.get("search")),
            options: strings(dns.get("options")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn v1_result_container_addresses_only() {
        let r = json!({
            "cniVersion": "1.0.0",
            "interfaces": [{"name": "mesos-cni0"}, {"name": "veth1"}, {"name": "eth0", "sandbox": "/x/netns"}],
            "ips": [
                {"interface": 0, "address": "10.1.0.1/24"},
                {"interface": 2, "address": "fd00::5/64"},
                {"interface": 2, "address": "10.1.0.5/24", "gateway": "10.1.0.1"}
            ],
            "dns": {"nameservers": ["10.1.0.1"], "domain": "x.local", "search": ["a", "b"], "options": ["ndots:2"]}
        });
        let a = parse(&r);
        assert_eq!(
            a.ips,
            vec![
                "10.1.0.5".parse::<IpAddr>().expect("ip"),
                "fd00::5".parse().expect("ip")
            ]
        );
        assert_eq!(a.dns.nameservers, vec!["10.1.0.1"]);
        assert_eq!(a.dns.domain.as_deref(), Some("x.local"));
        assert_eq!((a.dns.search.len(), a.dns.options.len()), (2, 1));
    }

    #[test]
    fn old_results_and_missing_fields() {
        let a = parse(&json!({"cniVersion": "0.2.0", "ip4": {"ip": "10.2.0.7/16"}, "dns": {}}));
        assert_eq!(a.ips, vec!["10.2.0.7".parse::<IpAddr>().expect("ip")]);
        assert_eq!(a.dns, Dns::default());
        // An address without interface index counts as the container's (bridge results from 0.3.x omit none).
        let a = parse(&json!({"ips": [{"address": "10.3.0.2/24"}]}));
        assert_eq!(a.ips.len(), 1);
        assert_eq!(parse(&json!({})), Attached::default());
    }
}
