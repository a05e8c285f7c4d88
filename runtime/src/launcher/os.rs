//! The `Launcher` trait: the launcher's seam to the operating system. Every system-level step the container's
//! init takes between `clone3` and `execve` is one method, so the init's decisions — which steps, with which
//! values, in which order — live in `init.rs` as plain code over this trait. `linux.rs` makes the real system
//! calls; a recording fake (`recording.rs`, tests only) records the calls so those decisions are unit-tested
//! without root, namespaces or a fork, as youki's `Syscall` trait lets its init be tested.
//!
//! Paths are the container's own once `pivot_root` has run; before it (mounts, devices) they are resolved
//! inside the rootfs from `root`, an fd of it.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::process::{Resource, Rlimit};

use super::caps::CapPlan;
use super::dev::Node;
use super::mounts::Planned;
use super::plan::HookCmd;
use super::seccomp::Filter;

pub trait Launcher {
    /// Write `value` to a kernel file (a cgroup's `tasks`, `oom_score_adj`, a sysctl).
    fn write_file(&self, path: &Path, value: &str) -> io::Result<()>;
    /// Read a small text file (the container's `/etc/passwd`).
    fn read_file(&self, path: &Path) -> io::Result<String>;
    /// A regular file this process may execute.
    fn is_executable(&self, path: &Path) -> bool;

    fn setsid(&self) -> io::Result<()>;
    /// Make the three fds the process's standard input, output and error.
    fn set_stdio(&self, stdio: [OwnedFd; 3]) -> io::Result<()>;
    /// `setns` into the namespace at `path`, of the `CLONE_NEW*` type `nstype`.
    fn join_namespace(&self, path: &Path, nstype: i32) -> io::Result<()>;
    fn unshare_cgroup_namespace(&self) -> io::Result<()>;
    /// A new time namespace for this process's children, its clocks offset by `offsets` (the lines of
    /// `timens_offsets`), written before any process is in it.
    fn new_time_namespace(&self, offsets: &str) -> io::Result<()>;
    fn set_hostname(&self, name: &str) -> io::Result<()>;

    /// Cut mount propagation to the host and make the rootfs a mount of its own; returns an fd of it.
    fn prepare_rootfs(&self, rootfs: &Path) -> io::Result<OwnedFd>;
    /// Attach one planned mount under `root`. `cgroups` are the container's cgroup dirs (for `type: cgroup`).
    /// A bind mount's source as a detached tree, taken before any mount is attached (None for other kinds).
    fn detach_source(&self, m: &Planned) -> io::Result<Option<OwnedFd>>;
    fn mount(
        &self,
        root: BorrowedFd<'_>,
        m: &Planned,
        detached: Option<OwnedFd>,
        cgroups: &[(PathBuf, PathBuf)],
    ) -> io::Result<()>;
    fn make_device(&self, root: BorrowedFd<'_>, n: &Node) -> io::Result<()>;
    /// `/dev/fd`, `/dev/std{in,out,err}`, `/dev/ptmx`.
    fn dev_links(&self, root: BorrowedFd<'_>) -> io::Result<()>;
    /// A new pty from `/dev/ptmx` as this process sees it (`pty::pair`): master, slave, the slave's name.
    fn open_pty(&self, size: Option<(u16, u16)>) -> io::Result<(OwnedFd, OwnedFd, CString)>;
    /// Bind the pty slave `name` over `/dev/console` (made if missing), inside the container's root.
    fn mount_console(&self, name: &CStr) -> io::Result<()>;
    /// Send `fd`, with `data`, as one message on the socket `to` (`pty::send`).
    fn send_fd(&self, to: BorrowedFd<'_>, fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<()>;
    /// Make stdin (a pty's slave) the session's controlling terminal.
    fn set_controlling_terminal(&self) -> io::Result<()>;
    /// Without a rootfs, in a new mount namespace: cut mount propagation to the host; returns an fd of `/`.
    fn private_mounts(&self) -> io::Result<OwnedFd>;
    /// Make the rootfs `/` and detach the old root.
    fn pivot_root(&self, rootfs: &Path) -> io::Result<()>;
    /// runc's `--no-pivot` (a rootfs on a ramdisk, where `pivot_root` fails): the host's procfs and sysfs
    /// mounts detached, the rootfs moved onto `/`, and `chroot` into it.
    fn move_root(&self, rootfs: &Path) -> io::Result<()>;
    /// Join a new session keyring of this name (runc's default, unless `--no-new-keyring`).
    fn join_session_keyring(&self, name: &CStr) -> io::Result<()>;
    fn readonly_path(&self, path: &str) -> io::Result<()>;
    fn mask_path(&self, path: &str) -> io::Result<()>;
    fn readonly_root(&self) -> io::Result<()>;

    fn set_rlimit(&self, resource: Resource, limit: Rlimit) -> io::Result<()>;
    fn chdir(&self, dir: &Path) -> io::Result<()>;
    fn set_groups(&self, gids: &[u32]) -> io::Result<()>;
    /// Switch uid and gid, keeping the permitted capabilities across the switch.
    fn set_ids(&self, uid: u32, gid: u32) -> io::Result<()>;
    /// Mark every fd from `first` up close-on-exec.
    fn close_on_exec_from(&self, first: u32) -> io::Result<()>;
    /// Effective capabilities = permitted.
    fn reset_effective_caps(&self) -> io::Result<()>;
    fn set_capabilities(&self, caps: &CapPlan) -> io::Result<()>;
    fn set_no_new_privs(&self) -> io::Result<()>;
    /// personality(2): the execution domain (`PER_LINUX32` makes `uname -m` say i686, for 32-bit builds).
    fn set_personality(&self, persona: u64) -> io::Result<()>;
    /// Every signal's disposition back to the default and none blocked: an ignored signal survives `execve`,
    /// and the task must not inherit what its launcher ignored (SIGPIPE, which Rust ignores, above all).
    fn reset_signals(&self) -> io::Result<()>;
    fn load_seccomp(&self, filter: &Filter) -> io::Result<()>;
    /// Run a hook to its end: `stdin` written to it, killed after `timeout` seconds. Its exit code.
    fn run_hook(&self, hook: &HookCmd, stdin: &[u8]) -> io::Result<i32>;
    /// Run the task in a child of this process, which stays as its reaper (`reaper.rs`) and reports the task's
    /// wait status on `status_fd`. Returns only when the task did not start: `Err` when no child was made,
    /// `Ok` with the error of the child's exec.
    fn exec_reaped(
        &self,
        status_fd: i32,
        program: &CStr,
        args: &[CString],
        env: &[CString],
    ) -> io::Result<io::Error>;
    /// Replace the process; returns only the error.
    fn exec(&self, program: &CStr, args: &[CString], env: &[CString]) -> io::Error;
}
