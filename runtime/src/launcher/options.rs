//! A mount's OCI `options` (runtime-spec "Linux mount options", the vocabulary runc accepts): mount(2) flags
//! (`ro`, `nosuid`, `bind`, `rslave`, ...), which set or clear an `MS_*` bit; recursive attributes (`rro`,
//! `rnosuid`, `ratime`, ...), which become a `mount_setattr(AT_RECURSIVE)` set/clear pair; and everything else,
//! which is filesystem data (`mode=755`, `size=64m`, `newinstance`) handed to the filesystem as is.
//!
//! Ours rather than libcontainer's `parse_mount`: this table is the whole of it, and it was the last reason to
//! link libcontainer. `idmap` and `ridmap` ask for an ID-mapped bind mount (see `idmap.rs`).

use rustix::mount::MountAttrFlags;

/// Per-mount attributes to set and to clear, as `mount_setattr(2)` takes them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    pub set: u64,
    pub clr: u64,
}

/// A mount's options, decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// `MS_*` flags.
    pub flags: u64,
    /// Filesystem data options, in order.
    pub data: Vec<String>,
    /// Attributes for the whole tree (the `r`-prefixed options).
    pub recursive: Option<Attr>,
    /// `idmap` (Some(false): the top mount) or `ridmap` (Some(true): the whole tree).
    pub idmap: Option<bool>,
}

/// MS_* values are `c_ulong`, which is u64 only on 64-bit targets.
#[allow(clippy::unnecessary_cast)]
pub fn bits(ms: libc::c_ulong) -> u64 {
    ms as u64
}

/// Every mount option name the launcher knows (runtime-spec features.md `mountOptions`).
pub fn names() -> Vec<&'static str> {
    FLAGS
        .iter()
        .map(|f| f.0)
        .chain(RECURSIVE.iter().map(|r| r.0))
        .collect()
}

/// (name, clears the flag, MS_* flag).
const FLAGS: &[(&str, bool, libc::c_ulong)] = &[
    ("async", true, libc::MS_SYNCHRONOUS),
    ("atime", true, libc::MS_NOATIME),
    ("bind", false, libc::MS_BIND),
    ("defaults", false, 0),
    ("dev", true, libc::MS_NODEV),
    ("diratime", true, libc::MS_NODIRATIME),
    ("dirsync", false, libc::MS_DIRSYNC),
    ("exec", true, libc::MS_NOEXEC),
    ("iversion", false, libc::MS_I_VERSION),
    ("lazytime", false, libc::MS_LAZYTIME),
    ("loud", true, libc::MS_SILENT),
    ("mand", false, libc::MS_MANDLOCK),
    ("noatime", false, libc::MS_NOATIME),
    ("nodev", false, libc::MS_NODEV),
    ("nodiratime", false, libc::MS_NODIRATIME),
    ("noexec", false, libc::MS_NOEXEC),
    ("noiversion", true, libc::MS_I_VERSION),
    ("nolazytime", true, libc::MS_LAZYTIME),
    ("nomand", true, libc::MS_MANDLOCK),
    ("norelatime", true, libc::MS_RELATIME),
    ("nostrictatime", true, libc::MS_STRICTATIME),
    ("nosuid", false, libc::MS_NOSUID),
    ("nosymfollow", false, libc::MS_NOSYMFOLLOW),
    ("private", false, libc::MS_PRIVATE),
    ("rbind", false, libc::MS_BIND | libc::MS_REC),
    ("relatime", false, libc::MS_RELATIME),
    ("remount", false, libc::MS_REMOUNT),
    ("ro", false, libc::MS_RDONLY),
    ("rprivate", false, libc::MS_PRIVATE | libc::MS_REC),
    ("rshared", false, libc::MS_SHARED | libc::MS_REC),
    ("rslave", false, libc::MS_SLAVE | libc::MS_REC),
    ("runbindable", false, libc::MS_UNBINDABLE | libc::MS_REC),
    ("rw", true, libc::MS_RDONLY),
    ("shared", false, libc::MS_SHARED),
    ("silent", false, libc::MS_SILENT),
    ("slave", false, libc::MS_SLAVE),
    ("strictatime", false, libc::MS_STRICTATIME),
    ("suid", true, libc::MS_NOSUID),
    ("symfollow", true, libc::MS_NOSYMFOLLOW),
    ("sync", false, libc::MS_SYNCHRONOUS),
    ("unbindable", false, libc::MS_UNBINDABLE),
];

