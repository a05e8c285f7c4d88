//! Finding the host's cgroups once per process: statfs of /sys/fs/cgroup; for v1, each hierarchy the kernel lists
//! in /proc/self/cgroup at the path every init system mounts it on, and /proc/self/mountinfo only when one is not
//! there.
//!
//! Why not always mountinfo: the kernel prints every mount of the namespace into it, each container's rootfs
//! included (an overlay's line carries all its layers' paths), so reading it costs in proportion to the
//! containers running: 0.7 ms with 100 of them on this project's test machine, for every `ucr` command that
//! touches a cgroup. /proc/self/cgroup has one short line per hierarchy, and a statfs per hierarchy proves the
//! path is a cgroup v1 mount.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::hierarchy::{cgroup_err, Controller, Hierarchy, V1, V2};
use crate::error::Result;

/// Where the host mounts its cgroups.
pub const HOST_ROOT: &str = "/sys/fs/cgroup";

/// statfs's `f_type` of a cgroup v1 mount (CGROUP_SUPER_MAGIC).
const CGROUP_V1_MAGIC: u64 = 0x0027_e0eb;

/// The host's cgroups, detected on first use (statfs of /sys/fs/cgroup, then its v1 hierarchies: see the
/// module's docs). A hybrid host (v1 controllers plus an empty unified tree) is v1, as libcgroups and runc see it.
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
    let listed = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let v1 = match at_their_paths(&listed, Path::new(HOST_ROOT), is_v1_mount) {
        Some(v1) => v1,
        None => {
            let info = std::fs::read_to_string("/proc/self/mountinfo")
                .map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
            from_mountinfo(&info)
        }
    };
    let mounts = v1_mounts(&v1);
    if mounts.is_empty() {
        return Err("no cgroup v1 controller is mounted and the root is not cgroup2".into());
    }
    let (hierarchies, controlled, freezer) = v1_hierarchies(&v1);
    Ok(Arc::new(V1 {
        mounts,
        hierarchies,
        controlled,
        freezer,
        host: true,
    }))
}

/// A cgroup v1 mount: where, and its super options (its controllers, `name=...` for a named hierarchy).
#[derive(Debug, PartialEq)]
struct V1Mount {
    at: PathBuf,
    opts: Vec<String>,
}

fn is_v1_mount(p: &Path) -> bool {
    rustix::fs::statfs(p).is_ok_and(|fs| fs.f_type as u64 == CGROUP_V1_MAGIC)
}

/// Each v1 hierarchy of a /proc/self/cgroup text (`ID:CONTROLLERS:PATH`, `0::PATH` the unified one) at
/// `root/<its controllers>` (`cpu,cpuacct`; `systemd` for `name=systemd`), where systemd, cgroupfs-mount and
/// Docker's docs mount them; `None` when one of them is not a cgroup v1 mount there (`is_v1`), or the text names
/// none: the caller then asks mountinfo.
fn at_their_paths(
    proc_cgroup: &str,
    root: &Path,
    is_v1: impl Fn(&Path) -> bool,
) -> Option<Vec<V1Mount>> {
    let mut out = Vec::new();
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (id, list) = (f.next()?, f.next()?);
        if id == "0" {
            continue;
        }
        let opts: Vec<String> = list.split(',').map(String::from).collect();
        // A named hierarchy with controllers has no one conventional path.
        let dir = match list.strip_prefix("name=") {
            Some(name) if !list.contains(',') => name,
            _ if opts.iter().any(|o| o.starts_with("name=")) => return None,
            _ => list,
        };
        if dir.is_empty() || dir == "." || dir == ".." {
            return None;
        }
        let at = root.join(dir);
        if !is_v1(&at) {
            return None;
        }
        out.push(V1Mount { at, opts });
    }
    // The kernel lists the newest hierarchy first; mountinfo, and so the order of the hierarchies before this
    // existed, has them as they were mounted.
    out.reverse();
    (!out.is_empty()).then_some(out)
}

/// The `cgroup` (v1) mounts of a mountinfo text: each mount point (unescaped) with its super options.
fn from_mountinfo(mountinfo: &str) -> Vec<V1Mount> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let mut r = right.split(' ');
            if r.next() != Some("cgroup") {
                return None;
            }
            let opts = r
                .nth(1)
                .unwrap_or("")
                .split(',')
                .map(String::from)
                .collect();
            let at = PathBuf::from(unescape(left.split(' ').nth(4)?));
            Some(V1Mount { at, opts })
        })
        .collect()
}

