//! Platforms (`linux/amd64`, `linux/arm/v7`) and choosing one manifest from an index, as containerd does:
//! exact os/arch, the variant when asked (arm64 defaults to v8, arm to v7), the host's platform by default.

use std::fmt;

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &&str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(ok) {
            return Err(Error::Platform(s.to_string()));
        }
        Ok(Platform {
            os: parts[0].to_ascii_lowercase(),
            arch: normalize_arch(parts[1]).to_string(),
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
        })
    }

    /// The platform this binary runs on, in OCI (GOARCH) names.
    pub fn host() -> Platform {
        let arch = normalize_arch(std::env::consts::ARCH).to_string();
        let variant = match arch.as_str() {
            "arm64" => Some("v8".to_string()),
            _ => None,
        };
        Platform {
            os: std::env::consts::OS.to_string(),
            arch,
            variant,
        }
    }

    /// Whether an index entry with these fields can run here.
    pub fn matches(&self, os: &str, arch: &str, variant: Option<&str>) -> bool {
        if !self.os.eq_ignore_ascii_case(os) || self.arch != normalize_arch(arch) {
            return false;
        }
        match (&self.variant, variant) {
            (Some(want), Some(got)) => want.eq_ignore_ascii_case(got),
            // An entry without a variant matches the arch's default variant.
            (Some(want), None) => default_variant(&self.arch) == Some(want.as_str()),
            (None, _) => true,
        }
    }
}

fn default_variant(arch: &str) -> Option<&'static str> {
    match arch {
        "arm64" => Some("v8"),
        "arm" => Some("v7"),
        _ => None,
    }
}

/// Rust/uname names to GOARCH names, which is what image indexes use.
fn normalize_arch(a: &str) -> &str {
    match a {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        "i386" | "i686" | "x86" => "386",
        "armhf" | "armel" => "arm",
        other => other,
    }
}

/// Whether this host's CPU has `feature` (a Docker manifest list's `platform.features`, e.g. `sse4`, `aes`),
/// by the `flags` (x86) or `Features` (arm) line of /proc/cpuinfo; `sse4` is had when `sse4_1` is.
pub(crate) fn host_has_cpu_feature(feature: &str) -> bool {
    static FLAGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let flags = FLAGS.get_or_init(|| {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        info.lines()
            .find(|l| l.starts_with("flags") || l.starts_with("Features"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    });
    let want = feature.to_ascii_lowercase();
    flags
        .iter()
        .any(|f| *f == want || f.split('_').next() == Some(want.as_str()))
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let p = Platform::parse("linux/amd64").expect("ok");
        assert!(p.matches("linux", "amd64", None));
        assert!(!p.matches("linux", "arm64", None));
        assert!(!p.matches("windows", "amd64", None));
        let p = Platform::parse("linux/arm64/v8").expect("ok");
        assert!(p.matches("linux", "arm64", None));
        assert!(p.matches("linux", "arm64", Some("v8")));
        let p = Platform::parse("linux/arm/v6").expect("ok");
        assert!(!p.matches("linux", "arm", Some("v7")));
        assert!(!p.matches("linux", "arm", None));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/amd64/v1/x").is_err());
        assert!(Platform::parse("linux/../x").is_err());
    }

    #[test]
    fn host_is_goarch() {
        let h = Platform::host();
        assert_eq!(h.os, "linux");
        assert!(!h.arch.contains('_'), "{}", h.arch);
    }
}
