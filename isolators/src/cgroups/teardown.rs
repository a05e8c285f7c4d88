//! Destroying a container's cgroups at teardown: every process still in them is killed, then every directory
//! the cgroup has (one per v1 hierarchy, one on v2) is removed, deepest first.
//!
//! The common end needs no kill at all: the task's init was pid 1 of its own pid namespace, so the kernel killed
//! and reaped everything else in the namespace before the init's status reached the supervisor. The kill is for
//! the rest: a shared pid namespace, a `rm --force` of a container whose supervisor died, a process that moved
//! itself into a child cgroup. It freezes first (v1 freezer, v2 `cgroup.freeze`) so that nothing can fork
//! between reading the member list and the kill, or uses v2's `cgroup.kill`, which the kernel does atomically.
//!
//! This reads the hierarchies the [`Hierarchy`] found once per process, where libcgroups' manager rescans
//! `/proc/self/mountinfo` once per controller for every teardown.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{cgroup_err, Hierarchy, Version};
use crate::error::Result;

/// How long dying processes get to leave before a removal fails (an uninterruptible sleep on I/O can hold one).
const PATIENCE: Duration = Duration::from_secs(10);

/// Kill every process in `cgroup` and remove it from every hierarchy. A cgroup that does not exist (never
/// created, or removed by an earlier teardown) is fine: teardown runs again after a crash.
pub fn destroy(h: &dyn Hierarchy, cgroup: &Path) -> Result<()> {
    let dirs: Vec<PathBuf> = h
        .all_dirs(cgroup)?
        .into_iter()
        .filter(|d| d.is_dir())
        .collect();
    if dirs.is_empty() {
        return Ok(());
    }
    // The common end needs only the rmdirs (every process is gone), so try them first; a directory that still
    // has members or sub-cgroups refuses, and only those go through the kill below. The freezer's directory is
    // tried last, and only when all others went, so that it is there for that kill.
    let freezer = h.freezer_dir(cgroup)?;
    let (last, first): (Vec<PathBuf>, Vec<PathBuf>) =
        dirs.into_iter().partition(|d| Some(d) == freezer.as_ref());
    let mut dirs: Vec<PathBuf> = first.into_iter().filter(|d| !removed(d)).collect();
    if dirs.is_empty() {
        dirs = last.into_iter().filter(|d| !removed(d)).collect();
    } else {
        dirs.extend(last);
    }
    if dirs.is_empty() {
        return Ok(());
    }
    kill_members(h, cgroup, &dirs)?;
    let deadline = Instant::now() + PATIENCE;
    for d in &dirs {
        remove_tree(d, cgroup, deadline)?;
    }
    Ok(())
}

