//! Local persistent volumes (Marathon `persistent` volumes, Mesos `disk.persistence`): directories under
//! `<root>/volumes` that outlive their tasks and `ucr rm`, are attached again by name on the next launch of the
//! same app, and go only with `ucr volume rm`. Mesos keeps them under `volumes/roles/<role>/<id>` of its work
//! dir; ucr keeps Mesos's volumes there too, and Marathon's under `volumes/apps/<app>/<containerPath>` (a
//! Marathon persistent volume is named by its app and path, as Marathon's reservation labels name it).
//!
//! A volume's `size` becomes a project quota where the filesystem has project quotas (`quota`); its record
//! (`.meta/<name>.json`) says what the size became, for `ucr volume ls` and `inspect`.

pub mod quota;

use std::fs;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::container::checkpoint::{read_json, write_json};
use crate::container::error::{ContainerError, Result};
use quota::Enforcement;

/// The record of one volume, beside (never inside) its data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub name: String,
    pub path: PathBuf,
    /// The requested size in MiB, if any.
    pub size_mb: Option<u64>,
    /// What the size became; None without a size.
    #[serde(default)]
    pub enforcement: Option<serde_json::Value>,
}

impl VolumeRecord {
    /// The volume as `disk/du` measures it, when it has a size. Its id is Mesos's `persistence.id` for a Mesos
    /// volume (`roles/<role>/<id>`), and its name for a Marathon one (which has no Mesos id here).
    pub fn disk(&self) -> Option<ucr_isolators::vocab::PersistentDisk> {
        let id = match self.name.split('/').collect::<Vec<_>>()[..] {
            ["roles", _, id] => id.to_string(),
            _ => self.name.clone(),
        };
        Some(ucr_isolators::vocab::PersistentDisk {
            id,
            path: self.path.clone(),
            bytes: self.size_mb?.saturating_mul(1024 * 1024),
        })
    }
}

/// The persistent volumes under one work dir.
pub struct Volumes {
    dir: PathBuf,
}

impl Volumes {
    pub fn new(dir: PathBuf) -> Volumes {
        Volumes { dir }
    }

    /// A volume name is two or three plain path components (`apps/web/data`, `roles/*/id`): nothing that could
    /// name a place outside the volumes directory or its records.
    pub fn check_name(name: &str) -> Result<()> {
        let p = Path::new(name);
        let plain = p.components().all(|c| matches!(c, Component::Normal(_)));
        let depth = p.components().count();
        if !plain || !(2..=3).contains(&depth) || name.contains(':') || name.starts_with('.') {
            return Err(ContainerError::Volume {
                name: name.to_string(),
                why: "not a volume name (apps/APP/PATH or roles/ROLE/ID)".into(),
            });
        }
        Ok(())
    }

    fn record_file(&self, name: &str) -> PathBuf {
        self.dir
            .join(".meta")
            .join(format!("{}.json", name.replace('/', ":")))
    }

    /// The volume's directory, made on first use, with its size applied; returns it and its record.
    pub fn attach(&self, name: &str, size_mb: Option<u64>) -> Result<VolumeRecord> {
        Self::check_name(name)?;
        let path = self.dir.join(name);
        fs::create_dir_all(&path).map_err(|e| ContainerError::io(&path, e))?;
        let enforcement = size_mb.map(|mb| {
            let e = quota::limit(&path, mb.saturating_mul(1024 * 1024));
            if let Enforcement::NotEnforced { why } = &e {
                tracing::warn!(volume = name, "size {mb} MiB not enforced: {why}");
            }
            serde_json::to_value(e).unwrap_or_default()
        });
        let rec = VolumeRecord {
            name: name.to_string(),
            path,
            size_mb,
            enforcement,
        };
        let f = self.record_file(name);
        if let Some(parent) = f.parent() {
            fs::create_dir_all(parent).map_err(|e| ContainerError::io(parent, e))?;
        }
        write_json(&f, &rec)?;
        Ok(rec)
    }

    /// Every volume, by name.
    pub fn list(&self) -> Result<Vec<VolumeRecord>> {
        let mut out = Vec::new();
        for kind in ["apps", "roles"] {
            for owner in dirs(&self.dir.join(kind))? {
                for vol in dirs(&self.dir.join(kind).join(&owner))? {
                    let name = format!("{kind}/{owner}/{vol}");
                    let rec = read_json::<VolumeRecord>(&self.record_file(&name))
                        .ok()
                        .flatten();
                    out.push(rec.unwrap_or_else(|| VolumeRecord {
                        path: self.dir.join(&name),
                        name,
                        size_mb: None,
                        enforcement: None,
                    }));
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Delete a volume and its data (the caller has checked that no live container uses it).
    pub fn remove(&self, name: &str) -> Result<()> {
        Self::check_name(name)?;
        let path = self.dir.join(name);
        if !path.is_dir() {
            return Err(ContainerError::Volume {
                name: name.to_string(),
                why: "no such volume".into(),
            });
        }
        fs::remove_dir_all(&path).map_err(|e| ContainerError::io(&path, e))?;
        let _ = fs::remove_file(self.record_file(name));
        // The owner's directory goes with its last volume.
        if let Some(owner) = path.parent() {
            let _ = fs::remove_dir(owner);
        }
        Ok(())
    }
}

fn dirs(dir: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ContainerError::io(dir, e)),
    };
    Ok(rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_list_remove_and_names_that_could_escape_are_refused() {
        let t = tempfile::tempdir().expect("tempdir");
        let v = Volumes::new(t.path().join("volumes"));
        let rec = v.attach("apps/web/data", None).expect("attach");
        fs::write(rec.path.join("f"), "kept").expect("write");
        // Attaching again finds the same directory with its content.
        let again = v.attach("apps/web/data", Some(1)).expect("attach");
        assert_eq!(
            fs::read_to_string(again.path.join("f")).ok().as_deref(),
            Some("kept")
        );
        assert!(again.enforcement.is_some(), "the size's fate is recorded");
        let disk = again.disk().expect("a size");
        assert_eq!(
            (disk.id.as_str(), disk.path, disk.bytes),
            ("apps/web/data", again.path.clone(), 1 << 20)
        );
        assert_eq!(rec.disk(), None, "no size, nothing to measure it against");
        let pg = v.attach("roles/*/pg", Some(2)).expect("attach");
        assert_eq!(
            pg.disk().map(|d| (d.id, d.bytes)),
            Some(("pg".into(), 2 << 20))
        );
        let names: Vec<_> = v
            .list()
            .expect("list")
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["apps/web/data", "roles/*/pg"]);
        v.remove("apps/web/data").expect("remove");
        assert!(!t.path().join("volumes/apps/web").exists());
        assert!(v.remove("apps/web/data").is_err());
        for bad in [
            "../x/y",
            "apps/../../etc",
            "/etc/passwd/x",
            "apps",
            "apps/a:b/c",
            ".meta/x/y",
        ] {
            assert!(v.attach(bad, None).is_err(), "{bad}");
        }
    }
}
