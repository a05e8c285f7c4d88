//! Reading and writing one cgroup file, each error naming the cgroup and the file.

use std::fmt::Display;
use std::io::ErrorKind;
use std::path::Path;

use super::cgroup_err;
use crate::error::{IsolatorError, Result};

/// A cgroup file's text; a missing file reads as empty (the kernel makes every file with its directory, a fake
/// tree does not).
pub(super) fn read(f: &Path, cgroup: &Path) -> Result<String> {
    match std::fs::read_to_string(f) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(String::new()),
        r => r.map_err(|e| fail(cgroup, f, e)),
    }
}

/// One value, one write(2). cgroupfs refuses to create a file (EACCES), so a missing one is named as missing.
pub(super) fn put(f: &Path, value: &str, cgroup: &Path) -> Result<()> {
    std::fs::write(f, value).map_err(|e| match f.exists() {
        true => fail(cgroup, f, format!("{e} (writing {value:?})")),
        false => fail(cgroup, f, "no such file"),
    })
}

pub(super) fn fail(cgroup: &Path, file: &Path, why: impl Display) -> IsolatorError {
    cgroup_err("cgroups", cgroup, format!("{}: {why}", file.display()))
}
