//! What a container's task will see at a path, known before it starts: its root filesystem with the bundle's
//! mounts over it (the sandbox, volumes, secrets). The program lookup (`lookup.rs`) asks it, so a program that
//! a volume holds, or that the fetcher put in the sandbox, is found where the task will find it.
//!
//! A path is followed one component at a time, as the kernel will follow it in the container: each component
//! is looked at on the host, in the root filesystem or in the source of the last mount that covers it, and a
//! symlink is followed in the view (an absolute target from the container's root, `..` never above it), so no
//! host path outside the root and the mounts' sources is ever looked at. Only metadata and link targets are
//! read. A mount that is not a bind (tmpfs, proc) holds nothing known yet: nothing is found under it.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Symlinks followed in one path before giving up, as the kernel's limit.
const MAX_LINKS: usize = 40;

/// A root filesystem and the mounts over it, in mount order.
#[derive(Debug)]
pub struct View {
    root: PathBuf,
    /// (where in the container, the host path a bind mount shows there; None for any other mount).
    mounts: Vec<(PathBuf, Option<PathBuf>)>,
}

impl View {
    /// The host directory `root` as the container's `/`, nothing mounted over it yet.
    pub fn new(root: &Path) -> View {
        View {
            root: root.to_path_buf(),
            mounts: Vec::new(),
        }
    }

    /// A mount at `dest` (a path in the container) over everything before it: the host path `bind` shows
    /// there, or None for a filesystem of its own.
    pub fn mount(&mut self, dest: &str, bind: Option<&Path>) {
        self.mounts
            .push((lexical(Path::new(dest)), bind.map(Path::to_path_buf)));
    }

    /// The metadata of what `path` (absolute, in the container) names, symlinks followed in the view.
    pub fn metadata(&self, path: &str) -> io::Result<Metadata> {
        let mut done = PathBuf::from("/");
        let mut todo: VecDeque<OsString> = parts(Path::new(path));
        let mut links = 0;
        let mut last = None;
        while let Some(part) = todo.pop_front() {
            if part == ".." {
                done.pop();
                last = None;
                continue;
            }
            let next = done.join(&part);
            let Some(host) = self.host(&next) else {
                // A mount of its own (tmpfs, proc) holds nothing known yet; its root, and the way through it to
                // a later mount (a sandbox bound at its own path under /dev/shm), are directories.
                if self.own_root(&next) || self.on_the_way_to_a_later_mount(&next) {
                    done = next;
                    last = None;
                    continue;
                }
                return Err(not_found());
            };
            let md = match std::fs::symlink_metadata(&host) {
                Ok(md) => md,
                // The runtime makes the directories a mount point needs.
                Err(e) if e.kind() == io::ErrorKind::NotFound && self.above_a_mount(&next) => {
                    done = next;
                    last = None;
                    continue;
                }
                Err(e) => return Err(e),
            };
            if md.file_type().is_symlink() {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = std::fs::read_link(&host)?;
                if target.is_absolute() {
                    done = PathBuf::from("/");
                }
                let mut ahead = parts(&target);
                ahead.extend(todo);
                todo = ahead;
                last = None;
                continue;
            }
            if !todo.is_empty() && !md.is_dir() {
                return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
            }
            done = next;
            last = Some(md);
        }
        match last {
            Some(md) => Ok(md),
            // A directory made for a mount point, or one in a mount of its own: the root stands for it (only
            // its kind is asked).
            None => match self.host(&done).map(std::fs::metadata) {
                Some(Err(e))
                    if e.kind() == io::ErrorKind::NotFound && self.above_a_mount(&done) =>
                {
                    std::fs::metadata(&self.root)
                }
                Some(r) => r,
                None => std::fs::metadata(&self.root),
            },
        }
    }

    /// Whether `path` leads to a mount point (every directory on the way to one exists once mounted).
    fn above_a_mount(&self, path: &Path) -> bool {
        self.mounts
            .iter()
            .any(|(dest, _)| dest.starts_with(path) && dest != path)
    }

    /// Whether `path` is the root of the last mount that covers it.
    fn own_root(&self, path: &Path) -> bool {
        self.covering(path)
            .is_some_and(|i| self.mounts[i].0 == path)
    }

    /// Whether a mount made after the last one that covers `path` is below it: one it does not hide.
    fn on_the_way_to_a_later_mount(&self, path: &Path) -> bool {
        let after = self.covering(path).map_or(0, |i| i + 1);
        self.mounts[after..]
            .iter()
            .any(|(dest, _)| dest.starts_with(path) && dest != path)
    }

    /// The index of the last mount that covers `path`.
    fn covering(&self, path: &Path) -> Option<usize> {
        self.mounts
            .iter()
            .rposition(|(dest, _)| path.starts_with(dest))
    }

    /// Where on the host the container's `path` (absolute, without symlinks, `.` or `..`) is: under the last
    /// mount that covers it, else in the root filesystem; None under a mount that is not a bind.
    fn host(&self, path: &Path) -> Option<PathBuf> {
        match self.covering(path).map(|i| &self.mounts[i]) {
            Some((dest, Some(source))) => Some(source.join(path.strip_prefix(dest).ok()?)),
            Some((_, None)) => None,
            None => Some(self.root.join(path.strip_prefix("/").unwrap_or(path))),
        }
    }
}

