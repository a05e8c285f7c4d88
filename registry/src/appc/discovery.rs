//! Where an AppC image is (appc `spec/discovery.md`):
//! - **simple** (`--appc_simple_discovery_uri_prefix`, Mesos and rkt): `PREFIX{name}-{version}-{os}-{arch}.aci`
//!   and `.aci.asc` beside it; PREFIX is `http://…`, `https://…` (explicit port optional, unlike Mesos) or a
//!   local directory `/…`. No network is needed to form it.
//! - **meta**: `GET https://{name}?ac-discovery=1` (plain http only where allowed), the page's `ac-discovery`
//!   templates whose prefix the name starts with, rendered with `{name}`, `{ext}` and the labels; on a 4xx or
//!   no applicable tag, the parent path is tried (`a.com/b/c` → `a.com/b` → `a.com`). A template left with an
//!   unknown `{var}` or without `{ext}` is skipped, as the spec says it does not match.

use std::collections::BTreeMap;
use std::path::PathBuf;

use url::Url;

use super::error::{AppcError, Result};
use super::meta;
use super::name::AppcName;
use super::transport::{Location, Transport};
use crate::error::Error;

/// `--appc_simple_discovery_uri_prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prefix {
    Url(String),
    Dir(PathBuf),
}

impl Prefix {
    pub fn parse(s: &str) -> Result<Prefix> {
        let bad = |why: &str| AppcError::Option {
            flag: "--appc_simple_discovery_uri_prefix",
            value: s.to_string(),
            why: why.to_string(),
        };
        if s.starts_with('/') {
            return Ok(Prefix::Dir(PathBuf::from(s)));
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            Url::parse(s).map_err(|e| bad(&e.to_string()))?;
            return Ok(Prefix::Url(s.to_string()));
        }
        Err(bad(
            "must start with http://, https:// or / (a local directory)",
        ))
    }
}

#[derive(Clone, Debug)]
pub enum Discovery {
    Simple(Prefix),
    /// `port`: where the discovery page is asked for (None: 443, or 80 for the plain-http retry); appc's own
    /// discovery library takes one for tests too.
    Meta {
        port: Option<u16>,
    },
}

/// One place the image may be fetched from: the ACI and its detached signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub aci: Location,
    pub asc: Location,
}

#[derive(Clone, Debug, Default)]
pub struct Discovered {
    pub endpoints: Vec<Endpoint>,
    pub pubkeys: Vec<Url>,
}

/// The largest discovery page read.
const MAX_PAGE: u64 = 1 << 20;

pub async fn discover(name: &AppcName, how: &Discovery, t: &Transport) -> Result<Discovered> {
    match how {
        Discovery::Simple(p) => Ok(Discovered {
            endpoints: vec![simple(name, p)?],
            pubkeys: Vec::new(),
        }),
        Discovery::Meta { port } => meta_discover(name, *port, t).await,
    }
}

/// `PREFIX{name}-{version}-{os}-{arch}.aci`.
pub fn simple(name: &AppcName, prefix: &Prefix) -> Result<Endpoint> {
    let l = name.discovery_labels();
    let file = format!("{}-{}-{}-{}", name.name, l["version"], l["os"], l["arch"]);
    Ok(match prefix {
        Prefix::Dir(d) => Endpoint {
            aci: Location::File(d.join(format!("{file}.aci"))),
            asc: Location::File(d.join(format!("{file}.aci.asc"))),
        },
        Prefix::Url(u) => {
            let url = |ext: &str| {
                let s = format!("{u}{file}.{ext}");
                Url::parse(&s)
                    .map(Location::Url)
                    .map_err(|e| AppcError::Discovery {
                        image: name.to_string(),
                        why: format!("{s}: {e}"),
                    })
            };
            Endpoint {
                aci: url("aci")?,
                asc: url("aci.asc")?,
            }
        }
    })
}

async fn meta_discover(name: &AppcName, port: Option<u16>, t: &Transport) -> Result<Discovered> {
    let labels = name.discovery_labels();
    let mut tried = Vec::new();
    let mut path = name.name.as_str();
    loop {
        if let Some(found) = page(name, path, port, t, &labels, &mut tried).await? {
            return Ok(found);
        }
        match path.rsplit_once('/') {
            Some((parent, _)) => path = parent,
            None => break,
        }
    }
    Err(AppcError::Discovery {
        image: name.to_string(),
        why: format!("no ac-discovery template for it at {}", tried.join(", ")),
    })
}

