//! The container's mounts, made before `pivot_root`. Each one is built detached — `fsopen`/`fsmount` for a
//! filesystem, `open_tree(OPEN_TREE_CLONE)` for a bind — gets its flags while still detached (`mount_setattr`),
//! and is attached with one `move_mount` onto an fd the confined resolver found inside the rootfs. A mount is
//! therefore never visible with the wrong flags, and no path is looked up by name on the host side of the rootfs.
//!
//! The plan is made in the supervisor, before the init exists ([`plan`]), so a bad option is a one-line error
//! naming the mount rather than a failure inside the new namespaces.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Mount;
use rustix::mount::{FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags};

use ucr_registry::confined::{self, Kind};

use super::namespaces::{self, IdMaps};
use super::options::{self, bits, Attr};

/// One mount of `config.json`, checked and decoded.
#[derive(Debug)]
pub struct Planned {
    pub dest: PathBuf,
    how: How,
    /// Per-mount flags to set (and those to clear, as a `remount` would) on the top mount.
    attr: Attr,
    /// Options with an `r` prefix (`rro`, `rnosuid`...): set on the whole tree.
    recursive: Option<Attr>,
    /// MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE, applied once attached.
    propagation: u64,
    /// An ID-mapped bind: the maps, and whether the whole tree is mapped (`ridmap`) or its top mount.
    pub idmap: Option<(IdMaps, bool)>,
}

#[derive(Debug)]
enum How {
    Bind {
        source: PathBuf,
        recursive: bool,
        dir: bool,
    },
    Fs {
        fstype: String,
        source: Option<String>,
        data: Vec<String>,
    },
    /// `type: cgroup`: the container's own cgroup dirs, read-only by default, as runc shows them.
    Cgroup,
}

