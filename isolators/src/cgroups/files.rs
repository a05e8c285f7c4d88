//! Reading and writing one cgroup file, each error naming the cgroup and the file.

use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

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
    std::fs::write(f, value).map_err(|e| missing_or(f, cgroup, e, value))
}

/// Each value in order, one write(2) each, as [`put`] writes one; the values for one file that follow each other
/// go through one open of it. The kernel takes each write as one value (a device rule, a limit), so a v1
/// container's dozen device rules are one open of `devices.allow` instead of twelve path walks and opens.
pub(super) fn put_each(writes: &[(PathBuf, String)], cgroup: &Path) -> Result<()> {
    let mut open: Option<(&Path, File)> = None;
    for (f, value) in writes {
        let file = match &mut open {
            Some((p, file)) if *p == f.as_path() => file,
            _ => {
                // As `std::fs::write` opens it for `put`.
                let opened = OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .open(f)
                    .map_err(|e| missing_or(f, cgroup, e, value))?;
                &mut open.insert((f.as_path(), opened)).1
            }
        };
        file.write_all(value.as_bytes())
            .map_err(|e| missing_or(f, cgroup, e, value))?;
    }
    Ok(())
}

fn missing_or(f: &Path, cgroup: &Path, e: std::io::Error, value: &str) -> IsolatorError {
    match f.exists() {
        true => fail(cgroup, f, format!("{e} (writing {value:?})")),
        false => fail(cgroup, f, "no such file"),
    }
}

pub(super) fn fail(cgroup: &Path, file: &Path, why: impl Display) -> IsolatorError {
    cgroup_err("cgroups", cgroup, format!("{}: {why}", file.display()))
}