/// The endpoints the page for `path` gives `name`; None: no page there (4xx) or no tag that applies.
async fn page(
    name: &AppcName,
    path: &str,
    port: Option<u16>,
    t: &Transport,
    labels: &BTreeMap<String, String>,
    tried: &mut Vec<String>,
) -> Result<Option<Discovered>> {
    let (host, rest) = path.split_once('/').map_or((path, ""), |(h, r)| (h, r));
    let at = |scheme: &str, default: u16| {
        let port = port.unwrap_or(default);
        Url::parse(&format!("{scheme}://{host}:{port}/{rest}?ac-discovery=1")).map_err(|e| {
            AppcError::Discovery {
                image: name.to_string(),
                why: format!("{host}: {e}"),
            }
        })
    };
    let https = at("https", 443)?;
    tried.push(https.to_string());
    let body = match t.get_small(&Location::Url(https.clone()), MAX_PAGE).await {
        Ok(b) => b,
        // The spec's insecure mode: a host allowed plain http is asked over http when https does not answer.
        Err(Error::Transport { .. } | Error::Tls { .. })
            if t.tls()
                .allows_plain_http(&super::transport::host_of(&https)) =>
        {
            let http = at("http", 80)?;
            tried.push(http.to_string());
            t.get_small(&Location::Url(http), MAX_PAGE)
                .await
                .or_else(client_error)?
        }
        Err(e) => client_error(e)?,
    };
    let Some(body) = body else {
        return Ok(None);
    };
    let mut found = Discovered::default();
    for tag in meta::tags(&body) {
        if !name.name.starts_with(&tag.prefix) {
            continue;
        }
        if tag.pubkeys {
            if let Ok(u) = Url::parse(&tag.value) {
                found.pubkeys.push(u);
            }
            continue;
        }
        let (Some(aci), Some(asc)) = (
            render(&tag.value, &name.name, labels, "aci"),
            render(&tag.value, &name.name, labels, "aci.asc"),
        ) else {
            continue;
        };
        let loc = |s: String| Url::parse(&s).ok().map(Location::Url);
        if let (Some(aci), Some(asc)) = (loc(aci), loc(asc)) {
            found.endpoints.push(Endpoint { aci, asc });
        }
    }
    Ok((!found.endpoints.is_empty()).then_some(found))
}

/// A 4xx is "no page here" (try the parent); anything else is an error.
fn client_error(e: Error) -> std::result::Result<Option<Vec<u8>>, AppcError> {
    match e {
        Error::Http { status, .. } if (400..500).contains(&status) => Ok(None),
        other => Err(other.into()),
    }
}

/// RFC 6570 level 1 over `{name}`, `{ext}` and the labels; None when a variable is unknown or `{ext}` is
/// missing (the template does not match).
pub fn render(
    template: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
    ext: &str,
) -> Option<String> {
    if !template.contains("{ext}") {
        return None;
    }
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        let var = &rest[open + 1..close];
        let value = match var {
            "name" => name,
            "ext" => ext,
            other => labels.get(other)?.as_str(),
        };
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> AppcName {
        AppcName::parse(s).expect("name")
    }

    #[test]
    fn simple_locations_for_urls_with_and_without_ports_and_for_a_directory() {
        let n = name("example.com/w:1.2");
        let arch = super::super::name::host_arch();
        let p = Prefix::parse("https://h/acis/").expect("prefix");
        let e = simple(&n, &p).expect("ok");
        assert_eq!(
            e.aci.to_string(),
            format!("https://h/acis/example.com/w-1.2-linux-{arch}.aci")
        );
        assert!(e.asc.to_string().ends_with(".aci.asc"));
        let p = Prefix::parse("http://h:8080/").expect("prefix");
        assert!(simple(&n, &p)
            .expect("ok")
            .aci
            .to_string()
            .starts_with("http://h:8080/example.com/w-1.2"));
        let p = Prefix::parse("/srv/acis/").expect("dir");
        assert_eq!(
            simple(&name("x"), &p).expect("ok").aci,
            Location::File(PathBuf::from(format!(
                "/srv/acis/x-latest-linux-{arch}.aci"
            )))
        );
        for bad in ["hdfs://nn/acis/", "acis/", "ftp://h/"] {
            let e = Prefix::parse(bad).expect_err(bad).to_string();
            assert!(e.contains("--appc_simple_discovery_uri_prefix"), "{e}");
        }
    }

    #[test]
    fn templates_render_only_when_every_variable_is_known() {
        let labels = BTreeMap::from([
            ("version".to_string(), "1".to_string()),
            ("os".to_string(), "linux".to_string()),
        ]);
        assert_eq!(
            render(
                "https://x/{name}-{version}-{os}.{ext}",
                "a/b",
                &labels,
                "aci"
            )
            .as_deref(),
            Some("https://x/a/b-1-linux.aci")
        );
        assert_eq!(render("https://x/{name}.aci", "a", &labels, "aci"), None);
        assert_eq!(
            render("https://x/{name}-{channel}.{ext}", "a", &labels, "aci"),
            None
        );
        assert_eq!(render("https://x/{name.{ext}", "a", &labels, "aci"), None);
    }
}
