//! Mesos mirror types → `ContainerConfig` parts: command, environment, secrets, resources, limits, labels.
//! Each function takes the JSON path of what it converts so its errors name the field as the request wrote it.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use ucr_registry::secret::Secret;

use super::types::{
    CommandInfo, DurationInfo, Labels, LimitValue, Resource, Secret as SecretMsg, SecretType,
    ValueType, VariableType,
};
use crate::spec::config::{CommandSpec, Limits, PersistentVolume, Resources, UriSpec, VolumeMode};
use crate::spec::error::{Result, SpecError};
use crate::spec::secrets::SecretSource;

/// `CommandInfo` → the command and the secret env values it carries (kept apart: they must never be
/// checkpointed or printed).
/// Where REFERENCE secrets are read (`--secrets-dir`); None: there is no secret store, and they are refused.
pub type Store<'a> = Option<&'a dyn SecretSource>;

pub fn command(
    cmd: CommandInfo,
    path: &str,
    store: Store<'_>,
) -> Result<(CommandSpec, Vec<(String, Secret)>)> {
    let mut env = Vec::new();
    let mut secret_env = Vec::new();
    for (i, var) in cmd
        .environment
        .map(|e| e.variables)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let at = format!("{path}.environment.variables[{i}]");
        check_env_name(&var.name, &format!("{at}.name"))?;
        match var.kind.unwrap_or(VariableType::Value) {
            VariableType::Value => {
                if var.secret.is_some() {
                    return Err(SpecError::field(
                        format!("{at}.secret"),
                        "set on a variable of type VALUE",
                    ));
                }
                let value = var.value.ok_or_else(|| {
                    SpecError::field(
                        format!("{at}.value"),
                        format!("variable {:?} of type VALUE has no value", var.name),
                    )
                })?;
                env.push((var.name, value));
            }
            VariableType::Secret => {
                if var.value.is_some() {
                    return Err(SpecError::field(
                        format!("{at}.value"),
                        "set on a variable of type SECRET",
                    ));
                }
                let secret = var.secret.ok_or_else(|| {
                    SpecError::field(
                        format!("{at}.secret"),
                        format!("variable {:?} of type SECRET has no secret", var.name),
                    )
                })?;
                let value = secret_value(secret, &format!("{at}.secret"), store)?;
                secret_env.push((var.name, value));
            }
            VariableType::Unknown => {
                return Err(SpecError::field(
                    format!("{at}.type"),
                    "UNKNOWN: expected VALUE or SECRET",
                ))
            }
        }
    }
    let uris = cmd
        .uris
        .into_iter()
        .map(|u| UriSpec {
            value: u.value,
            // mesos.proto defaults.
            extract: u.extract.unwrap_or(true),
            executable: u.executable.unwrap_or(false),
            cache: u.cache.unwrap_or(false),
            output_file: u.output_file,
        })
        .collect();
    // Mesos's docker/runtime isolator refuses it at launch, image or not; refused here, no container is claimed.
    if cmd.shell.unwrap_or(true) && cmd.value.is_none() {
        return Err(SpecError::field(
            format!("{path}.value"),
            "shell specified but no command value (shell is true unless set to false)",
        ));
    }
    let spec = CommandSpec {
        shell: cmd.shell.unwrap_or(true),
        value: cmd.value,
        arguments: cmd.arguments,
        env,
        user: cmd.user,
        uris,
    };
    Ok((spec, secret_env))
}

/// An env name must be usable in `NAME=VALUE`.
pub fn check_env_name(name: &str, path: &str) -> Result<()> {
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(SpecError::field(
            path,
            format!("{name:?} is not a valid environment variable name"),
        ));
    }
    Ok(())
}

/// protobuf `bytes` as JSON: base64, padded or not, standard or URL-safe alphabet.
fn decode_base64(data: &str) -> Option<Vec<u8>> {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    [alphabet::STANDARD, alphabet::URL_SAFE]
        .iter()
        .find_map(|a| GeneralPurpose::new(a, config).decode(data.trim()).ok())
}

