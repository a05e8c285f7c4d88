//! Finding the host's cgroups once per process: statfs of /sys/fs/cgroup, then /proc/self/mountinfo for v1.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::hierarchy::{cgroup_err, Controller, Hierarchy, V1, V2};
use crate::error::Result;

/// Where the host mounts its cgroups.
pub const HOST_ROOT: &str = "/sys/fs/cgroup";

/// The host's cgroups, detected on first use (statfs of /sys/fs/cgroup, then /proc/self/mountinfo for v1).
/// A hybrid host (v1 controllers plus an empty unified tree) is v1, as libcgroups and runc see it.
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

/// The `cgroup` (v1) mounts of a mountinfo text: each mount point (unescaped) with its super options.
fn v1_lines(mountinfo: &str) -> impl Iterator<Item = (PathBuf, Vec<&str>)> {
    mountinfo.lines().filter_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mut r = right.split(' ');
        if r.next() != Some("cgroup") {
            return None;
        }
        let opts = r.nth(1).unwrap_or("").split(',').collect();
        let mount_point = PathBuf::from(unescape(left.split(' ').nth(4)?));
        Some((mount_point, opts))
    })
}

/// Every `cgroup` (v1) mount point, those carrying controllers (all but named hierarchies: `name=` in the super
/// options), and the one carrying the freezer controller.
fn v1_hierarchies(mountinfo: &str) -> (Vec<PathBuf>, Vec<PathBuf>, Option<PathBuf>) {
    let (mut all, mut controlled, mut freezer) = (Vec::<PathBuf>::new(), Vec::new(), None);
    for (mount_point, opts) in v1_lines(mountinfo) {
        if all.contains(&mount_point) {
            continue;
        }
        if freezer.is_none() && opts.contains(&"freezer") {
            freezer = Some(mount_point.clone());
        }
        if !opts.iter().any(|o| o.starts_with("name=")) {
            controlled.push(mount_point.clone());
        }
        all.push(mount_point);
    }
    (all, controlled, freezer)
}

/// Controller → mount point, from mountinfo lines of type `cgroup` (their super options name the controllers).
fn v1_mounts(mountinfo: &str) -> BTreeMap<Controller, PathBuf> {
    let mut out = BTreeMap::new();
    for (mount_point, opts) in v1_lines(mountinfo) {
        for c in Controller::ALL {
            if opts.contains(&c.name()) {
                out.entry(c).or_insert_with(|| mount_point.clone());
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
}
