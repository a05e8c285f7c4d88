//! One layer copied onto a rootfs: a depth-first walk of the layer in step with the rootfs.
//!
//! The walk holds one directory fd on each side (no recursion, no fd exhaustion, however deep the tree)
//! and climbs back with `..`, checking it lands on the directory it came from. A directory of the rootfs
//! is only ever entered from its parent's fd with `O_NOFOLLOW|O_DIRECTORY`, after a symlink of a lower
//! layer in its place was replaced by a real directory, so nothing a layer holds can lead a write out
//! of the rootfs (`etc -> /` below, `etc/passwd` above lands in the rootfs' own `etc/`).
//!
//! Overlay form, applied the way overlayfs reads it:
//! - a 0/0 character device removes the path (and is not copied);
//! - a directory marked `trusted.overlay.opaque=y` first loses whatever lower layers put in it; its own
//!   entries come after. On a layer's root the mark is ignored, as overlayfs ignores it there.
//! - a directory over a directory merges; anything else replaces what was there;
//! - files that are one inode in the layer (hard links) become one inode in the rootfs;
//! - a directory's times are set when the walk leaves it, after everything inside was written. A later
//!   layer that writes into it has the directory too, and sets its times again.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, Stat, Timestamps};

use super::copynode::{self as node, Bufs};
use super::remove::{self, DIR_FLAGS};

/// A directory being copied: its entries still to do and how to check the climb back to it.
struct Level {
    names: Vec<(Vec<u8>, FileType)>,
    next: usize,
    src_id: (u64, u64),
    dst_id: (u64, u64),
    times: Timestamps,
    /// Length of the relative path before this directory's name was appended.
    path_len: usize,
}

/// A failure, with the path (relative to the layer root) of the entry being copied.
pub(crate) struct CopyFailure {
    pub entry: String,
    pub source: io::Error,
}

// `Stat`'s field types differ between architectures (u32 or u64, i64 or c_long): the conversions
// are no-ops on some of them only.
#[allow(clippy::useless_conversion)]
fn id(st: &Stat) -> (u64, u64) {
    (u64::from(st.st_dev), u64::from(st.st_ino))
}

/// Copies the layer at `layer` onto the rootfs directory `root`.
pub(crate) fn copy_layer(layer: &Path, root: BorrowedFd<'_>) -> Result<(), CopyFailure> {
    let mut rel = Vec::new();
    walk(layer, root, &mut rel).map_err(|source| CopyFailure {
        entry: if rel.is_empty() {
            ".".to_string()
        } else {
            String::from_utf8_lossy(&rel).into_owned()
        },
        source,
    })
}

fn walk(layer: &Path, root: BorrowedFd<'_>, rel: &mut Vec<u8>) -> io::Result<()> {
    let mut bufs = Bufs::default();
    // (dev, ino) in the layer -> path in the rootfs of the first copy, for files with several links.
    let mut links: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let mut cur_src = rfs::open(layer, DIR_FLAGS, Mode::empty())?;
    let mut cur_dst = rfs::openat(root, ".", DIR_FLAGS, Mode::empty())?;
    let st = rfs::fstat(&cur_src)?;
    // The opaque mark is ignored on a layer's root (see the module docs).
    node::dir_meta(cur_src.as_fd(), cur_dst.as_fd(), &st, true, &mut bufs)?;
    let mut names = Vec::new();
    remove::read_entries(cur_src.as_fd(), &mut names)?;
    let mut stack = vec![Level {
        names,
        next: 0,
        src_id: id(&st),
        dst_id: id(&rfs::fstat(&cur_dst)?),
        times: node::times(&st),
        path_len: 0,
    }];
    while let Some(top) = stack.last_mut() {
        if top.next == top.names.len() {
            rfs::futimens(&cur_dst, &top.times)?;
            let path_len = top.path_len;
            stack.pop();
            rel.truncate(path_len);
            let Some(parent) = stack.last() else { break };
            cur_src = climb(cur_src.as_fd(), parent.src_id)?;
            cur_dst = climb(cur_dst.as_fd(), parent.dst_id)?;
            continue;
        }
        let name = std::mem::take(&mut top.names[top.next].0);
        top.next += 1;
        let path_len = rel.len();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(&name);
        let st = rfs::statat(&cur_src, name.as_slice(), AtFlags::SYMLINK_NOFOLLOW)?;
        let kind = FileType::from_raw_mode(st.st_mode);
        if kind == FileType::Directory {
            let (src, dst, level) = enter_dir(&cur_src, &cur_dst, &name, &st, path_len, &mut bufs)?;
            stack.push(level);
            cur_src = src;
            cur_dst = dst;
            continue; // `rel` keeps the directory's path until the walk leaves it
        }
        if node::is_whiteout(&st) {
            remove::remove_at(&cur_dst, &name)?;
        } else if st.st_nlink > 1 {
            match links.get(&id(&st)) {
                Some(first) => node::link_node(root, first, cur_dst.as_fd(), &name)?,
                None => {
                    node::copy_node(cur_src.as_fd(), cur_dst.as_fd(), &name, &st, &mut bufs)?;
                    links.insert(id(&st), rel.clone());
                }
            }
        } else {
            node::copy_node(cur_src.as_fd(), cur_dst.as_fd(), &name, &st, &mut bufs)?;
        }
        rel.truncate(path_len);
    }
    Ok(())
}

/// Makes (or keeps) the directory `name` in the rootfs, copies its metadata, empties it if the layer
/// marks it opaque, and returns both sides opened with the level to push.
fn enter_dir(
    src_parent: &OwnedFd,
    dst_parent: &OwnedFd,
    name: &[u8],
    st: &Stat,
    path_len: usize,
    bufs: &mut Bufs,
) -> io::Result<(OwnedFd, OwnedFd, Level)> {
    let (dst, existed) = node::make_dir(dst_parent.as_fd(), name)?;
    let src = rfs::openat(src_parent, name, DIR_FLAGS, Mode::empty())?;
    let opaque = node::dir_meta(src.as_fd(), dst.as_fd(), st, existed, bufs)?;
    if opaque && existed {
        // What is there came from lower layers: the opaque directory hides all of it.
        remove::clear(rfs::openat(&dst, ".", DIR_FLAGS, Mode::empty())?)?;
    }
    let mut names = Vec::new();
    remove::read_entries(src.as_fd(), &mut names)?;
    let level = Level {
        names,
        next: 0,
        src_id: id(st),
        dst_id: id(&rfs::fstat(&dst)?),
        times: node::times(st),
        path_len,
    };
    Ok((src, dst, level))
}

/// Opens `..` of `dir` and checks it is the directory `expect` (dev, ino).
fn climb(dir: BorrowedFd<'_>, expect: (u64, u64)) -> io::Result<OwnedFd> {
    let up = rfs::openat(dir, "..", DIR_FLAGS, Mode::empty())?;
    if id(&rfs::fstat(&up)?) != expect {
        return Err(io::Error::other(
            "a directory was moved while the layer was being copied",
        ));
    }
    Ok(up)
}
