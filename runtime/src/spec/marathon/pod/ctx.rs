//! What every part of a pod's parse needs: the pod, its ids, its secrets, and Marathon's name rule.

use ucr_registry::secret::Secret;

use super::types::Pod;
use crate::spec::error::{Result, SpecError};
use crate::spec::secrets::{check_docker_config, SecretSource};

pub struct Ctx<'a> {
    pub pod: &'a Pod,
    /// The parent's container id (`marathon_container_id` of the pod id: `/group/db` → `group_db`).
    pub id: String,
    /// The pod id as Marathon shows it (`/group/db`): `MARATHON_APP_ID`.
    pub pod_id: String,
    pub secrets: &'a dyn SecretSource,
}

impl Ctx<'_> {
    /// The value of the pod secret `name`, which the field at `path` names. Read only when named, as for apps,
    /// so a pod declaring a secret it never uses does not need it.
    pub fn secret(&self, name: &str, path: &str) -> Result<Secret> {
        let def = self.pod.secrets.get(name).ok_or_else(|| {
            SpecError::field(
                path,
                format!("names secret {name:?}, which secrets does not declare"),
            )
        })?;
        self.secrets
            .read(name, &def.source)
            .map_err(|why| SpecError::Secret {
                name: name.to_string(),
                why,
            })
    }

    /// A secret meant as a docker config.json (`image.pullConfig.secret`), checked to be a JSON object.
    pub fn docker_config(&self, name: &str, path: &str) -> Result<String> {
        let value = self.secret(name, path)?;
        check_docker_config(value.expose()).map_err(|why| SpecError::Secret {
            name: name.to_string(),
            why,
        })?;
        Ok(value.expose().to_string())
    }
}

/// Marathon's `strings.Name` (container, endpoint, ephemeral and host volume names):
/// `^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`, at most 63 characters. Marathon's generated reader enforces it.
pub fn check_name(name: &str, path: &str) -> Result<()> {
    let b = name.as_bytes();
    let end_ok = |c: Option<&u8>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok = b.len() <= 63
        && end_ok(b.first())
        && end_ok(b.last())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if ok {
        Ok(())
    } else {
        Err(SpecError::field(
            path,
            format!(
                "{name:?} is not a Marathon name (1 to 63 lowercase letters, digits and '-', starting and ending \
                 with a letter or digit)"
            ),
        ))
    }
}

/// Names that must be unique among `names` (container names, endpoint names, volume names), as Marathon's
/// validation has them: the path of the second use of a name, or None.
pub fn first_duplicate<'n>(
    names: impl IntoIterator<Item = (&'n str, String)>,
) -> Option<(String, &'n str)> {
    let mut seen = std::collections::BTreeSet::new();
    names
        .into_iter()
        .find(|(n, _)| !seen.insert(*n))
        .map(|(n, path)| (path, n))
}
