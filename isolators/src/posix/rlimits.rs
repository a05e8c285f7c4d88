//! `posix/rlimits`: the task's resource limits from `rlimit_info` (Mesos `RLMT_*` names; soft and hard both
//! absent = unlimited). Limits not asked for are inherited from the caller, except RLIMIT_NOFILE whose soft
//! limit is 1024 (what runc and Docker give, and what select()-based programs need). A default never goes above
//! the caller's hard limit: these machines cap it at 20000, and raising it by default is how podman fails here.
//! An explicit request may go above it (the launcher is root), but never above the kernel's `nr_open` for
//! NOFILE, which the kernel would refuse at exec time with a much less clear error.

use oci_spec::runtime::{PosixRlimit, PosixRlimitBuilder, PosixRlimitType};
use std::str::FromStr;

use crate::error::{IsolatorError, Result};
use crate::isolator::{Container, Contribution, Isolator, Request};

const NAME: &str = "posix/rlimits";
const NOFILE_SOFT: u64 = 1024;

pub struct Rlimits;

impl Isolator for Rlimits {
    fn name(&self) -> &'static str {
        NAME
    }

    fn prepare(&self, _c: &Container<'_>, r: &Request<'_>) -> Result<Contribution> {
        let mut out = Contribution::default();
        for l in r.rlimits {
            let typ = kind(&l.kind)?;
            let (soft, hard) = (l.soft.unwrap_or(u64::MAX), l.hard.unwrap_or(u64::MAX));
            if soft > hard {
                return Err(IsolatorError::invalid(
                    NAME,
                    format!("{}: soft {soft} is above hard {hard}", l.kind),
                ));
            }
            if typ == PosixRlimitType::RlimitNofile {
                let max = nr_open();
                if hard > max {
                    return Err(IsolatorError::invalid(
                        NAME,
                        format!(
                            "{}: {hard} is above the kernel's fs.nr_open ({max})",
                            l.kind
                        ),
                    ));
                }
            }
            out.rlimits.push(rlimit(typ, soft, hard)?);
        }
        if !out
            .rlimits
            .iter()
            .any(|l| l.typ() == PosixRlimitType::RlimitNofile)
        {
            let (cur_soft, cur_hard) = current_nofile();
            let hard = cur_hard;
            let soft = NOFILE_SOFT.min(hard).max(cur_soft.min(NOFILE_SOFT));
            out.rlimits
                .push(rlimit(PosixRlimitType::RlimitNofile, soft, hard)?);
        }
        Ok(out)
    }
}

/// `RLMT_NOFILE` (Mesos), `RLIMIT_NOFILE` (OCI) or `NOFILE` → the OCI type.
fn kind(name: &str) -> Result<PosixRlimitType> {
    let upper = name.to_ascii_uppercase();
    let bare = upper
        .strip_prefix("RLMT_")
        .or_else(|| upper.strip_prefix("RLIMIT_"))
        .unwrap_or(&upper);
    PosixRlimitType::from_str(&format!("RLIMIT_{bare}"))
        .map_err(|_| IsolatorError::invalid(NAME, format!("unknown rlimit type {name:?}")))
}

fn rlimit(typ: PosixRlimitType, soft: u64, hard: u64) -> Result<PosixRlimit> {
    PosixRlimitBuilder::default()
        .typ(typ)
        .soft(soft)
        .hard(hard)
        .build()
        .map_err(|e| IsolatorError::invalid(NAME, e.to_string()))
}

fn current_nofile() -> (u64, u64) {
    let l = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    let hard = l.maximum.unwrap_or(u64::MAX);
    (l.current.unwrap_or(hard), hard)
}

fn nr_open() -> u64 {
    std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            kind("RLMT_NOFILE").ok(),
            Some(PosixRlimitType::RlimitNofile)
        );
        assert_eq!(kind("rlimit_core").ok(), Some(PosixRlimitType::RlimitCore));
        assert_eq!(kind("STACK").ok(), Some(PosixRlimitType::RlimitStack));
        let e = kind("RLMT_BOGUS")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("RLMT_BOGUS"), "{e}");
    }

    #[test]
    fn default_nofile_never_above_callers_hard_limit() {
        let (_, hard) = current_nofile();
        let r = crate::isolator::tests_support::request_with_rlimits(&[]);
        let c = Rlimits.prepare(&crate::isolator::tests_support::container(), &r.request());
        let c = c.expect("prepare");
        let l = c.rlimits.first().copied().expect("nofile");
        assert_eq!(l.typ(), PosixRlimitType::RlimitNofile);
        assert!(l.hard() <= hard && l.soft() <= 1024, "{l:?}");
    }
}