/// ENOENT, as the kernel will answer: the lookup takes only an errno for "not there", and goes on with PATH.
fn not_found() -> io::Error {
    io::Error::from_raw_os_error(libc::ENOENT)
}

/// `path`'s names and `..`s, in order (the root and `.` dropped).
fn parts(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect()
}

/// `path` as an absolute path with `.` and `..` taken away lexically (a mount's destination).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for p in parts(path) {
        match p == ".." {
            true => {
                out.pop();
            }
            false => out.push(p),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, "x").expect("write");
    }

    #[test]
    fn mounts_cover_the_root_and_later_mounts_cover_earlier_ones() {
        let d = tempfile::tempdir().expect("tempdir");
        let (root, vol, sub) = (
            d.path().join("root"),
            d.path().join("vol"),
            d.path().join("sub"),
        );
        touch(&root.join("bin/sh"));
        touch(&root.join("data/hidden"));
        touch(&vol.join("tool"));
        touch(&sub.join("inner"));
        let mut v = View::new(&root);
        v.mount("/data", Some(&vol));
        v.mount("/data/./sub/", Some(&sub));
        v.mount("/dev", None);
        assert!(v.metadata("/bin/sh").is_ok_and(|m| m.is_file()));
        // The volume hides what the image has there.
        assert!(v.metadata("/data/tool").is_ok_and(|m| m.is_file()));
        assert!(v.metadata("/data/hidden").is_err());
        assert!(v.metadata("/data/sub/inner").is_ok_and(|m| m.is_file()));
        assert!(v.metadata("/data").is_ok_and(|m| m.is_dir()));
        // Nothing is known under a mount that is not a bind.
        assert!(v.metadata("/dev/null").is_err());
        // A later mount over an earlier one's parent hides it.
        v.mount("/data", None);
        assert!(v.metadata("/data/sub/inner").is_err());
    }

    #[test]
    fn a_mount_of_its_own_is_a_directory_with_nothing_known_in_it_but_later_mounts() {
        let d = tempfile::tempdir().expect("tempdir");
        let (root, sandbox) = (d.path().join("root"), d.path().join("sandbox"));
        touch(&root.join("dev/shm/on-the-host"));
        touch(&sandbox.join("run.sh"));
        let mut v = View::new(&root);
        v.mount("/dev/shm", None);
        // A task without an image whose sandbox is under the host's /dev/shm: bound there at its own path.
        v.mount("/dev/shm/ucr/sandbox", Some(&sandbox));
        assert!(v
            .metadata("/dev/shm/ucr/sandbox/run.sh")
            .is_ok_and(|m| m.is_file()));
        for dir in ["/dev/shm", "/dev/shm/ucr", "/dev/shm/ucr/sandbox"] {
            assert!(v.metadata(dir).is_ok_and(|m| m.is_dir()), "{dir}");
        }
        // The tmpfs hides the host's file; what is not there is ENOENT, as the kernel will say.
        for missing in ["/dev/shm/on-the-host", "/dev/shm/ucr/other", "/dev/shm/x/y"] {
            let e = v.metadata(missing).map(drop).map_err(|e| e.raw_os_error());
            assert_eq!(e, Err(Some(libc::ENOENT)), "{missing}");
        }
    }

    #[test]
    fn symlinks_are_followed_in_the_view_never_on_the_host() {
        let d = tempfile::tempdir().expect("tempdir");
        let (root, vol) = (d.path().join("root"), d.path().join("vol"));
        touch(&root.join("bin/busybox"));
        touch(&vol.join("real"));
        symlink("/bin/busybox", root.join("bin/sh")).expect("symlink");
        // In the volume, absolute targets are the container's: into the image, and into the volume itself.
        symlink("/bin/busybox", vol.join("to-image")).expect("symlink");
        symlink("/opt/v/real", vol.join("to-self")).expect("symlink");
        symlink("../../../../../../etc/hostname", vol.join("climb")).expect("symlink");
        symlink("loop", vol.join("loop")).expect("symlink");
        // An image symlink into the volume's mount point.
        symlink("/opt/v/real", root.join("bin/tool")).expect("symlink");
        let mut v = View::new(&root);
        v.mount("/opt/v", Some(&vol));
        assert!(v.metadata("/bin/sh").is_ok_and(|m| m.is_file()));
        assert!(v.metadata("/opt/v/to-image").is_ok_and(|m| m.is_file()));
        assert!(v.metadata("/opt/v/to-self").is_ok_and(|m| m.is_file()));
        assert!(v.metadata("/bin/tool").is_ok_and(|m| m.is_file()));
        // `..` stops at the container's root: /etc/hostname of the image, which has none.
        assert!(v.metadata("/opt/v/climb").is_err());
        assert_eq!(
            v.metadata("/opt/v/loop")
                .map(drop)
                .map_err(|e| e.raw_os_error()),
            Err(Some(libc::ELOOP))
        );
        assert_eq!(
            v.metadata("/bin/sh/x")
                .map(drop)
                .map_err(|e| e.raw_os_error()),
            Err(Some(libc::ENOTDIR))
        );
        assert!(v.metadata("/").is_ok_and(|m| m.is_dir()));
        // The image has no /opt: the runtime makes it for the mount point.
        assert!(v.metadata("/opt").is_ok_and(|m| m.is_dir()));
        assert!(v.metadata("/opt/other").is_err());
        assert!(v.metadata("/opt/v/../../bin/busybox").is_ok());
    }
}
