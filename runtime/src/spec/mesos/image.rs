//! The images of a Mesos request: the container's (`Image` to an image spec, its name parsed now so a bad one
//! fails naming its field) and an image volume's (`Volume.image`, the `volume/image` isolator: an image whose
//! root filesystem is mounted at `container_path`, relative meaning in the sandbox, read-only or read-write; it
//! has neither a host path nor a source of its own).

use ucr_registry::appc::name::check_id;
use ucr_registry::appc::AppcName;
use ucr_registry::ImageName;

use super::container::{Image, ImageType, Volume as MesosVolume};
use super::convert::{labels, secret_value, Store};
use super::types::VolumeMode as MesosMode;
use crate::spec::config::{ImageSpec, ImageVolume, VolumeMode};
use crate::spec::credential::docker_config_for;
use crate::spec::error::{Result, SpecError};
use crate::spec::secrets::check_docker_config;

/// An image name as the request writes it, parsed now so a bad one fails naming its field.
pub fn image_name(written: &str, at: &str) -> Result<ImageName> {
    ImageName::parse(written).map_err(|e| SpecError::field(at, e.to_string()))
}

/// `Image` → image spec. AppC images become `appc:NAME[:VERSION][,LABEL=VALUE...][@ID]` (`os`/`arch` default
/// to the host's when not given).
pub fn image_spec(image: Image, path: &str, store: Store<'_>) -> Result<ImageSpec> {
    let cached = image.cached.unwrap_or(true);
    match image.kind {
        ImageType::Docker => {
            if image.appc.is_some() {
                return Err(SpecError::field(
                    format!("{path}.appc"),
                    "set on a DOCKER image",
                ));
            }
            let docker = image.docker.ok_or_else(|| {
                SpecError::field(format!("{path}.docker"), "missing for a DOCKER image")
            })?;
            if docker.name.is_empty() {
                return Err(SpecError::field(format!("{path}.docker.name"), "empty"));
            }
            let reference = image_name(&docker.name, &format!("{path}.docker.name"))?;
            let docker_config = match (docker.config, docker.credential) {
                (Some(_), Some(_)) => {
                    return Err(SpecError::field(
                        format!("{path}.docker.credential"),
                        "given with docker.config; give only one",
                    ))
                }
                (Some(secret), None) => {
                    let at = format!("{path}.docker.config");
                    let value = secret_value(secret, &at, store)?;
                    check_docker_config(value.expose())
                        .map_err(|why| SpecError::field(&at, why))?;
                    Some(value.expose().to_string())
                }
                (None, Some(c)) => Some(docker_config_for(
                    &reference,
                    &c,
                    &format!("{path}.docker.credential"),
                )?),
                (None, None) => None,
            };
            Ok(ImageSpec {
                reference,
                cached,
                docker_config,
            })
        }
        ImageType::Appc => {
            if image.docker.is_some() {
                return Err(SpecError::field(
                    format!("{path}.docker"),
                    "set on an APPC image",
                ));
            }
            let appc = image.appc.ok_or_else(|| {
                SpecError::field(format!("{path}.appc"), "missing for an APPC image")
            })?;
            if appc.name.is_empty() {
                return Err(SpecError::field(format!("{path}.appc.name"), "empty"));
            }
            if let Some(id) = appc.id.as_deref().filter(|i| !i.is_empty()) {
                check_id(id).map_err(|why| SpecError::field(format!("{path}.appc.id"), why))?;
            }
            let reference =
                AppcName::reference(&appc.name, &labels(appc.labels), appc.id.as_deref());
            Ok(ImageSpec {
                reference: image_name(&reference, &format!("{path}.appc.name"))?,
                cached,
                docker_config: None,
            })
        }
    }
}

/// A Mesos image volume as the runtime takes it.
pub fn image_volume(v: MesosVolume, at: &str, store: Store<'_>) -> Result<ImageVolume> {
    if v.host_path.is_some() || v.source.is_some() {
        return Err(SpecError::field(
            at,
            "an image volume has no host_path or source: give image alone",
        ));
    }
    let path = &v.container_path;
    if path.is_empty() || path.split('/').any(|c| c == "..") {
        return Err(SpecError::field(
            format!("{at}.container_path"),
            format!("{path:?}: an image volume needs a path without '..'"),
        ));
    }
    let Some(image) = v.image else {
        return Err(SpecError::field(format!("{at}.image"), "missing"));
    };
    Ok(ImageVolume {
        container_path: v.container_path,
        mode: match v.mode {
            MesosMode::Rw => VolumeMode::Rw,
            MesosMode::Ro => VolumeMode::Ro,
        },
        image: image_spec(image, &format!("{at}.image"), store)?,
    })
}
