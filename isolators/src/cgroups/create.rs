//! Making a container's cgroup before its init exists: the directories in every hierarchy, the limits written,
//! then the init placed in it (v1: its pid written to each `cgroup.procs`; v2: `clone3(CLONE_INTO_CGROUP)` with
//! [`Placement::clone_into`], or [`Placement::join`]).
//!
//! Limits are written before any process joins, so the task never runs unlimited, not even between a join and
//! a limit write. This is the inverse of `teardown.rs` and, like it, works from the hierarchies the
//! [`Hierarchy`] found once per process, where libcgroups' v1 manager rescans `/proc/self/mountinfo` once per
//! controller (12 times, 1.4 ms, per launch). v1 values follow libcgroups' v1 controllers (0 is "not set",
//! pids <= 0 is `max`, device rules in their `Display` form); on v2 libcgroups' manager, which reads no
//! mountinfo, writes the limits, all but the device rules, which are our own BPF filter (`devices.rs`).

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;
use rustix::fs::{Mode, OFlags};

use super::dirs;
use super::files::{fail, put, read};
use super::limits_v1::{limits_v1, unsupported_v1};
use super::{apply, cgroup_err, relative, Controller, Hierarchy, Version};
use crate::error::Result;

/// The v2 controllers enabled from the root down to the container's parent, those the root offers.
const V2_CONTROLLERS: [&str; 6] = ["cpu", "cpuset", "io", "memory", "pids", "hugetlb"];

/// The container's cgroup, made and limited, ready for its init.
#[derive(Debug)]
pub struct Placement {
    version: Version,
    cgroup: PathBuf,
    dirs: Vec<(PathBuf, PathBuf)>,
    fd: Option<OwnedFd>,
}

impl Placement {
    pub fn version(&self) -> Version {
        self.version
    }

    /// Every directory of the container's cgroup, with the mount point of the hierarchy it is in (v1: e.g.
    /// ("/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu/ucr/x"); v2: one pair (root, dir)).
    pub fn dirs(&self) -> &[(PathBuf, PathBuf)] {
        &self.dirs
    }

    /// v2 only: an O_PATH|O_DIRECTORY|O_CLOEXEC fd of the cgroup dir, for clone3(CLONE_INTO_CGROUP).
    pub fn clone_into(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|f| f.as_fd())
    }

    /// v1 only: the `tasks` file of the cgroup in each hierarchy. The init writes "0" (itself) to each: moving
    /// the calling thread skips the kernel's global threadgroup lock that a pid written by another process
    /// takes (an RCU grace period on a busy host). Empty on v2, where the init is cloned into its cgroup.
    pub fn self_join_files(&self) -> Vec<PathBuf> {
        match self.version {
            Version::V1 => self.dirs.iter().map(|(_, d)| d.join("tasks")).collect(),
            Version::V2 => Vec::new(),
        }
    }

    /// Move `pid` (all its threads) into the cgroup in every hierarchy: writes the pid to each dir's
    /// cgroup.procs (v1 always; v2 only when clone_into could not be used).
    pub fn join(&self, pid: i32) -> Result<()> {
        let pid = pid.to_string();
        for (_, dir) in &self.dirs {
            put(&dir.join("cgroup.procs"), &pid, &self.cgroup)?;
        }
        Ok(())
    }
}

/// The directories `cgroup` has in the hierarchies, each with its mount point; none is made.
pub fn existing(h: &dyn Hierarchy, cgroup: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    let rel = relative(cgroup)?;
    Ok(h.controller_mounts()
        .iter()
        .map(|m| (m.clone(), m.join(&rel)))
        .filter(|(_, d)| d.is_dir())
        // v2: once a nested container's cgroup took controllers, the container's own processes are in its leaf.
        .map(|(m, d)| match d.join(LEAF) {
            leaf if leaf.is_dir() => (m, leaf),
            _ => (m, d),
        })
        .collect())
}

pub use super::dirs::LEAF;

