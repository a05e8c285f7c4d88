//! Disk usage of directory trees, as `du -s` counts it (Mesos's `disk/du` runs `du -k -s`): the blocks each file
//! and directory has allocated, every inode once however many hard links name it, symlinks as the links they are
//! (never followed), on whatever filesystems the trees span. Our own walk rather than a `du` process per check:
//! the supervisor measures in its own loop with no child to spawn and reap, and a tree the task keeps changing
//! meanwhile (an entry gone between its listing and its stat) is measured as it stands, not an error.
//!
//! The walk is iterative (a task's deep tree cannot exhaust the stack) and goes through directory fds
//! (`openat` with `O_NOFOLLOW`), so a symlink the task swaps in for a directory mid-walk leads nowhere outside.

use std::collections::HashSet;
use std::io;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

/// The bytes allocated under `roots` together (each inode once across all of them). A root that does not
/// exist counts nothing; any other error on a root is returned.
pub fn usage(roots: &[&Path]) -> io::Result<u64> {
    let mut seen = HashSet::new();
    let mut total = 0u64;
    for root in roots {
        let dir = match rustix::fs::open(*root, flags(), Mode::empty()) {
            Ok(d) => d,
            Err(rustix::io::Errno::NOENT) => continue,
            Err(e) => return Err(e.into()),
        };
        let st = rustix::fs::fstat(&dir)?;
        if seen.insert((st.st_dev, st.st_ino)) {
            total = total.saturating_add(allocated(&st));
        }
        total = total.saturating_add(walk(dir, &mut seen));
    }
    Ok(total)
}

fn flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

fn allocated(st: &rustix::fs::Stat) -> u64 {
    (st.st_blocks as u64).saturating_mul(512)
}

/// Everything below the open directory `top` (not `top` itself).
fn walk(top: OwnedFd, seen: &mut HashSet<(u64, u64)>) -> u64 {
    let mut total = 0u64;
    let mut pending = vec![top];
    while let Some(dir) = pending.pop() {
        let Ok(mut entries) = Dir::read_from(&dir) else {
            continue;
        };
        while let Some(Ok(e)) = entries.next() {
            let name = e.file_name();
            if name == c"." || name == c".." {
                continue;
            }
            // Gone since it was listed, or not ours to read: it counts nothing.
            let Ok(st) = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            if seen.insert((st.st_dev, st.st_ino)) {
                total = total.saturating_add(allocated(&st));
            }
            if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
                if let Ok(sub) = rustix::fs::openat(&dir, name, flags(), Mode::empty()) {
                    pending.push(sub);
                }
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, len: usize) {
        std::fs::write(path, vec![7u8; len]).expect("write");
    }

    #[test]
    fn counts_allocated_blocks_each_inode_once_and_never_follows_a_symlink() {
        let d = tempfile::tempdir().expect("tempdir");
        let base = usage(&[d.path()]).expect("empty");
        write(&d.path().join("a"), 64 * 1024);
        std::fs::create_dir_all(d.path().join("x/y/z")).expect("dirs");
        write(&d.path().join("x/y/z/b"), 32 * 1024);
        let with_files = usage(&[d.path()]).expect("files");
        assert!(with_files >= base + 96 * 1024, "{with_files} after {base}");
        // A hard link adds nothing; a symlink to a big tree outside adds only itself.
        std::fs::hard_link(d.path().join("a"), d.path().join("x/a2")).expect("link");
        let outside = tempfile::tempdir().expect("outside");
        write(&outside.path().join("big"), 1 << 20);
        std::os::unix::fs::symlink(outside.path(), d.path().join("out")).expect("symlink");
        let after = usage(&[d.path()]).expect("links");
        assert!(after < with_files + 16 * 1024, "{after} vs {with_files}");
        // Two roots sharing an inode count it once; a missing root counts nothing.
        let both =
            usage(&[d.path(), &d.path().join("x"), Path::new("/no/such/dir")]).expect("both");
        assert_eq!(both, after);
    }

    #[test]
    fn a_deep_tree_is_walked_without_recursion() {
        let d = tempfile::tempdir().expect("tempdir");
        let mut p = d.path().to_path_buf();
        for _ in 0..300 {
            p.push("d");
        }
        std::fs::create_dir_all(&p).expect("deep");
        write(&p.join("f"), 8192);
        assert!(usage(&[d.path()]).expect("deep") >= 300 * 512 + 8192);
    }
}
