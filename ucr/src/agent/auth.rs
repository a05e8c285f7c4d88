//! HTTP Basic authentication of the API, as Mesos's `--authenticate_http_readwrite` with `--http_credentials`:
//! the file is Mesos's JSON `{"credentials":[{"principal":"...","secret":"..."}]}`; every `/api/v1` call needs
//! `Authorization: Basic <base64 principal:secret>`, else 401 with `WWW-Authenticate: Basic
//! realm="mesos-agent-readwrite"`. Secrets are held as `Secret` (redacting `Debug`) and compared in constant time;
//! they never reach a log line.

use std::path::Path;

use base64::Engine;
use ucr_runtime::registry::secret::Secret;

pub const REALM: &str = "mesos-agent-readwrite";

pub struct Credentials {
    entries: Vec<(String, Secret)>,
}

#[derive(serde::Deserialize)]
struct File {
    credentials: Vec<Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    principal: String,
    secret: String,
}

impl Credentials {
    /// Reads `--http_credentials` (a path, or a `file://` URI as Mesos takes it). A file without credentials is
    /// an error: an agent that asks for authentication and accepts nobody is a mistake.
    pub fn load(path: &str) -> Result<Credentials, String> {
        let p = Path::new(path.strip_prefix("file://").unwrap_or(path));
        let text = std::fs::read_to_string(p)
            .map_err(|e| format!("--http_credentials {}: {e}", p.display()))?;
        let f: File = serde_json::from_str(&text)
            .map_err(|e| format!("--http_credentials {}: {e}", p.display()))?;
        if f.credentials.is_empty() {
            return Err(format!(
                "--http_credentials {}: no credentials",
                p.display()
            ));
        }
        Ok(Credentials {
            entries: f
                .credentials
                .into_iter()
                .map(|e| (e.principal, Secret::new(e.secret)))
                .collect(),
        })
    }

    /// The principal an `Authorization` header authenticates, if any.
    pub fn check(&self, header: Option<&str>) -> Option<&str> {
        let b64 = header?.strip_prefix("Basic ")?.trim();
        let decoded = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, pass) = text.split_once(':')?;
        self.entries
            .iter()
            .find(|(p, s)| p == user && same(s.expose().as_bytes(), pass.as_bytes()))
            .map(|(p, _)| p.as_str())
    }
}

/// Equal bytes, in time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_from_a_mesos_file() {
        let d = tempfile::tempdir().expect("tempdir");
        let f = d.path().join("creds.json");
        std::fs::write(
            &f,
            r#"{"credentials":[{"principal":"yoda","secret":"usetheforce"}]}"#,
        )
        .expect("write");
        let c = Credentials::load(&format!("file://{}", f.display())).expect("load");
        let good = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("yoda:usetheforce")
        );
        assert_eq!(c.check(Some(&good)), Some("yoda"));
        let bad = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("yoda:wrong")
        );
        assert_eq!(c.check(Some(&bad)), None);
        assert_eq!(c.check(None), None);
        assert_eq!(c.check(Some("Bearer x")), None);
        std::fs::write(&f, r#"{"credentials":[]}"#).expect("write");
        assert!(Credentials::load(f.to_str().expect("utf-8")).is_err());
    }
}
