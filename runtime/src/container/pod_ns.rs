//! A pod's shared namespaces, made before any of its processes: its UTS namespace (with the pod's hostname
//! already set) and, when its members share it, its IPC namespace, each kept by a bind mount of its nsfs file
//! onto a file of `Paths::pod_ns` (as `ip netns add` keeps a network namespace), and the pod's network
//! namespace, when it has one of its own (a CNI network), bound there too. The pod's parent and every member
//! join them by path, so a member's start does not wait for the parent's init to exist and make them: the
//! pod's supervisors start side by side (`containerizer::pod`). No file for a kind means the host's.
//!
//! They are made by the calling thread itself, which then returns to its own namespaces: `unshare` of UTS and
//! IPC moves only the calling thread, and a thread spawned for it would leave the CLI multi-threaded for a
//! moment, which makes it start supervisors the slow way (`containerizer::fork::single_threaded`).

use std::fs::{File, OpenOptions};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::mount::mount_bind;
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType, UnshareFlags};

use super::error::{ContainerError, Result};

/// The kinds a pod shares, by the name of their file (as in `/proc/PID/ns`).
pub const UTS: &str = "uts";
pub const IPC: &str = "ipc";
pub const NET: &str = "net";
/// Made by the parent's supervisor once its init is in its cgroup (`supervisor::beside`).
pub const PLACED: &str = "placed";
/// FIFOs that the parent's supervisor opens and closes once its init is placed, and once it runs: that wakes a
/// member polling either (`supervisor::beside`).
pub const PLACING: &str = "placing";
pub const STARTING: &str = "starting";

/// What to make: the hostname of the new UTS namespace, whether to make an IPC namespace, and the network
/// namespace the pod joins (a bound nsfs file), if it has one of its own.
pub struct Wanted<'a> {
    pub hostname: &'a str,
    pub ipc: bool,
    pub net: Option<&'a Path>,
}

/// Makes the namespaces in `dir` (which must not exist yet). On failure nothing is left of them.
pub fn pin(dir: &Path, w: &Wanted<'_>) -> Result<()> {
    std::fs::create_dir(dir).map_err(|e| ContainerError::io(dir, e))?;
    let made = pin_in(dir, w);
    if made.is_err() {
        let _ = remove("", dir);
    }
    made
}

fn pin_in(dir: &Path, w: &Wanted<'_>) -> Result<()> {
    let mut kinds = vec![(
        UTS,
        UnshareFlags::NEWUTS,
        LinkNameSpaceType::HostNameAndNISDomainName,
    )];
    if w.ipc {
        kinds.push((
            IPC,
            UnshareFlags::NEWIPC,
            LinkNameSpaceType::InterProcessCommunication,
        ));
    }
    // This thread's own namespaces, to return to.
    let own: Vec<(File, LinkNameSpaceType)> = kinds
        .iter()
        .map(|(name, _, t)| {
            let p = format!("/proc/thread-self/ns/{name}");
            File::open(&p)
                .map(|f| (f, *t))
                .map_err(|e| ContainerError::io(p, e))
        })
        .collect::<Result<_>>()?;
    for (name, _, _) in &kinds {
        empty_file(&dir.join(name))?;
    }
    let flags = kinds
        .iter()
        .fold(UnshareFlags::empty(), |f, (_, k, _)| f | *k);
    // SAFETY: NEWUTS and NEWIPC change only this thread's namespaces; nothing shared with other threads (the
    // fd table, the filesystem context) is unshared, which is what makes `unshare` unsafe in general.
    unsafe { rustix::thread::unshare_unsafe(flags) }
        .map_err(|e| ContainerError::io(dir, e.into()))?;
    let inside = (|| -> Result<()> {
        rustix::system::sethostname(w.hostname.as_bytes())
            .map_err(|e| ContainerError::io(dir.join(UTS), e.into()))?;
        for (name, _, _) in &kinds {
            let at = dir.join(name);
            mount_bind(format!("/proc/thread-self/ns/{name}"), &at)
                .map_err(|e| ContainerError::io(&at, e.into()))?;
        }
        Ok(())
    })();
    // Back home whatever happened, before anything else runs on this thread.
    for (f, t) in &own {
        move_into_link_name_space(f.as_fd(), Some(*t))
            .map_err(|e| ContainerError::io(dir, e.into()))?;
    }
    inside?;
    for name in [PLACING, STARTING] {
        let p = dir.join(name);
        let fifo = rustix::fs::FileType::Fifo;
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &p,
            fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .map_err(|e| ContainerError::io(&p, e.into()))?;
    }
    if let Some(net) = w.net {
        let at = dir.join(NET);
        empty_file(&at)?;
        mount_bind(net, &at).map_err(|e| ContainerError::io(&at, e.into()))?;
    }
    Ok(())
}

fn empty_file(p: &Path) -> Result<()> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(p)
        .map(drop)
        .map_err(|e| ContainerError::io(p, e))
}

/// The file of the pod's namespace of `kind` in `dir`, if the pod has its own of that kind.
pub fn joined(dir: &Path, kind: &str) -> Option<PathBuf> {
    let p = dir.join(kind);
    p.is_file().then_some(p)
}

/// Whether `dir` holds a pod's namespaces (its parent and members join them by path).
pub fn pinned(dir: &Path) -> bool {
    dir.join(UTS).is_file()
}