/// Every v1 mount point, those carrying controllers (all but named hierarchies: `name=` in the super options),
/// and the one carrying the freezer controller.
fn v1_hierarchies(v1: &[V1Mount]) -> (Vec<PathBuf>, Vec<PathBuf>, Option<PathBuf>) {
    let (mut all, mut controlled, mut freezer) = (Vec::<PathBuf>::new(), Vec::new(), None);
    for m in v1 {
        if all.contains(&m.at) {
            continue;
        }
        if freezer.is_none() && m.opts.iter().any(|o| o == "freezer") {
            freezer = Some(m.at.clone());
        }
        if !m.opts.iter().any(|o| o.starts_with("name=")) {
            controlled.push(m.at.clone());
        }
        all.push(m.at.clone());
    }
    (all, controlled, freezer)
}

/// Controller → mount point: the first mount whose super options name the controller.
fn v1_mounts(v1: &[V1Mount]) -> BTreeMap<Controller, PathBuf> {
    let mut out = BTreeMap::new();
    for m in v1 {
        for c in Controller::ALL {
            if m.opts.iter().any(|o| o == c.name()) {
                out.entry(c).or_insert_with(|| m.at.clone());
            }
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
pub fn unescape(s: &str) -> String {
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
        let m = v1_mounts(&from_mountinfo(info));
        assert_eq!(m[&Controller::Cpu], Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(
            m[&Controller::CpuAcct],
            Path::new("/sys/fs/cgroup/cpu,cpuacct")
        );
        assert_eq!(m[&Controller::Memory], Path::new("/sys/fs/cgroup/memory"));
        assert_eq!(m[&Controller::Pids], Path::new("/sys/fs/cgroup/my pids"));
        assert!(!m.contains_key(&Controller::Devices));
        let freezer = "38 30 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n";
        let (all, controlled, f) = v1_hierarchies(&from_mountinfo(&format!("{info}{freezer}")));
        assert_eq!(all.len(), 5, "{all:?}");
        assert!(all.contains(&PathBuf::from("/sys/fs/cgroup/systemd")));
        assert_eq!(controlled.len(), 4, "{controlled:?}");
        assert!(!controlled.contains(&PathBuf::from("/sys/fs/cgroup/systemd")));
        assert_eq!(f.as_deref(), Some(Path::new("/sys/fs/cgroup/freezer")));
        assert_eq!(v1_hierarchies(&from_mountinfo(info)).2, None);
    }

    fn mount(at: &str, opts: &[&str]) -> V1Mount {
        let opts = opts.iter().map(|o| o.to_string()).collect();
        V1Mount {
            at: PathBuf::from(at),
            opts,
        }
    }

    #[test]
    fn each_listed_hierarchy_at_the_path_named_for_its_controllers() {
        // systemd's layout: co-mounted controllers, a named hierarchy, the empty unified one.
        let listed =
            "12:cpu,cpuacct:/user.slice\n4:memory:/x\n1:name=systemd:/init.scope\n0::/init.scope\n";
        let got = at_their_paths(listed, Path::new("/c"), |_| true).expect("found");
        assert_eq!(
            got,
            [
                mount("/c/systemd", &["name=systemd"]),
                mount("/c/memory", &["memory"]),
                mount("/c/cpu,cpuacct", &["cpu", "cpuacct"]),
            ]
        );
        let (all, controlled, freezer) = v1_hierarchies(&got);
        assert_eq!((all.len(), controlled.len(), freezer), (3, 2, None));
        assert_eq!(
            v1_mounts(&got)[&Controller::CpuAcct],
            Path::new("/c/cpu,cpuacct")
        );
    }

    #[test]
    fn mountinfo_is_asked_when_a_hierarchy_is_not_at_its_path_or_has_none() {
        let listed = "3:pids:/\n2:memory:/\n0::/\n";
        let only_pids = |p: &Path| p.ends_with("pids");
        assert_eq!(at_their_paths(listed, Path::new("/c"), only_pids), None);
        // A named hierarchy with controllers, a name that is no directory's, a v2-only host.
        for listed in ["5:cpu,name=mine:/\n", "5:name=..:/\n", "0::/\n", ""] {
            assert_eq!(
                at_their_paths(listed, Path::new("/c"), |_| true),
                None,
                "{listed}"
            );
        }
    }

    /// On a v1 host (this project's test machines), the hierarchies found at their paths are mountinfo's.
    #[test]
    fn on_this_host_the_paths_agree_with_mountinfo() {
        let Some(fast) = std::fs::read_to_string("/proc/self/cgroup")
            .ok()
            .and_then(|l| at_their_paths(&l, Path::new(HOST_ROOT), is_v1_mount))
        else {
            return; // cgroup v2, or a layout that falls back to mountinfo anyway
        };
        let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let slow = from_mountinfo(&info);
        assert_eq!(v1_mounts(&fast), v1_mounts(&slow));
        let (a, b) = (v1_hierarchies(&fast), v1_hierarchies(&slow));
        assert_eq!(a.2, b.2);
        assert_eq!((a.0, a.1), (b.0, b.1));
    }
}
