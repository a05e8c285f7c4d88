//! The ACI form of the applier (appc `spec/aci.md`): the archive holds exactly `manifest` (a regular file) and
//! `rootfs/` (a directory); entries under `rootfs/` are applied to the root with the prefix dropped, the
//! manifest is kept in memory, and anything else is refused. Stricter than a registry layer on purpose:
//! - a `..` component is refused, not clamped: an ACI has no reason to hold one, and a name that lands
//!   outside `rootfs/` after clamping is exactly the third top-level entry the spec forbids;
//! - duplicate entries are refused (the spec says an ACI has none); a directory may repeat, since parents
//!   are created on demand before their own entry may come;
//! - names starting `.wh.` are plain files (AppC has no whiteouts: dependencies only add and overwrite);
//! - character and block devices are refused (the executor provides `/dev`; an image's device node is at
//!   best useless and at worst a door to the host's disks).

use super::error::{bad, UnpackError};
use super::header::Type;

/// The largest manifest read (a real one is a few KiB).
pub(crate) const MAX_MANIFEST: u64 = 1 << 20;

const ROOTFS: &[u8] = b"rootfs";

/// Where an ACI entry goes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// The `manifest` file.
    Manifest,
    /// Into the root, under this many leading bytes of the normalized name (`rootfs/` dropped; the
    /// `rootfs` directory itself is the root).
    Rootfs(usize),
}

/// What the ACI pass collects beside the tree.
#[derive(Debug, Default)]
pub(crate) struct AciState {
    pub manifest: Option<Vec<u8>>,
}

/// Routes the entry `raw` (normalized as `path`) of kind `kind`.
pub(crate) fn route(raw: &[u8], path: &[u8], kind: Type) -> Result<Route, UnpackError> {
    if raw.split(|&b| b == b'/').any(|c| c == b"..") {
        return Err(bad(raw, "an ACI entry may not have a `..` component"));
    }
    if path == b"manifest" {
        if kind != Type::File {
            return Err(bad(raw, "the ACI manifest must be a regular file"));
        }
        return Ok(Route::Manifest);
    }
    if path == ROOTFS {
        if kind != Type::Dir {
            return Err(bad(raw, "the ACI rootfs must be a directory"));
        }
        return Ok(Route::Rootfs(ROOTFS.len()));
    }
    if path.starts_with(ROOTFS) && path.get(ROOTFS.len()) == Some(&b'/') {
        if let Type::Node(ft) = kind {
            if ft != rustix::fs::FileType::Fifo {
                return Err(bad(raw, "an ACI may not hold device nodes"));
            }
        }
        return Ok(Route::Rootfs(ROOTFS.len() + 1));
    }
    Err(bad(
        raw,
        "an ACI holds only `manifest` and `rootfs/` at its top level",
    ))
}

/// A hardlink target, normalized, made relative to the rootfs: it must be inside it.
pub(crate) fn link_target(raw: &[u8], target: &mut Vec<u8>) -> Result<(), UnpackError> {
    match target.strip_prefix(b"rootfs/") {
        Some(rest) if !rest.is_empty() => {
            let n = target.len() - rest.len();
            target.drain(..n);
            Ok(())
        }
        _ => Err(bad(raw, "an ACI hardlink must point inside `rootfs/`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::FileType;

    #[test]
    fn only_manifest_and_rootfs_are_routed() {
        assert_eq!(
            route(b"manifest", b"manifest", Type::File).expect("m"),
            Route::Manifest
        );
        assert_eq!(
            route(b"./rootfs/", b"rootfs", Type::Dir).expect("r"),
            Route::Rootfs(6)
        );
        assert_eq!(
            route(b"rootfs/bin/sh", b"rootfs/bin/sh", Type::File).expect("f"),
            Route::Rootfs(7)
        );
        for (raw, path, kind, says) in [
            (&b"extra"[..], &b"extra"[..], Type::File, "only `manifest`"),
            (b"rootfsx/a", b"rootfsx/a", Type::File, "only `manifest`"),
            (b"rootfs/../etc/x", b"etc/x", Type::File, "`..`"),
            (b"manifest", b"manifest", Type::Dir, "regular file"),
            (b"rootfs", b"rootfs", Type::File, "directory"),
            (
                b"rootfs/dev/sda",
                b"rootfs/dev/sda",
                Type::Node(FileType::BlockDevice),
                "device",
            ),
        ] {
            let e = route(raw, path, kind).expect_err("refused").to_string();
            assert!(e.contains(says), "{e}");
        }
        assert!(route(b"rootfs/p", b"rootfs/p", Type::Node(FileType::Fifo)).is_ok());
        let mut t = b"rootfs/bin/busybox".to_vec();
        link_target(b"x", &mut t).expect("inside");
        assert_eq!(t, b"bin/busybox");
        assert!(link_target(b"x", &mut b"manifest".to_vec()).is_err());
        assert!(link_target(b"x", &mut b"rootfs/".to_vec()).is_err());
    }
}
