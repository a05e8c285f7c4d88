//! `clone3(2)` for the container's init: one call makes the process in its new namespaces and, on cgroup v2,
//! directly in its cgroup (`CLONE_INTO_CGROUP`), so the kernel never has to migrate it — a migration takes the
//! cgroup write lock, which can wait for an RCU grace period (milliseconds) on a busy host. Also the pipes the
//! launcher's processes talk through.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::error::Failure;

/// The kernel's `struct clone_args` (the first version with the `cgroup` field, CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `CLONE_INTO_CGROUP` (Linux 5.7), not in every libc crate release.
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// What the call returned in each process.
pub enum Forked {
    Parent { pid: i32 },
    Child,
}

/// Fork with `flags` (namespace `CLONE_NEW*` bits, `CLONE_PARENT`), SIGCHLD on exit, into `cgroup` if given
/// (v2 only).
///
/// # Safety
/// As for `fork(2)`: the caller must be single-threaded, since the child continues with a copy of this one
/// thread and runs arbitrary code (allocation included) before it execs.
pub unsafe fn clone3(flags: u64, cgroup: Option<BorrowedFd<'_>>) -> io::Result<Forked> {
    // A sibling (CLONE_PARENT) inherits the caller's exit signal; the kernel refuses one given with it.
    let sibling = flags & libc::CLONE_PARENT as u64 != 0;
    let mut args = CloneArgs {
        flags,
        exit_signal: if sibling { 0 } else { libc::SIGCHLD as u64 },
        ..CloneArgs::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: args is a valid clone_args of the size passed; no stack is given, so the child runs on a copy of
    // ours like fork(2); the caller guarantees the process is single-threaded.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent { pid: pid as i32 }),
    }
}

/// A pipe, both ends close-on-exec: how the launcher's processes talk before the exec.
pub fn pipe() -> Result<(File, File), Failure> {
    let (r, w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Failure::new("pipe".into(), e.into()))?;
    Ok((File::from(r), File::from(w)))
}

/// The `CLONE_NEW*` flag of an OCI namespace type that the init gets by being created in it.
pub fn new_namespace_flag(t: oci_spec::runtime::LinuxNamespaceType) -> u64 {
    use oci_spec::runtime::LinuxNamespaceType as T;
    (match t {
        T::Mount => libc::CLONE_NEWNS,
        T::Uts => libc::CLONE_NEWUTS,
        T::Ipc => libc::CLONE_NEWIPC,
        T::Pid => libc::CLONE_NEWPID,
        T::Network => libc::CLONE_NEWNET,
        T::User => libc::CLONE_NEWUSER,
        T::Cgroup => libc::CLONE_NEWCGROUP,
        T::Time => libc::CLONE_NEWTIME,
    }) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_args_is_the_kernels_ver2_size() {
        // CLONE_ARGS_SIZE_VER2 = 88: a wrong size would make the kernel reject or misread the cgroup field.
        assert_eq!(std::mem::size_of::<CloneArgs>(), 88);
    }
}
