//! Cgroups nobody owns any more: what recovery finds under its own instance's cgroup parent that no checkpoint
//! names (a crash between making the cgroup and recording the container, or a record removed by hand). Only the
//! caller's parent is ever listed, so another instance's containers are never taken for orphans (MESOS-9960).

use std::collections::BTreeSet;
use std::path::Path;

use crate::cgroups::{host, teardown, Hierarchy};
use crate::error::{IsolatorError, Result};

/// The names of the cgroups directly under `parent`, in any hierarchy of the host.
pub fn cgroup_children(parent: &Path) -> Result<Vec<String>> {
    children_in(host()?.as_ref(), parent)
}

/// Kill every process of `cgroup` and remove it from every hierarchy of the host.
pub fn destroy_cgroup(cgroup: &Path) -> Result<()> {
    let h = host()?;
    teardown::destroy(h.as_ref(), cgroup)?;
    teardown::remove_parent(h.as_ref(), cgroup);
    Ok(())
}

pub fn children_in(h: &dyn Hierarchy, parent: &Path) -> Result<Vec<String>> {
    let mut names = BTreeSet::new();
    for dir in h.all_dirs(parent)? {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(IsolatorError::io(&dir, e)),
        };
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                names.insert(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    Ok(names.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::V1;

    #[test]
    fn children_of_a_parent_across_hierarchies() {
        let t = tempfile::tempdir().expect("tempdir");
        let h = V1::at(t.path());
        std::fs::create_dir_all(t.path().join("memory/ucr/i1/a")).expect("mkdir");
        std::fs::create_dir_all(t.path().join("pids/ucr/i1/b")).expect("mkdir");
        std::fs::create_dir_all(t.path().join("pids/ucr/i2/c")).expect("mkdir");
        std::fs::write(t.path().join("memory/ucr/i1/tasks"), "").expect("file");
        let names = children_in(&h, Path::new("/ucr/i1")).expect("children");
        assert_eq!(
            names,
            ["a", "b"],
            "another instance's cgroups are not listed"
        );
        assert!(children_in(&h, Path::new("/ucr/none"))
            .expect("none")
            .is_empty());
    }
}
