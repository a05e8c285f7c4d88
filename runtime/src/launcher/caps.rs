//! The task's capabilities: decided in the supervisor (names checked, sets built), applied by the init after
//! its uid switch. The order is runc's and youki's: the bounding set first (dropping only lowers it), then
//! effective, permitted, inheritable and ambient, each replacing the set; ambient last, since a capability is
//! only raised there when it is both permitted and inheritable.
//!
//! With the `caps` crate rather than libcontainer's wrappers around it: the same system calls, without the
//! rest of libcontainer.

use std::io;
use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

/// The spec's capability sets, decoded; None leaves a set as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapPlan {
    pub bounding: Option<CapsHashSet>,
    pub effective: Option<CapsHashSet>,
    pub permitted: Option<CapsHashSet>,
    pub inheritable: Option<CapsHashSet>,
    pub ambient: Option<CapsHashSet>,
}

fn set_of(caps: &Option<Capabilities>, which: &str) -> Result<Option<CapsHashSet>, String> {
    let Some(caps) = caps else { return Ok(None) };
    let mut out = CapsHashSet::new();
    for c in caps {
        // oci-spec writes a capability as its kernel name (`CAP_NET_ADMIN`), which is what `caps` parses.
        let name = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let cap = Capability::from_str(&name)
            .map_err(|_| format!("process.capabilities.{which}: unknown capability {name:?}"))?;
        out.insert(cap);
    }
    Ok(Some(out))
}

pub fn plan(c: &LinuxCapabilities) -> Result<CapPlan, String> {
    Ok(CapPlan {
        bounding: set_of(c.bounding(), "bounding")?,
        effective: set_of(c.effective(), "effective")?,
        permitted: set_of(c.permitted(), "permitted")?,
        inheritable: set_of(c.inheritable(), "inheritable")?,
        ambient: set_of(c.ambient(), "ambient")?,
    })
}

fn err(what: &str, e: caps::errors::CapsError) -> io::Error {
    io::Error::other(format!("{what}: {e}"))
}

/// Effective = permitted: what a root process keeps across the uid switch (`PR_SET_KEEPCAPS`) becomes usable.
pub fn reset_effective() -> io::Result<()> {
    let permitted = caps::read(None, CapSet::Permitted).map_err(|e| err("permitted", e))?;
    caps::set(None, CapSet::Effective, &permitted).map_err(|e| err("effective", e))
}

/// Apply `p` to this process (single-threaded: the init).
pub fn apply(p: &CapPlan) -> io::Result<()> {
    if let Some(keep) = &p.bounding {
        // Only what this kernel knows can be dropped; a newer capability the kernel lacks is not there anyway.
        let have = caps::read(None, CapSet::Bounding).map_err(|e| err("bounding", e))?;
        for c in have.difference(keep) {
            caps::drop(None, CapSet::Bounding, *c).map_err(|e| err("bounding", e))?;
        }
    }
    let sets = [
        (CapSet::Effective, &p.effective, "effective"),
        (CapSet::Permitted, &p.permitted, "permitted"),
        (CapSet::Inheritable, &p.inheritable, "inheritable"),
        (CapSet::Ambient, &p.ambient, "ambient"),
    ];
    for (set, value, name) in sets {
        if let Some(v) = value {
            caps::set(None, set, v).map_err(|e| err(name, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::Capability as Oci;

    fn set(v: &[Oci]) -> Option<Capabilities> {
        Some(v.iter().copied().collect())
    }

    #[test]
    fn spec_names_become_kernel_capabilities() {
        let mut c = LinuxCapabilities::default();
        c.set_bounding(set(&[Oci::NetAdmin, Oci::Chown]))
            .set_effective(set(&[Oci::Chown]))
            .set_ambient(None);
        let p = plan(&c).expect("plan");
        assert_eq!(
            p.bounding,
            Some(
                [Capability::CAP_NET_ADMIN, Capability::CAP_CHOWN]
                    .into_iter()
                    .collect()
            )
        );
        assert_eq!(
            p.effective,
            Some([Capability::CAP_CHOWN].into_iter().collect())
        );
        // A set the spec leaves out stays as it is; an empty one is emptied.
        assert_eq!(p.ambient, None);
        c.set_ambient(set(&[]));
        assert_eq!(plan(&c).expect("plan").ambient, Some(CapsHashSet::new()));
    }
}