/// The value of a `Secret` message. Only VALUE secrets can be had without a secret store; REFERENCE secrets are
/// refused by name. Errors never quote the data.
pub fn secret_value(secret: SecretMsg, path: &str, store: Store<'_>) -> Result<Secret> {
    // `type` omitted with only `value` set is unambiguous; take it as VALUE.
    let kind = secret
        .kind
        .unwrap_or(match (&secret.value, &secret.reference) {
            (Some(_), None) => SecretType::Value,
            (None, Some(_)) => SecretType::Reference,
            _ => SecretType::Unknown,
        });
    match kind {
        SecretType::Value => {
            let value = secret.value.ok_or_else(|| {
                SpecError::field(format!("{path}.value"), "missing for a VALUE secret")
            })?;
            let bytes = decode_base64(&value.data).ok_or_else(|| {
                SpecError::field(format!("{path}.value.data"), "is not valid base64")
            })?;
            String::from_utf8(bytes)
                .map(Secret::new)
                .map_err(|_| SpecError::field(format!("{path}.value.data"), "is not UTF-8 text"))
        }
        // A reference names a secret in the store (`--secrets-dir`): `name`, or `name/key` for one key of it.
        SecretType::Reference => {
            let r = secret.reference.ok_or_else(|| {
                SpecError::field(
                    format!("{path}.reference"),
                    "missing for a REFERENCE secret",
                )
            })?;
            let Some(store) = store else {
                return Err(SpecError::field(
                    format!("{path}.reference"),
                    format!(
                        "secret reference {:?}: no secret store (give --secrets-dir, or the secret as a \
                         VALUE)",
                        r.name
                    ),
                ));
            };
            let source = match &r.key {
                Some(k) => format!("{}/{k}", r.name),
                None => r.name.clone(),
            };
            store
                .read(&r.name, &source)
                .map_err(|why| SpecError::Secret { name: r.name, why })
        }
        SecretType::Unknown => Err(SpecError::field(
            format!("{path}.type"),
            "expected VALUE (or REFERENCE)",
        )),
    }
}

/// The persistent volumes among `list` (disk resources with `persistence`), each named `roles/<role>/<id>`
/// as Mesos keeps it, a hierarchical role's `/` written as a space (Mesos's `getPersistentVolumePath`: a role
/// has no whitespace, and a sub-role must not read as a directory of its parent role's volumes); a disk with a
/// `source` (a PATH or MOUNT disk the master would pick) is refused.
pub fn persistent_volumes(list: &[Resource], path: &str) -> Result<Vec<PersistentVolume>> {
    let mut out = Vec::new();
    for (i, r) in list.iter().enumerate() {
        let Some(d) = &r.disk else { continue };
        let at = format!("{path}[{i}].disk");
        if d.source.is_some() {
            return Err(SpecError::field(
                format!("{at}.source"),
                "PATH and MOUNT disks are the master's to offer; ucr keeps persistent volumes in its work dir",
            ));
        }
        let (Some(p), Some(v)) = (&d.persistence, &d.volume) else {
            return Err(SpecError::field(
                at,
                "a disk needs both persistence and volume (a persistent volume)",
            ));
        };
        let role = r
            .reservations
            .iter()
            .rev()
            .find_map(|x| x.role.clone())
            .or_else(|| r.role.clone())
            .unwrap_or_else(|| "*".into());
        let name = format!("roles/{}/{}", role.replace('/', " "), p.id);
        crate::volumes::Volumes::check_name(&name)
            .map_err(|e| SpecError::field(format!("{at}.persistence.id"), e.to_string()))?;
        let size_mb = r.scalar.as_ref().map(|s| s.value.0).filter(|v| *v >= 1.0);
        out.push(PersistentVolume {
            name,
            container_path: v.container_path.clone(),
            mode: match v.mode {
                super::types::VolumeMode::Ro => VolumeMode::Ro,
                super::types::VolumeMode::Rw => VolumeMode::Rw,
            },
            size_mb: size_mb.map(|v| v as u64),
        });
    }
    Ok(out)
}

