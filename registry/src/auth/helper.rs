//! Docker credential helpers: `docker-credential-<name> get` with the server URL on stdin, answering
//! `{"ServerURL","Username","Secret"}` (a `Username` of `<token>` means `Secret` is an identity token).
//! The secret travels only over the helper's stdout pipe; it is never put in argv or the environment.

use std::io::Write;
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::credential::Credential;
use crate::error::{Error, Result};
use crate::secret::Secret;

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Runs the helper. "credentials not found" (docker's convention) is `Ok(None)`; anything else that fails is an
/// error naming the helper.
pub fn get(name: &str, server_url: &str) -> Result<Option<Credential>> {
    let program = format!("docker-credential-{name}");
    let err = |why: String| Error::Credentials {
        source_name: program.clone(),
        why,
    };
    if name.contains('/') || name.is_empty() {
        return Err(err("invalid helper name".into()));
    }
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run it: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server_url.as_bytes())
            .map_err(|e| err(format!("writing its stdin: {e}")))?;
    }
    let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if text.contains("credentials not found") {
            return Ok(None);
        }
        // The helper's own message is about its state, not the secret; keep it short.
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        return Err(err(format!("`get` failed ({}): {first}", out.status)));
    }
    let reply: HelperReply =
        serde_json::from_slice(&out.stdout).map_err(|e| err(format!("unreadable reply: {e}")))?;
    if reply.secret.is_empty() {
        return Ok(None);
    }
    if reply.username == "<token>" {
        return Ok(Some(Credential::IdentityToken(Secret::new(reply.secret))));
    }
    Ok(Some(Credential::Basic {
        username: reply.username,
        password: Secret::new(reply.secret),
    }))
}