impl Planned {
    /// A bind mount's source.
    pub fn bind_source(&self) -> Option<&Path> {
        match &self.how {
            How::Bind { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Decode the spec's mounts (their options by `options.rs`, the runtime-spec's vocabulary). `container`: the
/// container's user namespace maps, which an `idmap` mount without maps of its own takes.
pub fn plan(mounts: &[Mount], container: Option<&IdMaps>) -> Result<Vec<Planned>, String> {
    mounts.iter().map(|m| plan_one(m, container)).collect()
}

fn plan_one(m: &Mount, container: Option<&IdMaps>) -> Result<Planned, String> {
    let dest = m.destination().clone();
    let name = || dest.display().to_string();
    if !dest.is_absolute() {
        return Err(format!(
            "mount {}: the destination must be absolute",
            name()
        ));
    }
    let opts = options::parse(m.options().as_deref().unwrap_or_default())
        .map_err(|e| format!("mount {}: {e}", name()))?;
    let idmap = idmap_of(m, opts.idmap, container).map_err(|e| format!("mount {}: {e}", name()))?;
    let flags = opts.flags;
    let attr = attr_of(flags);
    let recursive = opts.recursive;
    let propagation =
        flags & bits(libc::MS_SHARED | libc::MS_SLAVE | libc::MS_PRIVATE | libc::MS_UNBINDABLE);
    let typ = m.typ().as_deref().unwrap_or("");
    let how = if flags & bits(libc::MS_BIND) != 0 || typ == "bind" {
        let source = m
            .source()
            .clone()
            .ok_or_else(|| format!("mount {}: a bind mount needs a source", name()))?;
        if !source.is_absolute() {
            return Err(format!(
                "mount {}: bind source {} must be absolute",
                name(),
                source.display()
            ));
        }
        let meta = std::fs::metadata(&source)
            .map_err(|e| format!("mount {}: source {}: {e}", name(), source.display()))?;
        How::Bind {
            recursive: flags & bits(libc::MS_REC) != 0,
            dir: meta.is_dir(),
            source,
        }
    } else if idmap.is_some() {
        return Err(format!(
            "mount {}: only a bind mount can be ID-mapped",
            name()
        ));
    } else if typ == "cgroup" {
        How::Cgroup
    } else if typ.is_empty() {
        return Err(format!("mount {}: no type", name()));
    } else {
        How::Fs {
            fstype: typ.to_string(),
            source: m
                .source()
                .as_ref()
                .map(|s| s.to_string_lossy().into_owned()),
            data: opts.data.clone(),
        }
    };
    Ok(Planned {
        dest,
        how,
        attr,
        recursive,
        propagation,
        idmap,
    })
}

/// An ID-mapped mount (runtime-spec: a mount's `uidMappings`/`gidMappings`, or `idmap`/`ridmap`, which without
/// maps of its own takes the container's): its maps and whether they apply to the whole tree.
fn idmap_of(
    m: &Mount,
    option: Option<bool>,
    container: Option<&IdMaps>,
) -> Result<Option<(IdMaps, bool)>, String> {
    let own = m.uid_mappings().is_some() || m.gid_mappings().is_some();
    let recursive = option == Some(true);
    if own {
        let map = |field, v: &Option<Vec<_>>| {
            namespaces::map(field, v.as_deref(), false).map_err(|e| e.to_string())
        };
        let maps = IdMaps {
            uid_map: map("uidMappings", m.uid_mappings())?,
            gid_map: map("gidMappings", m.gid_mappings())?,
        };
        return Ok(Some((maps, recursive)));
    }
    match (option, container) {
        (None, _) => Ok(None),
        (Some(_), Some(c)) => Ok(Some((c.clone(), recursive))),
        (Some(_), None) => {
            Err("idmap without uidMappings needs the container's user namespace".into())
        }
    }
}

/// MS_* per-mount flags as MOUNT_ATTR_* values: what to set, and (as a remount would) what to clear.
fn attr_of(ms: u64) -> Attr {
    let pairs = [
        (libc::MS_RDONLY, MountAttrFlags::MOUNT_ATTR_RDONLY),
        (libc::MS_NOSUID, MountAttrFlags::MOUNT_ATTR_NOSUID),
        (libc::MS_NODEV, MountAttrFlags::MOUNT_ATTR_NODEV),
        (libc::MS_NOEXEC, MountAttrFlags::MOUNT_ATTR_NOEXEC),
        (libc::MS_NODIRATIME, MountAttrFlags::MOUNT_ATTR_NODIRATIME),
    ];
    let mut a = Attr::default();
    for (m, f) in pairs {
        if ms & bits(m) != 0 {
            a.set |= f.bits() as u64;
        } else {
            a.clr |= f.bits() as u64;
        }
    }
    let atime = if ms & bits(libc::MS_NOATIME) != 0 {
        Some(MountAttrFlags::MOUNT_ATTR_NOATIME)
    } else if ms & bits(libc::MS_STRICTATIME) != 0 {
        Some(MountAttrFlags::MOUNT_ATTR_STRICTATIME)
    } else if ms & bits(libc::MS_RELATIME) != 0 {
        Some(MountAttrFlags::MOUNT_ATTR_RELATIME)
    } else {
        None
    };
    if let Some(t) = atime {
        // The atime mode is one field: it must be cleared as a whole to be set.
        a.set |= t.bits() as u64;
        a.clr |= MountAttrFlags::MOUNT_ATTR__ATIME.bits() as u64;
    }
    a
}

/// The kernel's `struct mount_attr`.
#[repr(C)]
struct MountAttrArg {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const AT_RECURSIVE: u32 = 0x8000;

fn setattr(fd: BorrowedFd<'_>, a: Attr, propagation: u64, recursive: bool) -> io::Result<()> {
    setattr_in(fd, a, propagation, recursive, 0)
}

/// Make the detached tree `fd` ID-mapped through the user namespace `userns`: its top mount or, `recursive`,
/// every mount of it.
pub fn set_idmap(fd: BorrowedFd<'_>, userns: BorrowedFd<'_>, recursive: bool) -> io::Result<()> {
    let a = Attr {
        set: u64::from(MountAttrFlags::MOUNT_ATTR_IDMAP.bits()),
        clr: 0,
    };
    setattr_in(fd, a, 0, recursive, userns.as_raw_fd() as u64)
}

fn setattr_in(
    fd: BorrowedFd<'_>,
    a: Attr,
    propagation: u64,
    recursive: bool,
    userns_fd: u64,
) -> io::Result<()> {
    let arg = MountAttrArg {
        attr_set: a.set,
        attr_clr: a.clr,
        propagation,
        userns_fd,
    };
    let empty = CString::default();
    let flags = libc::AT_EMPTY_PATH as u32 | if recursive { AT_RECURSIVE } else { 0 };
    // SAFETY: a valid fd, an empty C string with AT_EMPTY_PATH, and a mount_attr of the size passed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            flags,
            &arg as *const MountAttrArg,
            std::mem::size_of::<MountAttrArg>(),
        )
    };
    if r == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Set `flags` (and nothing else) on the mount `fd` refers to, or on its whole tree.
pub fn set_flags(fd: BorrowedFd<'_>, flags: MountAttrFlags, recursive: bool) -> io::Result<()> {
    let a = Attr {
        set: flags.bits() as u64,
        clr: 0,
    };
    setattr(fd, a, 0, recursive)
}

/// A bind mount's source, cloned as a detached tree now: every source is taken as the host shows it before
/// any of the container's mounts exist, so a mount over a host path (a private /tmp for a task on the host's
/// root) never changes what a later bind names. None for other kinds.
pub fn detach_source(p: &Planned) -> io::Result<Option<OwnedFd>> {
    let How::Bind {
        source, recursive, ..
    } = &p.how
    else {
        return Ok(None);
    };
    let mut f = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    if *recursive {
        f |= OpenTreeFlags::AT_RECURSIVE;
    }
    let t = rustix::mount::open_tree(rustix::fs::CWD, source, f)?;
    // A plain bind keeps the source's flags unless options were given, as with mount(2).
    if p.attr.set != 0 {
        setattr(t.as_fd(), p.attr, 0, false)?;
    }
    Ok(Some(t))
}

/// Attach one planned mount under the rootfs `root` (an fd of the rootfs's own bind mount); a bind mount's
/// tree is `detached` (from [`detach_source`]). `cgroups` are the container's cgroup dirs with their
/// hierarchies' mount points (see `Placement::dirs`).
pub fn mount_one(
    root: BorrowedFd<'_>,
    p: &Planned,
    detached: Option<OwnedFd>,
    cgroups: &[(PathBuf, PathBuf)],
) -> io::Result<()> {
    let (mnt, kind) = match &p.how {
        How::Bind { dir, .. } => {
            let t = match detached {
                Some(t) => t,
                None => detach_source(p)?.ok_or_else(|| io::Error::other("not a bind"))?,
            };
            (t, if *dir { Kind::Dir } else { Kind::File })
        }
        How::Fs {
            fstype,
            source,
            data,
        } => match filesystem(fstype, source.as_deref(), data, p.attr) {
            Ok(fs) => (fs, Kind::Dir),
            // A user namespace may mount sysfs only with a network namespace of its own: with the host's (or
            // one given by path) the host's /sys is bound instead, as runc does.
            Err(e) if fstype == "sysfs" && e.raw_os_error() == Some(libc::EPERM) => {
                (host_sysfs(p.attr)?, Kind::Dir)
            }
            Err(e) => return Err(e),
        },
        How::Cgroup => return cgroup_mount(root, p, cgroups),
    };
    if let Some(r) = p.recursive {
        setattr(mnt.as_fd(), r, 0, true)?;
    }
    attach(root, &mnt, &p.dest, kind)?;
    if p.propagation != 0 {
        setattr(mnt.as_fd(), Attr::default(), p.propagation, false)?;
    }
    Ok(())
}

/// The host's `/sys`, whole, as a detached tree with `attr`.
fn host_sysfs(attr: Attr) -> io::Result<OwnedFd> {
    let f = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    let t = rustix::mount::open_tree(rustix::fs::CWD, "/sys", f | OpenTreeFlags::AT_RECURSIVE)?;
    setattr(t.as_fd(), attr, 0, true)?;
    Ok(t)
}

/// A new detached filesystem with its data options (`size=64m`, `mode=755`, `newinstance`...).
fn filesystem(
    fstype: &str,
    source: Option<&str>,
    data: &[String],
    attr: Attr,
) -> io::Result<OwnedFd> {
    let fs = rustix::mount::fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC)?;
    if let Some(s) = source {
        rustix::mount::fsconfig_set_string(fs.as_fd(), "source", s)?;
    }
    for opt in data
        .iter()
        .flat_map(|d| d.split(','))
        .filter(|o| !o.is_empty())
    {
        match opt.split_once('=') {
            Some((k, v)) => rustix::mount::fsconfig_set_string(fs.as_fd(), k, v),
            None => rustix::mount::fsconfig_set_flag(fs.as_fd(), opt),
        }
        .map_err(|e| io::Error::new(io::Error::from(e).kind(), format!("option {opt}: {e}")))?;
    }
    rustix::mount::fsconfig_create(fs.as_fd())?;
    let flags = MountAttrFlags::from_bits_retain(attr.set as u32);
    Ok(rustix::mount::fsmount(
        fs.as_fd(),
        FsMountFlags::FSMOUNT_CLOEXEC,
        flags,
    )?)
}

fn attach(root: BorrowedFd<'_>, mnt: &OwnedFd, dest: &Path, kind: Kind) -> io::Result<()> {
    let target = confined::ensure(root, dest, kind)?;
    move_onto(mnt.as_fd(), target.as_fd())
}

/// Attach the detached tree `mnt` on the file or directory `target` (both fds).
pub fn move_onto(mnt: BorrowedFd<'_>, target: BorrowedFd<'_>) -> io::Result<()> {
    rustix::mount::move_mount(
        mnt,
        "",
        target,
        "",
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
    )?;
    Ok(())
}

/// `/sys/fs/cgroup`: on v1 a tmpfs holding one read-only bind per hierarchy, named as on the host (co-mounted
/// controllers such as `cpu,cpuacct` get a symlink per controller); on v2 the cgroup's own directory.
fn cgroup_mount(
    root: BorrowedFd<'_>,
    p: &Planned,
    cgroups: &[(PathBuf, PathBuf)],
) -> io::Result<()> {
    let bind = |dir: &Path| -> io::Result<OwnedFd> {
        let t = rustix::mount::open_tree(
            rustix::fs::CWD,
            dir,
            OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
        )?;
        setattr(t.as_fd(), p.attr, 0, false)?;
        Ok(t)
    };
    if let [(_, dir)] = cgroups {
        if is_v2(dir) {
            return attach(root, &bind(dir)?, &p.dest, Kind::Dir);
        }
    }
    let rw = Attr {
        set: p.attr.set & !(MountAttrFlags::MOUNT_ATTR_RDONLY.bits() as u64),
        clr: p.attr.clr,
    };
    let data = vec!["mode=755".to_string()];
    let tmp = filesystem("tmpfs", Some("tmpfs"), &data, rw)?;
    attach(root, &tmp, &p.dest, Kind::Dir)?;
    for (mount_point, dir) in cgroups {
        let Some(name) = mount_point.file_name() else {
            continue;
        };
        rustix::fs::mkdirat(tmp.as_fd(), name, rustix::fs::Mode::from_raw_mode(0o755))?;
        rustix::mount::move_mount(
            bind(dir)?.as_fd(),
            "",
            tmp.as_fd(),
            name,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )?;
        let name = name.to_string_lossy();
        if name.contains(',') {
            for part in name.split(',') {
                rustix::fs::symlinkat(name.as_ref(), tmp.as_fd(), part)?;
            }
        }
    }
    if p.attr.set & MountAttrFlags::MOUNT_ATTR_RDONLY.bits() as u64 != 0 {
        setattr(tmp.as_fd(), p.attr, 0, false)?;
    }
    Ok(())
}

fn is_v2(dir: &Path) -> bool {
    // f_type's integer type differs between libc targets.
    #[allow(clippy::unnecessary_cast)]
    let v2 = |t| t as i64 == libc::CGROUP2_SUPER_MAGIC as i64;
    rustix::fs::statfs(dir).is_ok_and(|s| v2(s.f_type))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::MountBuilder;

    fn m(dest: &str, typ: &str, src: &str, opts: &[&str]) -> Mount {
        MountBuilder::default()
            .destination(dest)
            .typ(typ)
            .source(src)
            .options(opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .build()
            .expect("test step")
    }

    #[test]
    fn options_become_mount_attributes() {
        let p = plan(
            &[m(
                "/sys",
                "sysfs",
                "sysfs",
                &["nosuid", "noexec", "nodev", "ro"],
            )],
            None,
        )
        .expect("test step");
        let ro = MountAttrFlags::MOUNT_ATTR_RDONLY.bits() as u64;
        assert_ne!(p[0].attr.set & ro, 0);
        assert_eq!(p[0].attr.clr & ro, 0);
        let p = plan(
            &[m(
                "/dev",
                "tmpfs",
                "tmpfs",
                &["nosuid", "strictatime", "mode=755"],
            )],
            None,
        )
        .expect("test step");
        assert_eq!(p[0].attr.clr & ro, ro, "rw clears a read-only flag");
        match &p[0].how {
            How::Fs { data, .. } => assert_eq!(data.join(","), "mode=755"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn binds_know_file_or_dir_and_bad_mounts_name_themselves() {
        let t = tempfile::tempdir().expect("test step");
        let f = t.path().join("f");
        std::fs::write(&f, "x").expect("test step");
        let p = plan(
            &[m(
                "/etc/x",
                "bind",
                f.to_str().expect("test step"),
                &["rbind", "ro"],
            )],
            None,
        )
        .expect("test step");
        assert!(matches!(
            p[0].how,
            How::Bind {
                dir: false,
                recursive: true,
                ..
            }
        ));
        let e =
            plan(&[m("/y", "bind", "/no/such/source", &["bind"])], None).expect_err("must fail");
        assert!(e.contains("/y") && e.contains("/no/such/source"), "{e}");
        let e = plan(&[m("rel", "tmpfs", "tmpfs", &[])], None).expect_err("must fail");
        assert!(e.contains("absolute"), "{e}");
    }

    #[test]
    fn id_mapped_binds_take_their_own_maps_or_the_containers() {
        let t = tempfile::tempdir().expect("test step");
        let src = t.path().to_str().expect("test step");
        let container = IdMaps {
            uid_map: "0 100000 65536\n".into(),
            gid_map: "0 100000 65536\n".into(),
        };
        let p = plan(
            &[m("/v", "bind", src, &["rbind", "ridmap"])],
            Some(&container),
        )
        .expect("test step");
        assert_eq!(p[0].idmap, Some((container.clone(), true)));
        let e = plan(&[m("/v", "bind", src, &["bind", "idmap"])], None).expect_err("no userns");
        assert!(e.contains("container's user namespace"), "{e}");
        let e = plan(&[m("/t", "tmpfs", "tmpfs", &["idmap"])], Some(&container))
            .expect_err("not a bind");
        assert!(e.contains("only a bind mount"), "{e}");
    }
}
