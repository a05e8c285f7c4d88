//! The cgroups isolators (`cgroups/cpu`, `cgroups/mem`, `cgroups/pids`, `cgroups/devices`) on cgroup v1 and v2.
//!
//! Limits reach the kernel through the launch: each isolator's `prepare` contributes OCI `linux.resources`
//! values and the launcher writes them with [`create`] while it makes the container's cgroups (`/ucr/<id>`),
//! before the init exists. What the OCI values cannot say right on v2 (`cpu.weight` proportional to `cpus`, the
//! device filter) the isolators do in `isolate`, which runs after the init exists and before the task starts. Updates and
//! statistics go through youki's libcgroups (`apply`, `stats`); OOM watching and the few values libcgroups does
//! not report (soft limit, CPU limit) read the cgroup files directly.
//!
//! The v1/v2 difference lives behind [`Hierarchy`]: where a controller's files are for a cgroup, and which
//! libcgroups manager serves it. Every path starts from a root, so unit tests run against a fake tree in a
//! tempdir ([`V1::at`], [`V2::at`]); the real one is detected once per process ([`host`]).

pub mod bpf;
pub mod cpu;
pub mod create;
pub mod devices;
pub mod mem;
pub mod oom;
pub mod pids;
pub mod teardown;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, OnceLock};

use libcgroups::common::{AnyCgroupManager, CgroupManager, ControllerOpt};
use libcgroups::stats::Stats;
use oci_spec::runtime::LinuxResources;

use crate::error::{IsolatorError, Result};

/// Where the host mounts its cgroups.
pub const HOST_ROOT: &str = "/sys/fs/cgroup";

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
/// container's cgroups path as libcontainer gets it (`/ucr/<id>`), relative to each hierarchy's root.
pub trait Hierarchy: Send + Sync + fmt::Debug {
    fn version(&self) -> Version;

    /// The directory holding `controller`'s files for `cgroup`.
    fn dir(&self, controller: Controller, cgroup: &Path) -> Result<PathBuf>;

    /// libcgroups' manager for `cgroup` (statistics, updates).
    fn manager(&self, cgroup: &Path) -> Result<AnyCgroupManager>;

    /// Every directory `cgroup` may have: one per mounted v1 hierarchy (libcontainer creates the cgroup in each,
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
    mounts: BTreeMap<Controller, PathBuf>,
    /// Every cgroup v1 mount (any controllers, named hierarchies too), those carrying controllers, and the
    /// freezer's among them.
    hierarchies: Vec<PathBuf>,
    controlled: Vec<PathBuf>,
    freezer: Option<PathBuf>,
    /// libcgroups' v1 manager finds the mounts itself in /proc/self/mountinfo: only usable for the host.
    host: bool,
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

/// The host's cgroups, detected on first use (statfs of /sys/fs/cgroup, then /proc/self/mountinfo for v1).
/// A hybrid host (v1 controllers plus an empty unified tree) is v1, as libcgroups and libcontainer see it.
pub fn host() -> Result<Arc<dyn Hierarchy>> {
    static HOST: OnceLock<std::result::Result<Arc<dyn Hierarchy>, String>> = OnceLock::new();
    HOST.get_or_init(detect_host)
        .clone()
        .map_err(|why| cgroup_err("cgroups", Path::new(HOST_ROOT), why))
}

fn detect_host() -> std::result::Result<Arc<dyn Hierarchy>, String> {
    let fs = rustix::fs::statfs(HOST_ROOT).map_err(|e| format!("statfs: {e}"))?;
    // CGROUP2_SUPER_MAGIC
    if fs.f_type as u64 == 0x6367_7270 {
        return Ok(Arc::new(V2::at(Path::new(HOST_ROOT))));
    }
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    let mounts = v1_mounts(&info);
    if mounts.is_empty() {
        return Err("no cgroup v1 controller is mounted and the root is not cgroup2".into());
    }
    let (hierarchies, controlled, freezer) = v1_hierarchies(&info);
    Ok(Arc::new(V1 {
        mounts,
        hierarchies,
        controlled,
        freezer,
        host: true,
    }))
}

/// Every `cgroup` (v1) mount point, those carrying controllers (all but named hierarchies: `name=` in the super
/// options), and the one carrying the freezer controller.
fn v1_hierarchies(mountinfo: &str) -> (Vec<PathBuf>, Vec<PathBuf>, Option<PathBuf>) {
    let (mut all, mut controlled, mut freezer) = (Vec::<PathBuf>::new(), Vec::new(), None);
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        if r.next() != Some("cgroup") {
            continue;
        }
        let opts = r.nth(1).unwrap_or("");
        let Some(mount_point) = left.split(' ').nth(4).map(|m| PathBuf::from(unescape(m))) else {
            continue;
        };
        if all.contains(&mount_point) {
            continue;
        }
        if freezer.is_none() && opts.split(',').any(|o| o == "freezer") {
            freezer = Some(mount_point.clone());
        }
        if !opts.split(',').any(|o| o.starts_with("name=")) {
            controlled.push(mount_point.clone());
        }
        all.push(mount_point);
    }
    (all, controlled, freezer)
}

