//! A registry username and password given in the request itself: Mesos `Image.Docker.credential` and Marathon
//! `container.docker.credential`, both `{principal, secret}`. Mesos honours them only in its Docker
//! containerizer and Marathon deprecated them for `pullConfig`, but the documented type-MESOS examples still
//! use them, so they become what `docker.config` / `pullConfig` give: a docker config.json for the image's
//! registry, which is never checkpointed or logged (`ImageSpec::docker_config`).

use serde::Deserialize;
use ucr_registry::image_name::NameKind;
use ucr_registry::ImageName;

use super::error::SpecError;

/// `{principal, secret}`; Debug leaves the secret out.
#[derive(Clone, Deserialize)]
pub struct RegistryCredential {
    pub principal: String,
    #[serde(default)]
    pub secret: Option<String>,
}

impl std::fmt::Debug for RegistryCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredential")
            .field("principal", &self.principal)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The docker config.json giving `c` to `image`'s registry. `at` names the field in errors.
pub(crate) fn docker_config_for(
    image: &ImageName,
    c: &RegistryCredential,
    at: &str,
) -> Result<String, SpecError> {
    let NameKind::Registry(r) = image.kind() else {
        return Err(SpecError::field(
            at,
            "the image is not pulled from a registry",
        ));
    };
    if c.principal.is_empty() {
        return Err(SpecError::field(format!("{at}.principal"), "empty"));
    }
    let entry = serde_json::json!({
        "username": c.principal,
        "password": c.secret.as_deref().unwrap_or(""),
    });
    Ok(serde_json::json!({ "auths": { r.registry(): entry } }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucr_registry::auth::dockercfg::DockerConfig;
    use ucr_registry::auth::Credential;

    fn cred(principal: &str, secret: &str) -> RegistryCredential {
        RegistryCredential {
            principal: principal.into(),
            secret: Some(secret.into()),
        }
    }

    #[test]
    fn becomes_the_registrys_entry_in_a_docker_config() {
        for (name, registry) in [
            ("reg.example:5443/team/app:1", "reg.example:5443"),
            ("busybox", "docker.io"),
        ] {
            let image = ImageName::parse(name).expect("name");
            let text = docker_config_for(&image, &cred("u", "p\"w:d"), "x").expect("config");
            let cfg = DockerConfig::parse(&text, "test").expect("parses");
            match cfg.lookup(registry).expect("lookup") {
                Some(Credential::Basic { username, password }) => {
                    assert_eq!((username.as_str(), password.expose()), ("u", "p\"w:d"));
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn refused_for_files_and_an_empty_principal_and_never_printed() {
        let archive = ImageName::parse("oci-archive:/tmp/x.tar").expect("name");
        let e =
            docker_config_for(&archive, &cred("u", "p"), "docker.credential").expect_err("file");
        assert!(e.to_string().contains("docker.credential"), "{e}");
        let image = ImageName::parse("busybox").expect("name");
        let e = docker_config_for(&image, &cred("", "p"), "docker.credential").expect_err("empty");
        assert!(e.to_string().contains("docker.credential.principal"), "{e}");
        assert!(!format!("{:?}", cred("u", "hunter2")).contains("hunter2"));
    }
}