/// `repeated Resource` → requested resources. Repeated names add up, as Mesos adds resources of one name.
pub fn resources(list: Vec<Resource>, path: &str) -> Result<Resources> {
    let mut out = Resources::default();
    for (i, r) in list.into_iter().enumerate() {
        let at = format!("{path}[{i}]");
        let want = |kind: ValueType| -> Result<()> {
            if r.kind == kind {
                Ok(())
            } else {
                Err(SpecError::field(
                    format!("{at}.type"),
                    format!(
                        "{:?} must be {}, not {}",
                        r.name,
                        kind.as_str(),
                        r.kind.as_str()
                    ),
                ))
            }
        };
        match r.name.as_str() {
            "cpus" | "mem" | "disk" | "pids" => {
                want(ValueType::Scalar)?;
                let v = r
                    .scalar
                    .as_ref()
                    .ok_or_else(|| SpecError::field(format!("{at}.scalar"), "missing"))?
                    .value
                    .0;
                if !v.is_finite() || v < 0.0 {
                    return Err(SpecError::field(
                        format!("{at}.scalar.value"),
                        format!("{v} is not a finite non-negative number"),
                    ));
                }
                let add = |slot: &mut Option<f64>| *slot = Some(slot.unwrap_or(0.0) + v);
                // A disk with a volume (a persistent volume) is that volume's size, not the sandbox's: Mesos's
                // `disk/du` measures it apart (`persistent_volumes`), so it is not in the container's `disk`.
                let own_volume = r.disk.as_ref().is_some_and(|d| d.volume.is_some());
                match r.name.as_str() {
                    "cpus" => add(&mut out.cpus),
                    "mem" => add(&mut out.mem_mb),
                    "disk" if own_volume => {}
                    "disk" => add(&mut out.disk_mb),
                    _ => {
                        if v.fract() != 0.0 {
                            return Err(SpecError::field(
                                format!("{at}.scalar.value"),
                                format!("pids {v} is not a whole number"),
                            ));
                        }
                        out.pids = Some(out.pids.unwrap_or(0) + v as u64);
                    }
                }
            }
            "ports" => {
                want(ValueType::Ranges)?;
                let ranges = r
                    .ranges
                    .ok_or_else(|| SpecError::field(format!("{at}.ranges"), "missing"))?;
                for (j, range) in ranges.range.into_iter().enumerate() {
                    let rat = format!("{at}.ranges.range[{j}]");
                    let begin: u16 = range
                        .begin
                        .to("a port")
                        .map_err(|e| SpecError::field(format!("{rat}.begin"), e))?;
                    let end: u16 = range
                        .end
                        .to("a port")
                        .map_err(|e| SpecError::field(format!("{rat}.end"), e))?;
                    if begin > end {
                        return Err(SpecError::field(
                            rat,
                            format!("begin {begin} is after end {end}"),
                        ));
                    }
                    out.ports.push((begin, end));
                }
            }
            "gpus" => {
                return Err(SpecError::field(
                    format!("{at}.name"),
                    "gpus are not supported",
                ))
            }
            other => {
                return Err(SpecError::field(
                    format!("{at}.name"),
                    format!("unknown resource {other:?} (ucr knows cpus, mem, disk, pids, ports)"),
                ))
            }
        }
    }
    Ok(out)
}

/// `map<string, Value.Scalar> limits` → limits. `Infinity` means no limit (kept as `f64::INFINITY`). A limit
/// below the request is an error, as in Mesos.
pub fn limits(
    map: BTreeMap<String, LimitValue>,
    request: &Resources,
    path: &str,
) -> Result<Limits> {
    let mut out = Limits::default();
    for (key, value) in map {
        let at = format!("{path}.{key}");
        let v = value.value();
        if v.is_nan() || v < 0.0 {
            return Err(SpecError::field(
                at,
                format!("{v} is not a non-negative number"),
            ));
        }
        let (slot, req) = match key.as_str() {
            "cpus" => (&mut out.cpus, request.cpus),
            "mem" => (&mut out.mem_mb, request.mem_mb),
            _ => return Err(SpecError::field(at, "unknown limit (ucr knows cpus, mem)")),
        };
        if let Some(req) = req.filter(|r| v < *r) {
            return Err(SpecError::field(
                at,
                format!("limit {v} is below the requested {req}"),
            ));
        }
        *slot = Some(v);
    }
    Ok(out)
}

pub fn labels(labels: Option<Labels>) -> BTreeMap<String, String> {
    labels
        .map(|l| l.labels)
        .unwrap_or_default()
        .into_iter()
        .map(|l| (l.key, l.value.unwrap_or_default()))
        .collect()
}

/// `DurationInfo` → seconds.
pub fn seconds(d: &DurationInfo, path: &str) -> Result<f64> {
    let ns: i64 = d
        .nanoseconds
        .to("nanoseconds")
        .map_err(|e| SpecError::field(format!("{path}.nanoseconds"), e))?;
    if ns < 0 {
        return Err(SpecError::field(
            format!("{path}.nanoseconds"),
            "must not be negative",
        ));
    }
    Ok(ns as f64 / 1e9)
}
