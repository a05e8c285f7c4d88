//! AppC image names as requests write them: `appc:NAME[:VERSION][,LABEL=VALUE...][@sha512-HEX]`.
//!
//! `NAME` is an AC Identifier (appc `spec/types.md`: lowercase ASCII letters, digits and `-._~/`, starting and
//! ending with a letter or digit). `:VERSION` is the `version` label. `@sha512-…` is the image id the request
//! pins (Mesos `Image.appc.id`, Marathon `container.appc.id`): the fetched image must hash to it, or the pull
//! fails naming both. An id may be shortened to rkt's 32 hex digits or more; it then matches as a prefix.
//!
//! Discovery needs `os` and `arch`; [`AppcName::discovery_labels`] fills them with the host's, and `version`
//! with `latest` as Mesos does. For matching a manifest, a label the request did not name matches any value.

use std::collections::BTreeMap;
use std::fmt;

use super::error::{AppcError, Result};

/// The shortest id prefix accepted (rkt prints ids shortened to `sha512-` + 32 hex digits).
pub const MIN_ID_HEX: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AppcName {
    pub name: String,
    /// Labels the request names (`version` included), sorted.
    pub labels: BTreeMap<String, String>,
    /// `sha512-<hex>`, maybe shortened.
    pub id: Option<String>,
}

impl AppcName {
    /// Parses what follows `appc:`.
    pub fn parse(text: &str) -> Result<AppcName> {
        let bad = |why: String| AppcError::Name {
            name: text.to_string(),
            why,
        };
        let (rest, id) = match text.rsplit_once('@') {
            Some((r, id)) => (r, Some(id.to_string())),
            None => (text, None),
        };
        if let Some(id) = &id {
            check_id(id).map_err(|why| bad(why.to_string()))?;
        }
        let mut parts = rest.split(',');
        let head = parts.next().unwrap_or_default();
        let (name, version) = match head.split_once(':') {
            Some((n, v)) => (n, Some(v)),
            None => (head, None),
        };
        check_identifier(name).map_err(|why| bad(format!("name `{name}`: {why}")))?;
        let mut labels = BTreeMap::new();
        if let Some(v) = version {
            if v.is_empty() {
                return Err(bad("empty version after `:`".into()));
            }
            labels.insert("version".to_string(), v.to_string());
        }
        for part in parts {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("`{part}` is not LABEL=VALUE")))?;
            check_identifier(k).map_err(|why| bad(format!("label `{k}`: {why}")))?;
            if k == "name" {
                return Err(bad("a label may not be called `name`".into()));
            }
            if v.is_empty() {
                return Err(bad(format!("label `{k}` has an empty value")));
            }
            if labels.insert(k.to_string(), v.to_string()).is_some() {
                return Err(bad(format!("label `{k}` given twice")));
            }
        }
        Ok(AppcName {
            name: name.to_string(),
            labels,
            id,
        })
    }

    /// The `appc:…` reference of a Mesos `Image.appc {name, id, labels}` or a Marathon `container.appc` /
    /// pod `image` (kind APPC): every label kept (Marathon adds `os` and `arch`; they must match the host's
    /// anyway), the id pinned when given. Checked when the reference is parsed back.
    pub fn reference<'a>(
        name: &str,
        labels: impl IntoIterator<Item = (&'a String, &'a String)>,
        id: Option<&str>,
    ) -> String {
        AppcName {
            name: name.to_string(),
            labels: labels
                .into_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            id: id.filter(|i| !i.is_empty()).map(str::to_string),
        }
        .to_string()
    }

    pub fn version(&self) -> Option<&str> {
        self.labels.get("version").map(String::as_str)
    }

    /// The labels discovery substitutes: the request's, with `version` defaulting to `latest` and `os`/`arch`
    /// to the host's (in AppC's names: `amd64`, `i386`, `aarch64`, `armv7l`, ...).
    pub fn discovery_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        l.entry("version".into()).or_insert_with(|| "latest".into());
        l.entry("os".into())
            .or_insert_with(|| std::env::consts::OS.to_string());
        l.entry("arch".into()).or_insert_with(host_arch);
        l
    }

    /// Whether a manifest with this name and these labels is what the request asks for: same name, and every
    /// label the request names (`os` and `arch` defaulting to the host's) has the asked value. `version` is only
    /// matched when named: `latest` in a URL is discovery's default, not a label to match.
    pub fn matches(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        if name != self.name {
            return false;
        }
        let mut want = self.labels.clone();
        want.entry("os".into())
            .or_insert_with(|| std::env::consts::OS.to_string());
        want.entry("arch".into()).or_insert_with(host_arch);
        want.iter().all(|(k, v)| labels.get(k) == Some(v))
    }

    /// Whether an image id (`sha512-<128 hex>`) is the one the request pins (or no id is pinned).
    pub fn id_matches(&self, full: &str) -> bool {
        self.id.as_deref().is_none_or(|id| full.starts_with(id))
    }
}

