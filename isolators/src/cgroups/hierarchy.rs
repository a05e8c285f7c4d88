//! The v1/v2 difference behind one trait: where a controller's files are for a cgroup, and which libcgroups
//! manager serves it. Every path starts from a root, so unit tests run against a fake tree in a tempdir
//! ([`V1::at`], [`V2::at`]); the host's is found by `host.rs`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use libcgroups::common::AnyCgroupManager;

use crate::error::{IsolatorError, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// The controllers the isolators use. On v2 they all share one directory per cgroup.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Controller {
    Cpu,
    CpuAcct,
    CpuSet,
    Memory,
    Pids,
    Devices,
}

impl Controller {
    pub const ALL: [Controller; 6] = [
        Controller::Cpu,
        Controller::CpuAcct,
        Controller::CpuSet,
        Controller::Memory,
        Controller::Pids,
        Controller::Devices,
    ];

    /// The kernel's name (v1 mount option, v2 `cgroup.controllers` entry).
    pub fn name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::CpuAcct => "cpuacct",
            Controller::CpuSet => "cpuset",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Devices => "devices",
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One cgroup layout: v1 (a mount per controller) or v2 (one unified tree). `cgroup` arguments are the
/// container's cgroups path as the OCI bundle's `cgroupsPath` gives it (`/ucr/<id>`), relative to each hierarchy's root.
pub trait Hierarchy: Send + Sync + fmt::Debug {
    fn version(&self) -> Version;

    /// The directory holding `controller`'s files for `cgroup`.
    fn dir(&self, controller: Controller, cgroup: &Path) -> Result<PathBuf>;

    /// libcgroups' manager for `cgroup` (statistics, updates).
    fn manager(&self, cgroup: &Path) -> Result<AnyCgroupManager>;

    /// Every directory `cgroup` may have: one per mounted v1 hierarchy (the placement creates the cgroup in each,
    /// not only in the controllers the isolators use), the one directory on v2.
    fn all_dirs(&self, cgroup: &Path) -> Result<Vec<PathBuf>>;

    /// Where `cgroup` is frozen: the v1 freezer hierarchy's directory (None when it is not mounted), the
    /// cgroup itself on v2.
    fn freezer_dir(&self, cgroup: &Path) -> Result<Option<PathBuf>>;

    /// The mount point of every hierarchy a container's cgroup is made in: each v1 hierarchy that carries
    /// controllers (not named ones such as `name=systemd`), the root on v2.
    fn controller_mounts(&self) -> &[PathBuf];

    fn file(&self, controller: Controller, cgroup: &Path, name: &str) -> Result<PathBuf> {
        Ok(self.dir(controller, cgroup)?.join(name))
    }

    fn read(&self, controller: Controller, cgroup: &Path, name: &str) -> Result<String> {
        let p = self.file(controller, cgroup, name)?;
        std::fs::read_to_string(&p).map_err(|e| IsolatorError::io(p, e))
    }

    /// A single-number file; `max` (v2) and v1's "unlimited" sentinel read as None.
    fn read_u64(&self, controller: Controller, cgroup: &Path, name: &str) -> Result<Option<u64>> {
        let p = self.file(controller, cgroup, name)?;
        let s = std::fs::read_to_string(&p).map_err(|e| IsolatorError::io(&p, e))?;
        parse_limit(s.trim()).ok_or_else(|| {
            IsolatorError::io(
                &p,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("not a number: {s:?}"),
                ),
            )
        })
    }

    fn write(&self, controller: Controller, cgroup: &Path, name: &str, value: &str) -> Result<()> {
        let p = self.file(controller, cgroup, name)?;
        // cgroup files take one value per write(2) and are never created here. (O_TRUNC means nothing to a cgroup
        // file; it keeps a fake tree's file whole.)
        use std::io::Write;
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&p)
            .and_then(|mut f| f.write_all(value.as_bytes()))
            .map_err(|e| IsolatorError::io(p, e))
    }

    fn exists(&self, controller: Controller, cgroup: &Path, name: &str) -> bool {
        self.file(controller, cgroup, name)
            .map(|p| p.exists())
            .unwrap_or(false)
    }
}

/// v1: each controller mounted on its own directory (or co-mounted, e.g. `cpu,cpuacct`).
#[derive(Debug)]
pub struct V1 {
    pub(crate) mounts: BTreeMap<Controller, PathBuf>,
    /// Every cgroup v1 mount (any controllers, named hierarchies too), those carrying controllers, and the
    /// freezer's among them.
    pub(crate) hierarchies: Vec<PathBuf>,
    pub(crate) controlled: Vec<PathBuf>,
    pub(crate) freezer: Option<PathBuf>,
    /// libcgroups' v1 manager finds the mounts itself in /proc/self/mountinfo: only usable for the host.
    pub(crate) host: bool,
}

impl V1 {
    /// A fake tree: `root/<controller>/` for every controller, and `root/freezer/`.
    pub fn at(root: &Path) -> V1 {
        let mounts: BTreeMap<Controller, PathBuf> = Controller::ALL
            .iter()
            .map(|c| (*c, root.join(c.name())))
            .collect();
        let freezer = root.join("freezer");
        let mut hierarchies: Vec<PathBuf> = mounts.values().cloned().collect();
        hierarchies.push(freezer.clone());
        V1 {
            mounts,
            controlled: hierarchies.clone(),
            hierarchies,
            freezer: Some(freezer),
            host: false,
        }
    }
}

