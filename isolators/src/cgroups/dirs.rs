//! Making a container's cgroup directory in one hierarchy (`create.rs` writes its limits): the cgroup itself
//! when its parents are there, else each component from the hierarchy's root, v2's controllers handed down
//! level by level and v1's cpuset copied into each new directory.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::cgroup_err;
use super::files::{fail, put, read};
use crate::error::{IsolatorError, Result};

/// v2's leaf of a container that has nested containers with limits of their own: a cgroup that hands
/// controllers to its children may hold no process itself, so the container's own processes move here (as
/// Mesos keeps every container's processes in `<cgroup>/leaf` on v2).
pub const LEAF: &str = "leaf";

/// A v1 cpuset cgroup's files that must not be empty for it to take a task (ENOSPC otherwise).
const CPUSET: [&str; 2] = ["cpuset.cpus", "cpuset.mems"];

/// One hierarchy's directory of a cgroup: `rel` under `mount`, with the `wanted` v2 controllers handed down to
/// it and, on v1's `cpuset` hierarchy, the cpus and mems copied into what is new. `cgroup` names it in errors.
pub(super) struct Target<'a> {
    pub mount: &'a Path,
    pub rel: &'a Path,
    pub wanted: &'a [&'a str],
    pub cpuset: bool,
    pub cgroup: &'a Path,
}

/// Makes `t`'s directory, each directory made pushed to `made`; returns it.
pub(super) fn make(t: &Target<'_>, made: &mut Vec<PathBuf>) -> Result<PathBuf> {
    // A parent that another container's teardown removed as empty between our steps (see
    // `teardown::remove_parent`) makes a mkdir fail with ENOENT: the chain is walked again.
    let mut attempts = 0;
    loop {
        match chain(t, made) {
            Err(Chain::ParentGone) if attempts < 3 => attempts += 1,
            Err(Chain::ParentGone) => {
                return Err(cgroup_err(
                    "cgroups",
                    t.cgroup,
                    "its parent keeps disappearing",
                ))
            }
            Err(Chain::Failed(e)) => return Err(e),
            Ok(dir) => return Ok(dir),
        }
    }
}

enum Chain {
    ParentGone,
    Failed(IsolatorError),
}

impl From<IsolatorError> for Chain {
    fn from(e: IsolatorError) -> Chain {
        Chain::Failed(e)
    }
}

/// Make `rel` under `mount`; returns the cgroup's directory. The cgroup itself is tried first: its parents are
/// usually there (the store's cgroup, a pod's), and a nested container's walk from the root costs 3 mkdirs
/// that find a directory in each of v1's 8 hierarchies, and 6 cpuset reads, on every launch. Only when a parent
/// is missing, or its cpuset has nothing to copy, is the path made one component at a time.
fn chain(t: &Target<'_>, made: &mut Vec<PathBuf>) -> std::result::Result<PathBuf, Chain> {
    let Target {
        mount,
        rel,
        wanted,
        cpuset,
        cgroup,
    } = *t;
    // v2 hands controllers down level by level (`enable`), so its walk is needed every time.
    if wanted.is_empty() {
        if let Some(dir) = leaf_first(t, made)? {
            return Ok(dir);
        }
    }
    let mut dir = mount.to_path_buf();
    for c in rel.components() {
        // v2: a controller reaches a cgroup through its parent's subtree_control only. Never the container's
        // own: a cgroup that enables controllers for children may hold no process.
        enable(&dir, wanted, cgroup)?;
        let parent = dir.clone();
        dir.push(c);
        mkdir(&dir, cgroup, made)?;
        // A v1 cpuset cgroup with no cpus or mems takes no task (ENOSPC): the parent's are copied.
        if cpuset {
            for f in CPUSET {
                if !copy_if_empty(&parent, &dir, f, cgroup)? {
                    let why = format!("empty, nothing to copy to {}", dir.display());
                    return Err(Chain::Failed(fail(cgroup, &parent.join(f), why)));
                }
            }
        }
    }
    Ok(dir)
}

/// `mount/rel` made (or found) in one step, its cpuset copied from its parent's; None when a parent is missing
/// or has an empty cpuset, for the walk to make and fill.
fn leaf_first(
    t: &Target<'_>,
    made: &mut Vec<PathBuf>,
) -> std::result::Result<Option<PathBuf>, Chain> {
    let (rel, cgroup) = (t.rel, t.cgroup);
    let dir = t.mount.join(rel);
    let Some(parent) = dir.parent().filter(|_| rel.components().nth(1).is_some()) else {
        return Ok(None);
    };
    match mkdir(&dir, cgroup, made) {
        Ok(()) => {}
        Err(Chain::ParentGone) => return Ok(None),
        Err(e) => return Err(e),
    }
    if t.cpuset {
        for f in CPUSET {
            if !copy_if_empty(parent, &dir, f, cgroup)? {
                // The walk fills the parents from the root down (the dir made here stays in `made`).
                return Ok(None);
            }
        }
    }
    Ok(Some(dir))
}

fn mkdir(dir: &Path, cgroup: &Path, made: &mut Vec<PathBuf>) -> std::result::Result<(), Chain> {
    match std::fs::create_dir(dir) {
        Ok(()) => {
            made.push(dir.to_path_buf());
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Err(Chain::ParentGone),
        Err(e) => Err(Chain::Failed(fail(cgroup, dir, e))),
    }
}

/// Enable the `wanted` controllers that are not on yet in `dir`'s `cgroup.subtree_control`, in one write.
fn enable(dir: &Path, wanted: &[&str], cgroup: &Path) -> Result<()> {
    if wanted.is_empty() {
        return Ok(());
    }
    let f = dir.join("cgroup.subtree_control");
    let on = read(&f, cgroup)?;
    let on: Vec<&str> = on.split_whitespace().collect();
    let add: Vec<String> = wanted
        .iter()
        .filter(|c| !on.contains(c))
        .map(|c| format!("+{c}"))
        .collect();
    if add.is_empty() {
        return Ok(());
    }
    let value = add.join(" ");
    for _ in 0..3 {
        match std::fs::write(&f, &value) {
            Ok(()) => return Ok(()),
            // v2's "no internal processes": the processes of a container that now gets a nested container
            // with limits of its own move to its leaf, then the controllers can be handed down.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => to_leaf(dir, cgroup)?,
            Err(_) => break,
        }
    }
    // Once more, for the error with the cgroup and file named.
    put(&f, &value, cgroup)
}

/// Moves every process of v2 cgroup `dir` into `dir/leaf` (made if missing).
fn to_leaf(dir: &Path, cgroup: &Path) -> Result<()> {
    let leaf = dir.join(LEAF);
    match std::fs::create_dir(&leaf) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => return Err(fail(cgroup, &leaf, e)),
    }
    for pid in read(&dir.join("cgroup.procs"), cgroup)?.split_whitespace() {
        // A process that exited meanwhile is fine.
        if let Err(e) = std::fs::write(leaf.join("cgroup.procs"), pid) {
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(fail(cgroup, &leaf, e));
            }
        }
    }
    Ok(())
}

/// Fills v1 cpuset `file` of `child` from `parent` when the child's is empty. Ok(false) when the parent's is
/// empty too: nothing to copy.
fn copy_if_empty(parent: &Path, child: &Path, file: &str, cgroup: &Path) -> Result<bool> {
    let to = child.join(file);
    if !read(&to, cgroup)?.trim().is_empty() {
        return Ok(true);
    }
    let v = read(&parent.join(file), cgroup)?;
    if v.trim().is_empty() {
        return Ok(false);
    }
    put(&to, v.trim(), cgroup).map(|()| true)
}