/// (name, clears the attribute, MOUNT_ATTR_*), applied to the whole tree.
const RECURSIVE: &[(&str, bool, MountAttrFlags)] = &[
    ("rro", false, MountAttrFlags::MOUNT_ATTR_RDONLY),
    ("rrw", true, MountAttrFlags::MOUNT_ATTR_RDONLY),
    ("rnosuid", false, MountAttrFlags::MOUNT_ATTR_NOSUID),
    ("rsuid", true, MountAttrFlags::MOUNT_ATTR_NOSUID),
    ("rnodev", false, MountAttrFlags::MOUNT_ATTR_NODEV),
    ("rdev", true, MountAttrFlags::MOUNT_ATTR_NODEV),
    ("rnoexec", false, MountAttrFlags::MOUNT_ATTR_NOEXEC),
    ("rexec", true, MountAttrFlags::MOUNT_ATTR_NOEXEC),
    ("rnodiratime", false, MountAttrFlags::MOUNT_ATTR_NODIRATIME),
    ("rdiratime", true, MountAttrFlags::MOUNT_ATTR_NODIRATIME),
    ("rrelatime", false, MountAttrFlags::MOUNT_ATTR_RELATIME),
    ("rnorelatime", true, MountAttrFlags::MOUNT_ATTR_RELATIME),
    ("rnoatime", false, MountAttrFlags::MOUNT_ATTR_NOATIME),
    ("ratime", true, MountAttrFlags::MOUNT_ATTR_NOATIME),
    (
        "rstrictatime",
        false,
        MountAttrFlags::MOUNT_ATTR_STRICTATIME,
    ),
    (
        "rnostrictatime",
        true,
        MountAttrFlags::MOUNT_ATTR_STRICTATIME,
    ),
    (
        "rnosymfollow",
        false,
        MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW,
    ),
    ("rsymfollow", true, MountAttrFlags::MOUNT_ATTR_NOSYMFOLLOW),
];

const ATIME_MODES: u32 = MountAttrFlags::MOUNT_ATTR_RELATIME.bits()
    | MountAttrFlags::MOUNT_ATTR_NOATIME.bits()
    | MountAttrFlags::MOUNT_ATTR_STRICTATIME.bits();

/// Decodes `options`, in order (a later option overrides an earlier one, as mount(8) reads them).
pub fn parse(options: &[String]) -> Result<MountOptions, String> {
    let mut out = MountOptions::default();
    for o in options {
        if o == "idmap" || o == "ridmap" {
            out.idmap = Some(o == "ridmap");
            continue;
        }
        if let Some((_, clear, flag)) = FLAGS.iter().find(|(n, _, _)| n == o) {
            if *clear {
                out.flags &= !bits(*flag);
            } else {
                out.flags |= bits(*flag);
            }
            continue;
        }
        if let Some((_, clear, attr)) = RECURSIVE.iter().find(|(n, _, _)| n == o) {
            let r = out.recursive.get_or_insert_with(Attr::default);
            let a = u64::from(attr.bits());
            if *clear {
                r.clr |= a;
            } else {
                r.set |= a;
            }
            // mount_setattr(2): an access-time mode is set only together with clearing the whole atime field.
            if attr.bits() & ATIME_MODES != 0 {
                r.clr |= u64::from(MountAttrFlags::MOUNT_ATTR__ATIME.bits());
            }
            continue;
        }
        out.data.push(o.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> MountOptions {
        parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("parse")
    }

    #[test]
    fn flags_data_and_recursive_attributes() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, bits(libc::MS_NOSUID | libc::MS_STRICTATIME));
        assert_eq!(o.data, ["mode=755", "size=65536k"]);
        assert_eq!(o.recursive, None);
        let o = opts(&["rbind", "ro", "rw"]);
        assert_eq!(o.flags, bits(libc::MS_BIND | libc::MS_REC), "rw clears ro");
        let o = opts(&[
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
            "noexec",
        ]);
        assert_eq!(o.flags, bits(libc::MS_NOEXEC));
        assert_eq!(o.data.len(), 4);
        let o = opts(&["rro", "rnosuid", "rnoatime"]);
        let r = o.recursive.expect("recursive");
        let want = MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NOATIME;
        assert_eq!(r.set, u64::from(want.bits()));
        assert_eq!(
            r.clr,
            u64::from(MountAttrFlags::MOUNT_ATTR__ATIME.bits()),
            "an atime mode clears the atime field"
        );
        assert_eq!(opts(&["rslave"]).flags, bits(libc::MS_SLAVE | libc::MS_REC));
        assert_eq!(opts(&["ridmap"]).idmap, Some(true));
        assert_eq!(opts(&["idmap"]).idmap, Some(false));
    }
}
