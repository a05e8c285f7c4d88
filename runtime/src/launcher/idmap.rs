//! ID-mapped bind mounts (runtime-spec: a mount's `uidMappings`/`gidMappings`, options `idmap`/`ridmap`): the
//! source's files seen with their owners mapped, as Kubernetes gives volumes to a container with a user
//! namespace. The caller prepares them before the init exists, because only it is sure to have the rights: the
//! kernel lets a mount be ID-mapped only by a process privileged over the filesystem's own user namespace (the
//! host's), which an init in a new user namespace is not. For each such mount it makes a user namespace that
//! only carries the maps (a child cloned into it, its maps written, its namespace file opened, the child
//! killed), clones the source as a detached tree, and sets `MOUNT_ATTR_IDMAP` on it; the init attaches the
//! tree like any other bind.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};

use super::clone::{clone3, Forked};
use super::error::Failure;
use super::linux::Linux;
use super::mounts;
use super::namespaces::IdMaps;
use super::plan::Plan;
use super::stage;

/// Per mount of `plan`, its ID-mapped tree, or None for a mount the init makes itself.
///
/// # Safety
/// Single-threaded, as for `clone3`.
pub unsafe fn prepare(plan: &Plan) -> Result<Vec<Option<OwnedFd>>, Failure> {
    if plan.mounts.iter().all(|m| m.idmap.is_none()) {
        return Ok(Vec::new());
    }
    let mut trees = Vec::with_capacity(plan.mounts.len());
    // The container's maps often serve several mounts: one namespace per distinct maps.
    let mut namespaces: Vec<(IdMaps, OwnedFd)> = Vec::new();
    for m in &plan.mounts {
        let Some((maps, recursive)) = &m.idmap else {
            trees.push(None);
            continue;
        };
        let at = || format!("ID-mapped mount {}", m.dest.display());
        let ns = match namespaces.iter().position(|(k, _)| k == maps) {
            Some(i) => i,
            None => {
                // SAFETY: passed on from the caller.
                let fd = unsafe { userns(maps) }?;
                namespaces.push((maps.clone(), fd));
                namespaces.len() - 1
            }
        };
        let tree = Failure::at(at, mounts::detach_source(m))?
            .ok_or_else(|| Failure::new(at(), io::Error::other("not a bind mount")))?;
        let mapped = mounts::set_idmap(tree.as_fd(), namespaces[ns].1.as_fd(), *recursive);
        Failure::at(at, mapped.map_err(|e| unsupported_fs(e, m.bind_source())))?;
        trees.push(Some(tree));
    }
    Ok(trees)
}

/// EINVAL from `mount_setattr` here means the source's filesystem cannot be ID-mapped by this kernel (tmpfs
/// before Linux 6.3, 9p, ...): said so, naming the source.
fn unsupported_fs(e: io::Error, source: Option<&std::path::Path>) -> io::Error {
    match (e.raw_os_error(), source) {
        (Some(libc::EINVAL), Some(s)) => io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "this kernel cannot ID-map the filesystem of {} (EINVAL)",
                s.display()
            ),
        ),
        _ => e,
    }
}

/// A user namespace with `maps`, held by the returned fd.
///
/// # Safety
/// Single-threaded, as for `clone3`.
unsafe fn userns(maps: &IdMaps) -> Result<OwnedFd, Failure> {
    // SAFETY: passed on from the caller; the child only waits to be killed.
    let forked = unsafe { clone3(libc::CLONE_NEWUSER as u64, None) };
    match forked.map_err(|e| Failure::new("clone3".into(), e))? {
        Forked::Child => loop {
            // SAFETY: async-signal-safe calls only; SIGKILL ends it (also if the caller dies first).
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                libc::pause();
            }
        },
        Forked::Parent { pid } => {
            let opened = stage::write_maps(&Linux, maps, pid).and_then(|()| {
                let ns = format!("/proc/{pid}/ns/user");
                Failure::at(|| ns.clone(), File::open(&ns).map(OwnedFd::from))
            });
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            opened
        }
    }
}