/// Unmounts and deletes the namespace files and `dir` of pod `id`. Tolerates a partial `pin` and a second run
/// after a crash. The members still waiting for the parent are woken once the files are gone.
pub fn remove(id: &str, dir: &Path) -> Result<()> {
    // Every container's teardown comes here; most have nothing.
    if !dir.exists() {
        return Ok(());
    }
    // Held open across their deletion and closed after it: the members still waiting wake then, and find them
    // gone.
    let wakes: Vec<_> = [PLACING, STARTING]
        .iter()
        .filter_map(|f| open_writer(&dir.join(f)).ok())
        .collect();
    // What undoes a bound network namespace undoes any of these (the plain files are only deleted).
    for name in [UTS, IPC, NET, PLACED, PLACING, STARTING] {
        ucr_isolators::network::netns::remove(&dir.join(name))
            .map_err(|e| ContainerError::isolator(id, e))?;
    }
    drop(wakes);
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(ContainerError::io(dir, e)),
        _ => Ok(()),
    }
}

/// Wakes the members waiting on `fifo` (`PLACING` or `STARTING`): a writer that comes and goes makes their
/// poll report POLLHUP. Read-write, as a FIFO's write-only open fails while no reader has it open.
pub fn wake(fifo: &Path) -> Result<()> {
    open_writer(fifo)
        .map(drop)
        .map_err(|e| ContainerError::io(fifo, e))
}

/// A writer of `fifo`, whose close wakes its readers.
fn open_writer(fifo: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(fifo)
}

/// Wakes every member waiting for the parent of the pod at `dir`, whatever for, to look again: the parent
/// ended, or they were killed. Nothing for a pod whose namespaces are not pinned.
pub fn wake_waiters(dir: &Path) {
    for f in [PLACING, STARTING] {
        let _ = wake(&dir.join(f));
    }
}

/// For tests that pin namespaces: unmounts what was pinned at the path when dropped, also when an assertion
/// failed; the bind mounts would outlive the test and keep its tempdir.
#[cfg(test)]
pub(crate) struct Unpin(pub PathBuf);

#[cfg(test)]
impl Drop for Unpin {
    fn drop(&mut self) {
        let _ = remove("test", &self.0);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    /// The inode of this thread's namespace of `kind` (what `/proc/thread-self/ns/KIND` links to).
    fn own(kind: &str) -> u64 {
        std::fs::metadata(format!("/proc/thread-self/ns/{kind}"))
            .expect("own ns")
            .ino()
    }

    /// The hostname seen by a thread that joined the UTS namespace bound at `p`.
    fn hostname_in(p: &Path) -> String {
        let f = File::open(p).expect("open uts");
        std::thread::spawn(move || {
            move_into_link_name_space(f.as_fd(), Some(LinkNameSpaceType::HostNameAndNISDomainName))
                .expect("setns uts");
            rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned()
        })
        .join()
        .expect("thread")
    }

    #[test]
    fn the_namespaces_are_new_the_hostname_is_set_and_the_caller_stays_where_it_was() {
        let t = tempfile::tempdir().expect("tempdir");
        let dir = t.path().join("ns");
        let (uts, ipc, host) = (
            own(UTS),
            own(IPC),
            rustix::system::uname().nodename().to_owned(),
        );
        let net = PathBuf::from("/proc/self/ns/net");
        pin(
            &dir,
            &Wanted {
                hostname: "pod-web",
                ipc: true,
                net: Some(&net),
            },
        )
        .expect("pin");
        let _unpin = Unpin(dir.clone());
        assert_eq!((own(UTS), own(IPC)), (uts, ipc), "the caller moved");
        assert_eq!(rustix::system::uname().nodename(), host.as_c_str());
        let ino = |k: &str| std::fs::metadata(dir.join(k)).expect("bound").ino();
        assert_ne!(ino(UTS), uts);
        assert_ne!(ino(IPC), ipc);
        assert_eq!(
            ino(NET),
            own(NET),
            "the network namespace given is the one bound"
        );
        assert_eq!(hostname_in(&dir.join(UTS)), "pod-web");
        assert!(pinned(&dir));
        assert_eq!(joined(&dir, IPC), Some(dir.join(IPC)));
        remove("pod", &dir).expect("remove");
        assert!(!dir.exists());
        remove("pod", &dir).expect("a second remove finds nothing to do");
    }

    #[test]
    fn without_ipc_or_net_only_the_uts_namespace_is_made() {
        let t = tempfile::tempdir().expect("tempdir");
        let dir = t.path().join("ns");
        pin(
            &dir,
            &Wanted {
                hostname: "h",
                ipc: false,
                net: None,
            },
        )
        .expect("pin");
        let _unpin = Unpin(dir.clone());
        assert!(pinned(&dir));
        assert_eq!((joined(&dir, IPC), joined(&dir, NET)), (None, None));
        remove("pod", &dir).expect("remove");
        assert!(!dir.exists());
    }

    #[test]
    fn a_failed_pin_leaves_nothing_and_an_existing_dir_is_not_touched() {
        let t = tempfile::tempdir().expect("tempdir");
        let dir = t.path().join("ns");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join("keep"), "x").expect("write");
        let w = Wanted {
            hostname: "h",
            ipc: true,
            net: None,
        };
        let e = pin(&dir, &w).expect_err("the dir exists");
        assert!(e.to_string().contains(&dir.display().to_string()), "{e}");
        assert!(dir.join("keep").is_file());
        // A hostname the kernel refuses (longer than 64 bytes): the namespaces made are undone.
        let other = t.path().join("ns2");
        let long = "x".repeat(65);
        let e = pin(
            &other,
            &Wanted {
                hostname: &long,
                ipc: true,
                net: None,
            },
        )
        .expect_err("too long");
        assert!(e.to_string().contains("uts"), "{e}");
        assert!(!other.exists());
        assert_eq!(
            own(UTS),
            std::fs::metadata("/proc/self/ns/uts").expect("ns").ino()
        );
    }
}
