//! Filesystem isolation: `filesystem/linux` (the container's own /proc, /sys, /dev and what is hidden in them).

pub mod linux;

use std::path::PathBuf;

use oci_spec::runtime::{Mount, MountBuilder};

use crate::error::{IsolatorError, Result};

/// One OCI mount. The builder only fails on a missing destination, which every caller gives.
pub(crate) fn mount(
    isolator: &'static str,
    destination: impl Into<PathBuf>,
    typ: &str,
    source: impl Into<PathBuf>,
    options: &[&str],
) -> Result<Mount> {
    MountBuilder::default()
        .destination(destination.into())
        .typ(typ)
        .source(source.into())
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(|e| IsolatorError::invalid(isolator, e.to_string()))
}
