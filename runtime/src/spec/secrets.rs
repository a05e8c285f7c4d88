//! Where Marathon secrets come from when there is no Marathon.
//!
//! A Marathon app declares `"secrets": {"<name>": {"source": "<where>"}}` and refers to `<name>` from
//! `container.docker.pullConfig.secret` (a docker config.json) and from `env` values (`{"secret": "<name>"}`).
//! Marathon hands `source` to a secret store (DC/OS: a path in its vault). ucr has no secret store, so the
//! default [`FileSecrets`] reads `source` as a file: an absolute path as is, a relative path against a base
//! directory (the current directory for `ucr launch`). The file's bytes are the value, verbatim. A source that
//! names a vault path (`/mesos-docker/pullConfig`) therefore fails with "no such file", naming the secret and the
//! path — never guessing. With `--secrets_dir DIR`, [`DirSecrets`] reads every source under DIR instead (a
//! local secret store, one file per secret). The agent or tests can plug another [`SecretSource`].

use std::io::Read;
use std::path::{Path, PathBuf};

use ucr_registry::secret::Secret;

/// Largest secret read, in bytes: a docker config.json or an env value, never more.
const MAX_SECRET: u64 = 1 << 20;

pub trait SecretSource {
    /// The value of secret `name`, declared with `source`. The error text must not contain the value.
    fn read(&self, name: &str, source: &str) -> Result<Secret, String>;
}

/// Secrets read from files; see the module comment.
#[derive(Clone, Debug)]
pub struct FileSecrets {
    base: PathBuf,
}

impl FileSecrets {
    pub fn new(base: impl Into<PathBuf>) -> FileSecrets {
        FileSecrets { base: base.into() }
    }
}

impl Default for FileSecrets {
    fn default() -> FileSecrets {
        FileSecrets::new(".")
    }
}

impl SecretSource for FileSecrets {
    fn read(&self, _name: &str, source: &str) -> Result<Secret, String> {
        let path = if Path::new(source).is_absolute() {
            PathBuf::from(source)
        } else {
            self.base.join(source)
        };
        let shown = path.display();
        let file = std::fs::File::open(&path).map_err(|e| {
            format!(
                "source {shown}: {e} (ucr reads a Marathon secret's source as a file; --secrets-dir DIR reads \
                 it under DIR)"
            )
        })?;
        let mut bytes = Vec::new();
        file.take(MAX_SECRET + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("source {shown}: {e}"))?;
        if bytes.len() as u64 > MAX_SECRET {
            return Err(format!("source {shown}: larger than {MAX_SECRET} bytes"));
        }
        String::from_utf8(bytes)
            .map(Secret::new)
            .map_err(|_| format!("source {shown}: not UTF-8 text"))
    }
}

/// `--secrets_dir`: a local secret store, one file per secret. A Marathon secret's `source` names a file under
/// the directory (a store path such as `/mesos-docker/pullConfig` is `DIR/mesos-docker/pullConfig`), so the
/// same app definitions that name DC/OS store paths run once the operator has put the files there. Nothing
/// outside the directory can be named (`..` is refused).
#[derive(Clone, Debug)]
pub struct DirSecrets {
    dir: PathBuf,
}

impl DirSecrets {
    pub fn new(dir: impl Into<PathBuf>) -> DirSecrets {
        DirSecrets { dir: dir.into() }
    }
}

impl SecretSource for DirSecrets {
    fn read(&self, name: &str, source: &str) -> Result<Secret, String> {
        let rel = Path::new(source.trim_start_matches('/'));
        let plain = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !plain || rel.as_os_str().is_empty() {
            return Err(format!(
                "source {source:?} is not a path inside the secrets directory {}",
                self.dir.display()
            ));
        }
        FileSecrets::new(&self.dir).read(name, &rel.to_string_lossy())
    }
}

/// Checks that a secret meant as a docker config.json is a JSON object; the error never quotes the value.
pub(crate) fn check_docker_config(value: &str) -> Result<(), String> {
    match serde_json::from_str::<serde_json::Value>(value) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) | Err(_) => Err("is not a docker config.json (expected a JSON object)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("cfg.json"), "{\"auths\":{}}\n").expect("write");
        let s = FileSecrets::new(dir.path());
        assert_eq!(
            s.read("x", "cfg.json").expect("read").expose(),
            "{\"auths\":{}}\n"
        );
        let abs = dir.path().join("cfg.json");
        assert!(s.read("x", abs.to_str().expect("utf8")).is_ok());
        let e = s
            .read("x", "/mesos-docker/pullConfig")
            .expect_err("must fail");
        assert!(
            e.contains("/mesos-docker/pullConfig") && e.contains("as a file"),
            "{e}"
        );
    }

    #[test]
    fn docker_config_never_quoted() {
        let e = check_docker_config("hunter2").expect_err("must fail");
        assert!(!e.contains("hunter2"), "{e}");
        assert!(check_docker_config("{}").is_ok());
    }
}