impl Hierarchy for V1 {
    fn version(&self) -> Version {
        Version::V1
    }

    fn dir(&self, controller: Controller, cgroup: &Path) -> Result<PathBuf> {
        let mount = self
            .mounts
            .get(&controller)
            .ok_or_else(|| IsolatorError::Cgroup {
                isolator: "cgroups",
                cgroup: cgroup.to_path_buf(),
                why: format!("the {controller} controller is not mounted"),
            })?;
        Ok(mount.join(relative(cgroup)?))
    }

    fn manager(&self, cgroup: &Path) -> Result<AnyCgroupManager> {
        if !self.host {
            return Err(cgroup_err(
                "cgroups",
                cgroup,
                "libcgroups v1 serves only the host's mounts",
            ));
        }
        libcgroups::v1::manager::Manager::new(cgroup)
            .map(|m| m.any())
            .map_err(|e| cgroup_err("cgroups", cgroup, e))
    }

    fn all_dirs(&self, cgroup: &Path) -> Result<Vec<PathBuf>> {
        let rel = relative(cgroup)?;
        Ok(self.hierarchies.iter().map(|m| m.join(&rel)).collect())
    }

    fn freezer_dir(&self, cgroup: &Path) -> Result<Option<PathBuf>> {
        let rel = relative(cgroup)?;
        Ok(self.freezer.as_ref().map(|m| m.join(rel)))
    }

    fn controller_mounts(&self) -> &[PathBuf] {
        &self.controlled
    }
}

/// v2: one unified tree.
#[derive(Debug)]
pub struct V2 {
    root: PathBuf,
}

impl V2 {
    pub fn at(root: &Path) -> V2 {
        V2 {
            root: root.to_path_buf(),
        }
    }
}

impl Hierarchy for V2 {
    fn version(&self) -> Version {
        Version::V2
    }

    fn dir(&self, _controller: Controller, cgroup: &Path) -> Result<PathBuf> {
        Ok(self.root.join(relative(cgroup)?))
    }

    fn manager(&self, cgroup: &Path) -> Result<AnyCgroupManager> {
        libcgroups::v2::manager::Manager::new(self.root.clone(), cgroup.to_path_buf())
            .map(|m| m.any())
            .map_err(|e| cgroup_err("cgroups", cgroup, e))
    }

    fn all_dirs(&self, cgroup: &Path) -> Result<Vec<PathBuf>> {
        Ok(vec![self.root.join(relative(cgroup)?)])
    }

    fn freezer_dir(&self, cgroup: &Path) -> Result<Option<PathBuf>> {
        Ok(Some(self.root.join(relative(cgroup)?)))
    }

    fn controller_mounts(&self) -> &[PathBuf] {
        std::slice::from_ref(&self.root)
    }
}

/// The cgroup path below a hierarchy's root. Only plain components: a `..` would leave the hierarchy.
pub(crate) fn relative(cgroup: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    for c in cgroup.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            _ => return Err(cgroup_err("cgroups", cgroup, "not a plain cgroup path")),
        }
    }
    Ok(out)
}

/// `max` and v1's page-rounded "unlimited" (anything from 2^62 up) → Some(None); a number → Some(Some(n)).
pub fn parse_limit(s: &str) -> Option<Option<u64>> {
    if s == "max" || s == "-1" {
        return Some(None);
    }
    let n: u64 = s.parse().ok()?;
    Some((n < 1 << 62).then_some(n))
}

/// A flat-keyed file (`key value` per line: memory.stat, cpu.stat, memory.events).
pub fn keyed(text: &str) -> BTreeMap<&str, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k, v.trim().parse().ok()?))
        })
        .collect()
}

pub fn cgroup_err(isolator: &'static str, cgroup: &Path, why: impl fmt::Display) -> IsolatorError {
    IsolatorError::Cgroup {
        isolator,
        cgroup: cgroup.to_path_buf(),
        why: why.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dirs_by_version_and_no_escape() {
        let v1 = V1::at(Path::new("/fake"));
        let v2 = V2::at(Path::new("/fake2"));
        let cg = Path::new("/ucr/c1");
        assert_eq!(
            v1.dir(Controller::Memory, cg).ok(),
            Some(PathBuf::from("/fake/memory/ucr/c1"))
        );
        assert_eq!(
            v2.dir(Controller::Memory, cg).ok(),
            Some(PathBuf::from("/fake2/ucr/c1"))
        );
        let err = v2.dir(Controller::Cpu, Path::new("/ucr/../etc")).err();
        assert!(err
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("/ucr/../etc"));
        assert!(
            v1.manager(cg).is_err(),
            "a fake v1 tree has no libcgroups manager"
        );
    }

    #[test]
    fn limits_and_keyed_files() {
        assert_eq!(parse_limit("max"), Some(None));
        assert_eq!(parse_limit("9223372036854771712"), Some(None));
        assert_eq!(parse_limit("67108864"), Some(Some(67108864)));
        assert_eq!(parse_limit("x"), None);
        let k = keyed("oom 1\noom_kill 2\nbad line x\n");
        assert_eq!((k["oom"], k["oom_kill"]), (1, 2));
        assert!(!k.contains_key("bad"));
    }
}
