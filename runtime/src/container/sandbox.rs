//! The sandbox given to the task's user, as Mesos's agent chowns a task's sandbox to the user it runs as: the
//! directory, its `stdout`/`stderr` and everything fetched into it, so a task run as another user can write
//! its working directory and the files it fetched (it holds no capability to override their owner). The walk
//! goes through directory descriptors and never follows a symlink (a fetched archive's link is chowned
//! itself, not what it points at).

use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Gid, Mode, OFlags, Uid};

/// Deeper than any real sandbox: a deeper tree is an error, not a stack overflow.
const MAX_DEPTH: usize = 256;

/// Give `sandbox` and everything under it to `uid`:`gid`.
pub fn give_to(sandbox: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::open(sandbox, flags, Mode::empty())?;
    let (u, g) = (Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)));
    rustix::fs::fchown(&fd, u, g)?;
    walk(&fd, u, g, 0)
}

fn walk(dir: &OwnedFd, uid: Option<Uid>, gid: Option<Gid>, depth: usize) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(io::Error::other(format!(
            "deeper than {MAX_DEPTH} directories"
        )));
    }
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        rustix::fs::chownat(dir, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
        if entry.file_type() == FileType::Directory {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let sub = rustix::fs::openat(dir, name, flags, Mode::empty())?;
            walk(&sub, uid, gid, depth + 1)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn everything_under_it_changes_owner_and_links_are_not_followed() {
        let d = tempfile::tempdir().expect("tempdir");
        let outside = d.path().join("outside");
        std::fs::write(&outside, "x").expect("write");
        let s = d.path().join("sandbox");
        std::fs::create_dir_all(s.join("a/b")).expect("mkdir");
        std::fs::write(s.join("a/b/f"), "f").expect("write");
        std::os::unix::fs::symlink(&outside, s.join("link")).expect("symlink");
        give_to(&s, 65534, 65533).expect("chown");
        for p in [s.clone(), s.join("a"), s.join("a/b/f")] {
            let m = std::fs::metadata(&p).expect("stat");
            assert_eq!((m.uid(), m.gid()), (65534, 65533), "{}", p.display());
        }
        let l = std::fs::symlink_metadata(s.join("link")).expect("lstat");
        assert_eq!(l.uid(), 65534);
        let o = std::fs::metadata(&outside).expect("stat");
        assert_eq!(o.uid(), 0, "the link's target is not the sandbox's");
    }
}