impl fmt::Display for AppcName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "appc:{}", self.name)?;
        if let Some(v) = self.version() {
            write!(f, ":{v}")?;
        }
        for (k, v) in self.labels.iter().filter(|(k, _)| *k != "version") {
            write!(f, ",{k}={v}")?;
        }
        if let Some(id) = &self.id {
            write!(f, "@{id}")?;
        }
        Ok(())
    }
}

/// AppC's name for this host's architecture (appc `spec/types.md`, "Arch Legend").
pub fn host_arch() -> String {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "i386",
        "arm" => "armv7l",
        "powerpc64" => "ppc64",
        other => other,
    }
    .to_string()
}

/// An AC Identifier: lowercase ASCII letters, digits and `-._~/`, beginning and ending with a letter or digit.
pub fn check_identifier(s: &str) -> std::result::Result<(), &'static str> {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (s.bytes().next(), s.bytes().last()) {
        (None, _) | (_, None) => Err("empty"),
        (Some(a), Some(z)) if !alnum(a) || !alnum(z) => {
            Err("must begin and end with a lowercase letter or digit")
        }
        _ if !s.bytes().all(|b| alnum(b) || b"-._~/".contains(&b)) => {
            Err("only lowercase letters, digits and -._~/ are allowed")
        }
        _ => Ok(()),
    }
}

/// An image id: `sha512-` and 128 lowercase hex digits, or at least [`MIN_ID_HEX`] of them.
pub fn check_id(id: &str) -> std::result::Result<(), &'static str> {
    let hex = id
        .strip_prefix("sha512-")
        .ok_or("an image id is sha512-<hex> (sha512 is AppC's only algorithm)")?;
    if hex.len() < MIN_ID_HEX || hex.len() > 128 {
        return Err("an image id has 128 hex digits (at least 32 when shortened)");
    }
    if !hex
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err("an image id is lowercase hex");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_labels_and_ids_parse_and_print_back() {
        let id = format!("sha512-{}", "ab".repeat(64));
        let n =
            AppcName::parse(&format!("example.com/worker:1.0.0,channel=beta@{id}")).expect("ok");
        assert_eq!(n.name, "example.com/worker");
        assert_eq!(n.version(), Some("1.0.0"));
        assert_eq!(n.labels["channel"], "beta");
        assert!(n.id_matches(&id) && !n.id_matches(&format!("sha512-{}", "cd".repeat(64))));
        assert_eq!(
            n.to_string(),
            format!("appc:example.com/worker:1.0.0,channel=beta@{id}")
        );
        let bare = AppcName::parse("127.0.0.5/worker").expect("an address is an identifier");
        assert_eq!(bare.discovery_labels()["version"], "latest");
        assert!(bare.id_matches(&id));
    }

    #[test]
    fn bad_names_say_what_is_wrong() {
        for (bad, says) in [
            ("Example.com/x", "lowercase"),
            ("-x", "begin and end"),
            ("x:", "empty version"),
            ("x,version", "LABEL=VALUE"),
            ("x,name=y", "`name`"),
            ("x:1,version=2", "twice"),
            ("x@sha256-00", "sha512"),
            ("x@sha512-abc", "128 hex"),
            (
                "x@sha512-ABCDEFABCDEFABCDEFABCDEFABCDEFABCDEF",
                "lowercase hex",
            ),
        ] {
            let e = AppcName::parse(bad).expect_err(bad).to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn unnamed_labels_match_anything_and_os_arch_default_to_the_host() {
        let n = AppcName::parse("example.com/w").expect("ok");
        let mut labels = BTreeMap::from([
            ("version".to_string(), "7".to_string()),
            ("os".to_string(), "linux".to_string()),
            ("arch".to_string(), host_arch()),
        ]);
        assert!(n.matches("example.com/w", &labels));
        assert!(!n.matches("example.com/v", &labels));
        labels.insert("arch".into(), "s390x-not-here".into());
        assert!(!n.matches("example.com/w", &labels));
        let pinned = AppcName::parse("example.com/w:8").expect("ok");
        labels.insert("arch".into(), host_arch());
        assert!(!pinned.matches("example.com/w", &labels));
    }
}