/// Create `cgroup` (an absolute cgroup path like `"/ucr/<id>"`) in every hierarchy and write `resources` into
/// it. Idempotent on an existing dir. On error, removes the directories it created (and only those).
pub fn create(h: &dyn Hierarchy, cgroup: &Path, resources: &LinuxResources) -> Result<Placement> {
    let rel = relative(cgroup)?;
    if rel.as_os_str().is_empty() {
        return Err(cgroup_err("cgroups", cgroup, "not a cgroup below the root"));
    }
    let mut made = Vec::new();
    let placed = make(h, cgroup, &rel, resources, &mut made);
    if placed.is_err() {
        for d in made.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
    placed
}

fn make(
    h: &dyn Hierarchy,
    cgroup: &Path,
    rel: &Path,
    resources: &LinuxResources,
    made: &mut Vec<PathBuf>,
) -> Result<Placement> {
    let v1 = h.version() == Version::V1;
    if let Some(what) = unsupported_v1(resources).filter(|_| v1) {
        let why = format!("{what} is not supported on cgroup v1");
        return Err(cgroup_err("cgroups", cgroup, why));
    }
    let cpuset = h
        .dir(Controller::CpuSet, Path::new("/"))
        .ok()
        .filter(|_| v1);
    let mut dirs = Vec::new();
    for mount in h.controller_mounts() {
        let have = if v1 {
            String::new()
        } else {
            read(&mount.join("cgroup.controllers"), cgroup)?
        };
        let have: Vec<&str> = have.split_whitespace().collect();
        let wanted: Vec<&str> = V2_CONTROLLERS
            .into_iter()
            .filter(|c| have.contains(c))
            .collect();
        let target = dirs::Target {
            mount,
            rel,
            wanted: &wanted,
            cpuset: cpuset.as_ref() == Some(mount),
            cgroup,
        };
        let dir = dirs::make(&target, made)?;
        dirs.push((mount.clone(), dir));
    }
    let mut fd = None;
    if v1 {
        limits_v1(h, cgroup, resources)?;
    } else {
        let mut r = resources.clone();
        r.set_devices(None);
        apply(h, "cgroups", cgroup, &r)?;
        let dir = &dirs
            .first()
            .ok_or_else(|| cgroup_err("cgroups", cgroup, "no v2 root"))?
            .1;
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        fd = Some(rustix::fs::open(dir, flags, Mode::empty()).map_err(|e| fail(cgroup, dir, e))?);
    }
    let (version, cgroup) = (h.version(), cgroup.to_path_buf());
    Ok(Placement {
        version,
        cgroup,
        dirs,
        fd,
    })
}

#[cfg(test)]
mod tests {
    use super::super::limits_v1::MEMSW;
    use std::fs::{create_dir_all as mkdirs, remove_dir_all};
    use std::os::fd::AsRawFd;
    use std::process::{Child, Command};
    use std::sync::Arc;

    use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids};

    use super::super::fake::{get, put as files};
    use super::super::{device_rules::rules, host, teardown, V1, V2};
    use super::*;

    const CG: &str = "/ucr/c";

    /// The fake v1 tree with its roots' cpuset and memsw files, and a named hierarchy that gets no cgroup.
    fn v1(root: &Path) -> V1 {
        let mut h = V1::at(root);
        h.hierarchies.push(root.join("systemd"));
        h.hierarchies.iter().for_each(|m| mkdirs(m).expect("mkdir"));
        let cpuset = [("cpuset.cpus", "0-3\n"), ("cpuset.mems", "0\n")];
        files(&root.join("cpuset"), &cpuset);
        files(&root.join("memory"), &[(MEMSW, "9223372036854771712\n")]);
        h
    }

    /// 512 cpu shares, half a CPU, `mem` bytes (as much memory+swap, half as soft limit), 32 pids, the
    /// devices isolator's rules (`deny a`, then the allows, the last `c 10:200 rwm`).
    fn resources(mem: i64) -> LinuxResources {
        let mut cpu = LinuxCpu::default();
        cpu.set_shares(Some(512));
        cpu.set_period(Some(100_000)).set_quota(Some(50_000));
        let mut m = LinuxMemory::default();
        m.set_limit(Some(mem)).set_swap(Some(mem));
        m.set_reservation(Some(mem / 2));
        let mut p = LinuxPids::default();
        p.set_limit(32);
        let mut r = LinuxResources::default();
        r.set_cpu(Some(cpu)).set_memory(Some(m));
        r.set_pids(Some(p)).set_devices(Some(rules(false)));
        r
    }

    fn check(dir: &Path, want: &[(&str, &str)]) {
        for (f, v) in want {
            assert_eq!(get(dir, f), *v, "{}", dir.join(f).display());
        }
    }

    #[test]
    fn v1_makes_every_controller_hierarchy_copies_cpuset_writes_limits_and_joins() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (root, cg) = (tmp.path(), Path::new(CG));
        let h = v1(root);
        let p = create(&h, cg, &resources(64 << 20)).expect("create");
        assert_eq!(p.version(), Version::V1);
        assert!(p.clone_into().is_none());
        assert_eq!(p.dirs().len(), 7, "{:?}", p.dirs());
        for (mount, dir) in p.dirs() {
            assert!(*dir == mount.join("ucr/c") && dir.is_dir());
        }
        assert!(!root.join("systemd/ucr").exists(), "a named one");
        for d in ["cpuset/ucr", "cpuset/ucr/c"] {
            check(
                &root.join(d),
                &[("cpuset.cpus", "0-3"), ("cpuset.mems", "0")],
            );
        }
        let (cpu, mem) = (root.join("cpu/ucr/c"), root.join("memory/ucr/c"));
        check(
            &cpu,
            &[("cpu.shares", "512"), ("cpu.cfs_quota_us", "50000")],
        );
        check(&cpu, &[("cpu.cfs_period_us", "100000")]);
        check(
            &mem,
            &[("memory.limit_in_bytes", "67108864"), (MEMSW, "67108864")],
        );
        check(&mem, &[("memory.soft_limit_in_bytes", "33554432")]);
        check(&root.join("pids/ucr/c"), &[("pids.max", "32")]);
        // Each rule one write, the allows through one open of their file: here they follow each other in it.
        let allows: String = rules(false)
            .iter()
            .filter(|r| r.allow())
            .map(|r| r.to_string())
            .collect();
        assert!(allows.ends_with("c 10:200 rwm"), "{allows}");
        let written = [("devices.deny", "a *:* rwm"), ("devices.allow", &allows)];
        check(&root.join("devices/ucr/c"), &written);

        p.join(4242).expect("join");
        for (_, dir) in p.dirs() {
            check(dir, &[("cgroup.procs", "4242")]);
        }
        let again = create(&h, cg, &resources(64 << 20)).expect("again");
        assert_eq!(again.dirs(), p.dirs());
        check(&cpu, &[("cgroup.procs", "4242")]);
    }

    /// A nested cgroup whose parents are there is made alone; a parent with an empty cpuset, or a missing one,
    /// is filled or made on the way from the root.
    #[test]
    fn v1_makes_a_cgroup_alone_under_its_parents_and_walks_from_the_root_when_one_lacks() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path();
        let h = v1(root);
        let none = LinuxResources::default();
        create(&h, Path::new("/ucr/pod"), &none).expect("the parent");
        let (ucr, pod) = (root.join("cpuset/ucr"), root.join("cpuset/ucr/pod"));
        let full = [("cpuset.cpus", "0-3"), ("cpuset.mems", "0")];
        let empty = [("cpuset.cpus", ""), ("cpuset.mems", "")];
        // Emptied above the parent: the parent's own cpuset is what a cgroup made alone copies.
        files(&ucr, &empty);
        let p = create(&h, Path::new("/ucr/pod/a"), &resources(64 << 20)).expect("alone");
        for (mount, dir) in p.dirs() {
            assert!(*dir == mount.join("ucr/pod/a") && dir.is_dir(), "{dir:?}");
        }
        check(&pod.join("a"), &full);
        check(&ucr, &empty);
        check(
            &root.join("memory/ucr/pod/a"),
            &[("memory.limit_in_bytes", "67108864")],
        );

        // The parent's cpuset emptied too: the walk fills both from the root, then the new cgroup.
        files(&pod, &empty);
        create(&h, Path::new("/ucr/pod/b"), &none).expect("walked");
        for d in [&ucr, &pod, &pod.join("b")] {
            check(d, &full);
        }
        // A parent missing in every hierarchy is made on the way.
        let p = create(&h, Path::new("/ucr/other/c"), &none).expect("made on the way");
        assert_eq!(p.dirs().len(), 7);
        check(&root.join("cpuset/ucr/other"), &full);
        check(&root.join("cpuset/ucr/other/c"), &full);
        // One component is the walk's, as before.
        create(&h, Path::new("/top"), &none).expect("top");
        check(&root.join("cpuset/top"), &full);
        // Nothing to copy anywhere: an error naming the file, and nothing of the new cgroup left.
        files(&root.join("cpuset"), &empty);
        files(&ucr, &empty);
        files(&pod, &empty);
        let e = create(&h, Path::new("/ucr/pod/c"), &none).expect_err("no cpus");
        let e = e.to_string();
        assert!(
            e.contains("cpuset/cpuset.cpus: empty, nothing to copy"),
            "{e}"
        );
        assert!(!pod.join("c").exists());
    }

    #[test]
    fn an_error_names_the_file_keeps_the_order_and_removes_only_what_it_made() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (root, cg) = (tmp.path(), Path::new(CG));
        let h = v1(root);
        let fail = |r: &LinuxResources| create(&h, cg, r).expect_err("fails").to_string();
        let (cpu, mem) = (root.join("cpu/ucr/c"), root.join("memory/ucr/c"));
        // cpu/ucr/c is there already, with a quota "file" that cannot be written.
        mkdirs(cpu.join("cpu.cfs_quota_us")).expect("mkdir");
        let e = fail(&resources(64 << 20));
        assert!(e.contains("cgroup /ucr/c: "), "{e}");
        assert!(e.contains("cpu/ucr/c/cpu.cfs_quota_us: "), "{e}");
        check(&cpu, &[("cpu.cfs_period_us", "100000")]);
        assert!(cpu.is_dir(), "what was there stays");
        assert!(!root.join("memory/ucr").exists(), "what it made goes");
        remove_dir_all(root.join("cpu/ucr")).expect("rm");

        // A fresh cgroup: the limit before memsw. Raising a limit: memsw first.
        mkdirs(mem.join(MEMSW)).expect("mkdir");
        assert!(fail(&resources(64 << 20)).contains(MEMSW));
        check(&mem, &[("memory.limit_in_bytes", "67108864")]);
        files(&mem, &[("memory.limit_in_bytes", "1073741824")]);
        assert!(fail(&resources(2 << 30)).contains(MEMSW));
        check(&mem, &[("memory.limit_in_bytes", "1073741824")]);
        remove_dir_all(root.join("memory/ucr")).expect("rm");

        // Device rules in order, up to the first that fails.
        let dev = root.join("devices/ucr/c");
        mkdirs(dev.join("devices.allow")).expect("mkdir");
        let e = fail(&resources(64 << 20));
        assert!(
            e.contains("devices.allow: ") && e.contains("\"c *:* m\""),
            "{e}"
        );
        check(&dev, &[("devices.deny", "a *:* rwm")]);

        let mut r = LinuxResources::default();
        r.set_block_io(Some(LinuxBlockIo::default()));
        assert!(fail(&r).contains("blockIO"));
        assert!(create(&h, Path::new("/"), &LinuxResources::default()).is_err());
    }

    #[test]
    fn v2_enables_controllers_down_to_the_parent_and_leaves_devices_to_bpf() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().canonicalize().expect("canonical");
        let (ucr, dir) = (root.join("ucr"), root.join("ucr/c"));
        let all = "cpuset cpu io memory hugetlb pids rdma\n";
        let some = ("cgroup.subtree_control", "cpu memory\n");
        files(&root, &[("cgroup.controllers", all), some]);
        let h = V2::at(&root);
        let none = LinuxResources::default();
        let p = create(&h, Path::new(CG), &none).expect("create");
        assert_eq!(p.dirs(), &[(root.clone(), dir.clone())]);
        let more = "+cpuset +io +pids +hugetlb";
        check(&root, &[("cgroup.subtree_control", more)]);
        let all_on = "+cpu +cpuset +io +memory +pids +hugetlb";
        check(&ucr, &[("cgroup.subtree_control", all_on)]);
        assert!(!dir.join("cgroup.subtree_control").exists());
        let fd = p.clone_into().expect("an fd on v2");
        let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
        assert_eq!(std::fs::read_link(link).ok(), Some(dir.clone()));

        // Again, with limits (into the kernel's files, faked), the controllers on already.
        let on = [(
            "cgroup.subtree_control",
            "cpu cpuset io memory pids hugetlb\n",
        )];
        files(&root, &on);
        files(&ucr, &on);
        files(
            &dir,
            &[("memory.max", ""), ("memory.low", ""), ("pids.max", "")],
        );
        let mut r = resources(64 << 20);
        r.set_cpu(None);
        let p = create(&h, Path::new(CG), &r).expect("again");
        check(&dir, &[("memory.max", "67108864"), ("pids.max", "32")]);
        check(&dir, &[("memory.low", "33554432")]);
        check(&root, &on);
        check(&ucr, &on);
        assert!(!dir.join("devices.deny").exists(), "devices are BPF");
        p.join(4242).expect("join");
        check(&dir, &[("cgroup.procs", "4242")]);
    }

    /// Removed even when the test fails: the child (killed and reaped) and the cgroup.
    struct Made(Arc<dyn Hierarchy>, PathBuf, Option<Child>);

    impl Drop for Made {
        fn drop(&mut self) {
            if let Some(c) = self.2.as_mut() {
                let _ = c.kill();
                let _ = c.wait();
            }
            let _ = teardown::destroy(self.0.as_ref(), &self.1);
        }
    }

    /// On the host's real v1 cgroups (root): limits and device rules are in place when a child joins.
    #[test]
    fn a_child_joins_a_limited_cgroup_on_the_host() {
        let Some(h) = host().ok().filter(|h| h.version() == Version::V1) else {
            return eprintln!("skipped: /sys/fs/cgroup is not cgroup v1");
        };
        if !rustix::process::geteuid().is_root() {
            return eprintln!("skipped: needs root");
        }
        let cg = PathBuf::from(format!("/ucr-test-create-{}", std::process::id()));
        let mut made = Made(h.clone(), cg.clone(), None);
        let t = std::time::Instant::now();
        let p = create(h.as_ref(), &cg, &resources(64 << 20)).expect("create");
        eprintln!("create: {:?}, {} dirs", t.elapsed(), p.dirs().len());
        let sleep = Command::new("sleep").arg("5").spawn().expect("sleep");
        let pid = i32::try_from(made.2.insert(sleep).id()).expect("pid");
        p.join(pid).expect("join");

        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup"));
        let own = own.expect("/proc/pid/cgroup");
        let memory = format!(":memory:{}", cg.display());
        assert!(own.lines().any(|l| l.ends_with(&memory)), "{own}");
        let dir = |c| h.dir(c, &cg).expect("dir");
        let limit = ("memory.limit_in_bytes", "67108864\n");
        check(&dir(Controller::Memory), &[limit, (MEMSW, "67108864\n")]);
        check(&dir(Controller::Pids), &[("pids.max", "32\n")]);
        let list = get(&dir(Controller::Devices), "devices.list");
        assert!(list.starts_with("c *:* m\nb *:* m\nc 1:3 rwm\n"), "{list}");
        assert!(!list.contains('a'), "deny a came first: {list}");
        for (_, d) in p.dirs() {
            let procs = get(d, "cgroup.procs");
            assert!(procs.lines().any(|l| l == pid.to_string()), "{d:?}");
        }
    }
}