/// Controller → mount point, from mountinfo lines of type `cgroup` (their super options name the controllers).
fn v1_mounts(mountinfo: &str) -> BTreeMap<Controller, PathBuf> {
    let mut out = BTreeMap::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mut r = right.split(' ');
        if r.next() != Some("cgroup") {
            continue;
        }
        let opts: Vec<&str> = r.nth(1).unwrap_or("").split(',').collect();
        let Some(mount_point) = left.split(' ').nth(4) else {
            continue;
        };
        for c in Controller::ALL {
            if opts.contains(&c.name()) {
                out.entry(c)
                    .or_insert_with(|| PathBuf::from(unescape(mount_point)));
            }
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Some(v) = std::str::from_utf8(&b[i + 1..i + 4])
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup path below a hierarchy's root. Only plain components: a `..` would leave the hierarchy.
fn relative(cgroup: &Path) -> Result<PathBuf> {
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

/// Apply `resources` to a running container's cgroup through libcgroups (what `update` does).
pub fn apply(
    h: &dyn Hierarchy,
    isolator: &'static str,
    cgroup: &Path,
    resources: &LinuxResources,
) -> Result<()> {
    let opt = ControllerOpt {
        resources,
        disable_oom_killer: false,
        oom_score_adj: None,
        freezer_state: None,
    };
    h.manager(cgroup)?
        .apply(&opt)
        .map_err(|e| cgroup_err(isolator, cgroup, e))
}

/// libcgroups' statistics of a cgroup. Units are the kernel's and differ by version (see the users).
pub fn stats(h: &dyn Hierarchy, isolator: &'static str, cgroup: &Path) -> Result<Stats> {
    h.manager(cgroup)?
        .stats()
        .map_err(|e| cgroup_err(isolator, cgroup, e))
}

/// Which hierarchy an isolator works on: the host's (detected lazily), or a given one (tests).
#[derive(Clone, Debug, Default)]
pub enum Tree {
    #[default]
    Host,
    Given(Arc<dyn Hierarchy>),
}

impl Tree {
    pub fn get(&self) -> Result<Arc<dyn Hierarchy>> {
        match self {
            Tree::Host => host(),
            Tree::Given(h) => Ok(h.clone()),
        }
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! Fake cgroup trees in a tempdir for the controller modules' unit tests.
    use super::*;
    use crate::isolator::{Container, Request};
    use crate::vocab::{Limits, LinuxSpec, NetworkSpec, Resources};

    pub fn put(dir: &Path, files: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).expect("mkdir");
        for (name, value) in files {
            std::fs::write(dir.join(name), value).expect("write");
        }
    }

    pub fn get(dir: &Path, name: &str) -> String {
        std::fs::read_to_string(dir.join(name)).expect("read")
    }

    /// A container `c` in cgroup `/ucr/c`, checkpointing under `state`.
    pub fn container(state: &Path) -> Container<'_> {
        Container {
            id: "c",
            cgroup: Path::new("/ucr/c"),
            state_dir: state,
            sandbox: state,
            sandbox_in_container: "/mnt/mesos/sandbox",
            rootfs: None,
        }
    }

    /// Owned request data to borrow a `Request` from.
    #[derive(Default)]
    pub struct Req {
        pub resources: Resources,
        pub limits: Limits,
        pub network: NetworkSpec,
        pub linux: LinuxSpec,
    }

    impl Req {
        pub fn request(&self) -> Request<'_> {
            Request {
                resources: &self.resources,
                limits: &self.limits,
                volumes: &[],
                network: &self.network,
                ports: &[],
                hostname: None,
                rlimits: &[],
                linux: &self.linux,
                uid: 0,
                gid: 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_mounts_from_mountinfo() {
        let info = "\
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/my\\040pids rw,relatime - cgroup cgroup rw,pids
36 30 0:32 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
37 30 0:33 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        let m = v1_mounts(info);
        assert_eq!(m[&Controller::Cpu], Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(
            m[&Controller::CpuAcct],
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(m[&Controller::Memory], Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(m[&Controller::Pids], Path::new("/sys/fs/cgroup/my pids"));
        assert!(!m.contains_key(&Controller::Devices));
        let freezer = "38 30 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n";
        let (all, controlled, f) = v1_hierarchies(&format!("{info}{freezer}"));
        assert_eq!(all.len(), 5, "{all:?}");
        assert!(all.contains(&PathBuf::from("/sys/fs/cgroup/systemd")));
        assert_eq!(controlled.len(), 4, "{controlled:?}");
        assert!(!controlled.contains(&PathBuf::from("/sys/fs/cgroup/systemd")));
        assert_eq!(f.as_deref(), Some(Path::new("/sys/fs/cgroup/freezer")));
        assert_eq!(v1_hierarchies(info).2, None);
    }

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