/// Remove the parent of `cgroup` (an instance's `/ucr/<instance>`) from every hierarchy where it is empty now,
/// so no empty cgroup outlives the last container. Best effort: a parent with another container in it stays,
/// and a placement racing this one walks its chain again (`create::chain`).
pub fn remove_parent(h: &dyn Hierarchy, cgroup: &Path) {
    let Some(parent) = cgroup.parent().filter(|p| p.components().count() > 1) else {
        return;
    };
    if let Ok(dirs) = h.all_dirs(parent) {
        for d in dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// An empty cgroup directory removed (or already gone).
fn removed(dir: &Path) -> bool {
    match std::fs::remove_dir(dir) {
        Ok(()) => true,
        Err(e) => e.kind() == ErrorKind::NotFound,
    }
}

/// SIGKILL every process in `cgroup` (`ucr kill` with SIGKILL), frozen first so that none escapes by forking.
pub fn kill(h: &dyn Hierarchy, cgroup: &Path) -> Result<()> {
    kill_members(h, cgroup, &existing_dirs(h, cgroup)?)
}

/// Thaw the `ancestors` nearest parents of `cgroup` where a kill that was itself killed between its freeze and
/// its thaw left them frozen (a pod's cgroup, when `ucr kill POD` was): on v1 a cgroup is frozen while any parent
/// is, whatever its own state says, and a frozen process never acts on its SIGKILL. Only a parent frozen itself
/// is thawed (v1 `freezer.self_freezing`, v2 `cgroup.freeze`); one without a freezer, or gone, is left as it is.
pub fn thaw_parents(h: &dyn Hierarchy, cgroup: &Path, ancestors: usize) -> Result<()> {
    let (own, file, thawed) = match h.version() {
        Version::V1 => ("freezer.self_freezing", "freezer.state", "THAWED"),
        Version::V2 => ("cgroup.freeze", "cgroup.freeze", "0"),
    };
    for parent in cgroup.ancestors().skip(1).take(ancestors) {
        let Some(dir) = h.freezer_dir(parent)? else {
            return Ok(());
        };
        let frozen = std::fs::read_to_string(dir.join(own)).is_ok_and(|s| s.trim() == "1");
        if frozen {
            write_unless_gone(&dir.join(file), thawed, parent)?;
        }
    }
    Ok(())
}

/// Every process in `cgroup` or below it, in any hierarchy, each once (`runc ps`).
pub fn members(h: &dyn Hierarchy, cgroup: &Path) -> Result<Vec<i32>> {
    fn collect(dir: &Path, out: &mut Vec<i32>) {
        out.extend(pids(dir));
        for d in sub_cgroups(dir) {
            collect(&d, out);
        }
    }
    let mut out = Vec::new();
    for d in existing_dirs(h, cgroup)? {
        collect(&d, &mut out);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The directories `cgroup` has in the hierarchies (where it was made).
fn existing_dirs(h: &dyn Hierarchy, cgroup: &Path) -> Result<Vec<PathBuf>> {
    Ok(h.all_dirs(cgroup)?
        .into_iter()
        .filter(|d| d.is_dir())
        .collect())
}

/// Send `signal` to every process in `cgroup` but those in `except` (the kill policy's SIGTERM: a request, so
/// nothing is frozen; a process forked meanwhile is caught by the SIGKILL that follows the grace period).
pub fn signal(h: &dyn Hierarchy, cgroup: &Path, signal: i32, except: &[i32]) -> Result<()> {
    signal_listed(&existing_dirs(h, cgroup)?, signal, except);
    Ok(())
}

fn kill_members(h: &dyn Hierarchy, cgroup: &Path, dirs: &[PathBuf]) -> Result<()> {
    if dirs.iter().any(|d| populated(d)) {
        kill_all(h, cgroup, dirs)?;
    }
    Ok(())
}

/// Members of a cgroup directory or of any cgroup below it.
fn populated(dir: &Path) -> bool {
    !pids(dir).is_empty() || sub_cgroups(dir).iter().any(|d| populated(d))
}

fn pids(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

fn sub_cgroups(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

fn kill_all(h: &dyn Hierarchy, cgroup: &Path, dirs: &[PathBuf]) -> Result<()> {
    let freezer = h.freezer_dir(cgroup)?.filter(|f| f.is_dir());
    match (h.version(), freezer) {
        (Version::V2, Some(dir)) if dir.join("cgroup.kill").exists() => {
            write_unless_gone(&dir.join("cgroup.kill"), "1", cgroup).map(drop)
        }
        (Version::V2, Some(dir)) => frozen(&dir, cgroup, "cgroup.freeze", ("1", "0"), || {
            signal_listed(dirs, libc::SIGKILL, &[])
        }),
        (Version::V1, Some(dir)) => {
            frozen(&dir, cgroup, "freezer.state", ("FROZEN", "THAWED"), || {
                signal_listed(dirs, libc::SIGKILL, &[])
            })
        }
        // No freezer: kill what is listed until nothing is (a forking process loses the race eventually, as
        // every child it makes is killed in the next round).
        _ => {
            let deadline = Instant::now() + PATIENCE;
            while dirs.iter().any(|d| populated(d)) && Instant::now() < deadline {
                signal_listed(dirs, libc::SIGKILL, &[]);
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        }
    }
}

/// Run `kill` with the cgroup frozen: freeze, wait until the kernel says every member is frozen, kill, thaw (a
/// SIGKILL is acted on only once the process runs again). Nothing when the cgroup is gone, or goes before the
/// thaw: a teardown beside this one (two `rm --force` at once) removed it, which it can only once it is empty.
fn frozen(
    dir: &Path,
    cgroup: &Path,
    file: &str,
    (freeze, thaw): (&str, &str),
    kill: impl FnOnce(),
) -> Result<()> {
    let path = dir.join(file);
    if !write_unless_gone(&path, freeze, cgroup)? {
        return Ok(());
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut delay = Duration::from_micros(100);
    // v1 reads FREEZING until every task stopped; v2 reports the frozen state in cgroup.events.
    loop {
        match frozen_state(dir, file) {
            // Removed meanwhile by the teardown beside this one: it was empty, so nothing is left to kill (and
            // waiting out the deadline for a file that is gone was a second's stall at every such race).
            None => return Ok(()),
            Some(true) => break,
            Some(false) if Instant::now() >= deadline => break,
            Some(false) => {}
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
    kill();
    write_unless_gone(&path, thaw, cgroup).map(drop)
}

/// Whether the cgroup at `dir` is frozen; `None` when it is gone. Any other read error counts as not frozen
/// yet (the deadline bounds the wait).
fn frozen_state(dir: &Path, file: &str) -> Option<bool> {
    let (name, is_frozen): (&str, fn(&str) -> bool) = if file == "freezer.state" {
        (file, |s| s.trim() == "FROZEN")
    } else {
        ("cgroup.events", |s| {
            s.lines().any(|l| l.trim() == "frozen 1")
        })
    };
    match std::fs::read_to_string(dir.join(name)) {
        Ok(s) => Some(is_frozen(&s)),
        Err(e) if gone(&e) => None,
        Err(_) => Some(false),
    }
}

/// Signal every process listed in the directories and their sub-cgroups (on v1 each process is listed once
/// per hierarchy: one signal each is enough), but the pids in `except`.
fn signal_listed(dirs: &[PathBuf], signal: i32, except: &[i32]) {
    let mut all = std::collections::BTreeSet::new();
    collect(dirs, &mut all);
    for pid in all.into_iter().filter(|p| !except.contains(p)) {
        // SAFETY: kill(2) has no memory effects; a pid that just went away gives ESRCH.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

fn collect(dirs: &[PathBuf], into: &mut std::collections::BTreeSet<i32>) {
    for d in dirs {
        into.extend(pids(d));
        collect(&sub_cgroups(d), into);
    }
}

/// rmdir `dir` after its sub-cgroups. EBUSY means a killed process has not left yet: retry until `deadline`.
fn remove_tree(dir: &Path, cgroup: &Path, deadline: Instant) -> Result<()> {
    for sub in sub_cgroups(dir) {
        remove_tree(&sub, cgroup, deadline)?;
    }
    let mut delay = Duration::from_micros(200);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(50));
            }
            Err(e) => {
                return Err(cgroup_err(
                    "cgroups",
                    cgroup,
                    format!("removing {}: {e}", dir.display()),
                ))
            }
        }
    }
}

/// Writes `value` to the cgroup file `path`; false if the file is gone (its cgroup removed).
fn write_unless_gone(path: &Path, value: &str, cgroup: &Path) -> Result<bool> {
    match std::fs::write(path, value) {
        Ok(()) => Ok(true),
        Err(e) if gone(&e) => Ok(false),
        Err(e) => Err(cgroup_err(
            "cgroups",
            cgroup,
            format!("{}: {e}", path.display()),
        )),
    }
}

/// The error of a cgroup file whose cgroup was removed: ENOENT once the directory is gone, ENODEV while an
/// rmdir beside us is taking it away (the file is still open or listed, the cgroup already dead).
fn gone(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENODEV)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use super::super::{host, V1};
    use super::*;

    #[test]
    fn a_cgroup_removed_by_another_teardown_has_nothing_to_freeze_or_kill() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let gone = tmp.path().join("gone");
        let mut killed = false;
        let r = frozen(&gone, &gone, "freezer.state", ("FROZEN", "THAWED"), || {
            killed = true
        });
        assert!(r.is_ok(), "{r:?}");
        assert!(!killed);
        // Any other failure is still one.
        std::fs::create_dir(&gone).expect("dir");
        std::fs::create_dir(gone.join("freezer.state")).expect("a directory where the file is");
        let e = frozen(&gone, &gone, "freezer.state", ("FROZEN", "THAWED"), || {}).err();
        assert!(e.is_some_and(|e| e.to_string().contains("freezer.state")));
    }

    /// The other teardown can remove the cgroup between this one's freeze and its first look at the state: that
    /// too is "nothing to kill", at once, not a wait for the freezer's deadline on a file that is gone.
    #[test]
    fn a_cgroup_removed_right_after_the_freeze_is_not_waited_for() {
        let tmp = tempfile::tempdir().expect("tempdir");
        // A v2 cgroup whose cgroup.freeze is still there and whose cgroup.events is already gone.
        std::fs::write(tmp.path().join("cgroup.freeze"), "0").expect("freeze file");
        let mut killed = false;
        let t = Instant::now();
        let r = frozen(tmp.path(), tmp.path(), "cgroup.freeze", ("1", "0"), || {
            killed = true
        });
        assert!(r.is_ok(), "{r:?}");
        assert!(!killed);
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
    }

    #[test]
    fn removes_empty_dirs_deepest_first_and_tolerates_absence() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let h = V1::at(tmp.path());
        let cg = Path::new("/ucr/c");
        for d in h.all_dirs(cg).expect("dirs") {
            std::fs::create_dir_all(d.join("child/grandchild")).expect("mkdir");
        }
        destroy(&h, cg).expect("destroy");
        for d in h.all_dirs(cg).expect("dirs") {
            assert!(!d.exists(), "{} left", d.display());
            assert!(d.parent().is_some_and(|p| p.exists()), "parent removed too");
        }
        destroy(&h, cg).expect("a second teardown finds nothing and is fine");
    }

    #[test]
    fn a_non_empty_directory_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let h = V1::at(tmp.path());
        let cg = Path::new("/ucr/c");
        let dir = h.dir(super::super::Controller::Memory, cg).expect("dir");
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("not-a-cgroup-file"), "x").expect("write");
        let e = destroy(&h, cg)
            .expect_err("rmdir of a non-empty plain dir fails")
            .to_string();
        assert!(e.contains(&dir.display().to_string()), "{e}");
    }

    /// Whatever the test made, removed even when it fails: the shell (killed and reaped) and the cgroup dirs.
    struct Made {
        dirs: Vec<PathBuf>,
        sh: Option<std::process::Child>,
    }

    impl Drop for Made {
        fn drop(&mut self) {
            if let Some(sh) = self.sh.as_mut() {
                let _ = sh.kill();
                let _ = sh.wait();
            }
            for d in &self.dirs {
                let _ = std::fs::remove_dir(d);
            }
        }
    }

    /// The host's cgroups, for a test run as root (else it is skipped).
    fn host_as_root() -> Option<std::sync::Arc<dyn Hierarchy>> {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root");
            return None;
        }
        Some(host().expect("host cgroups"))
    }

    /// On the host's real v1 freezer (root): a member of a cgroup whose parent a killed `ucr kill` left frozen
    /// dies of the next kill, which thaws that parent first.
    #[test]
    fn a_kill_thaws_a_parent_left_frozen_first() {
        let Some(h) = host_as_root() else {
            return;
        };
        if h.version() != Version::V1 {
            eprintln!("skipped: the v1 freezer");
            return;
        }
        let parent = PathBuf::from(format!("/ucr-test-thaw-{}", std::process::id()));
        let cg = parent.join("c");
        let (pdir, dir) = match (h.freezer_dir(&parent), h.freezer_dir(&cg)) {
            (Ok(Some(p)), Ok(Some(d))) => (p, d),
            _ => {
                eprintln!("skipped: no freezer hierarchy");
                return;
            }
        };
        /// Thaws and removes what the test made, and kills its process, even when the test fails.
        struct Undo(PathBuf, PathBuf, std::process::Child);
        impl Drop for Undo {
            fn drop(&mut self) {
                let _ = std::fs::write(self.0.join("freezer.state"), "THAWED");
                let _ = self.2.kill();
                let _ = self.2.wait();
                let _ = std::fs::remove_dir(&self.1);
                let _ = std::fs::remove_dir(&self.0);
            }
        }
        std::fs::create_dir_all(&dir).expect("mkdir cgroup");
        let sleeper = Command::new("sleep").arg("300").spawn().expect("sleep");
        let mut undo = Undo(pdir.clone(), dir.clone(), sleeper);
        std::fs::write(dir.join("cgroup.procs"), undo.2.id().to_string()).expect("join");
        std::fs::write(pdir.join("freezer.state"), "FROZEN").expect("freeze the parent");
        let deadline = Instant::now() + Duration::from_secs(5);
        while frozen_state(&dir, "freezer.state") != Some(true) {
            assert!(Instant::now() < deadline, "the parent never froze");
            std::thread::sleep(Duration::from_millis(5));
        }
        thaw_parents(h.as_ref(), &cg, 1).expect("thaw");
        kill(h.as_ref(), &cg).expect("kill");
        let deadline = Instant::now() + Duration::from_secs(5);
        while undo.2.try_wait().expect("try_wait").is_none() {
            assert!(Instant::now() < deadline, "the member still lives, frozen");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// On the host's real cgroups (root): a process that forked, placed in a fresh cgroup, is killed with its
    /// child, and the cgroup is gone from every hierarchy.
    #[test]
    fn kills_every_member_and_removes_the_cgroup_on_the_host() {
        let Some(h) = host_as_root() else {
            return;
        };
        let cg = PathBuf::from(format!("/ucr-test-teardown-{}", std::process::id()));
        let mut made = Made {
            dirs: h.all_dirs(&cg).expect("dirs"),
            sh: None,
        };
        for d in &made.dirs {
            std::fs::create_dir_all(d).expect("mkdir cgroup");
            // A v1 cpuset cgroup takes no task until it has cpus and mems (runc copies the parent's too).
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = std::fs::read_to_string(d.parent().expect("parent").join(f)) {
                    if std::fs::read_to_string(d.join(f)).is_ok_and(|own| own.trim().is_empty()) {
                        std::fs::write(d.join(f), v.trim()).expect("cpuset");
                    }
                }
            }
        }
        let sh = made.sh.insert(
            Command::new("/bin/sh")
                .args(["-c", "read go; sleep 300 & echo $!; sleep 300"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn sh"),
        );
        for d in &made.dirs {
            std::fs::write(d.join("cgroup.procs"), sh.id().to_string()).expect("join");
        }
        sh.stdin
            .as_mut()
            .expect("stdin")
            .write_all(b"go\n")
            .expect("go");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(sh.stdout.as_mut().expect("stdout")),
            &mut line,
        )
        .expect("child pid");
        let child: i32 = line.trim().parse().expect("pid");
        destroy(h.as_ref(), &cg).expect("destroy");
        let status = sh.wait().expect("wait sh");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
        // Reparented to init, the child may linger as a zombie for a moment: dead either way.
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        assert!(
            stat.is_empty() || stat.contains(") Z "),
            "the forked child survived: {stat}"
        );
        let left: Vec<_> = made.dirs.iter().filter(|d| d.exists()).collect();
        assert!(left.is_empty(), "cgroup dirs left: {left:?}");
    }
}
