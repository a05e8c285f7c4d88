//! The real `Launcher`: each method is the system calls of one step, through rustix (and `caps`, and a few raw
//! syscalls rustix does not wrap). The init is single-threaded, so the per-thread calls (`setresuid`,
//! `setgroups`, `capset`) change the whole process.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};
use rustix::mount::{MountPropagationFlags, UnmountFlags};
use rustix::process::{Resource, Rlimit};
use rustix::thread::{Gid, Uid};

use super::caps::{self, CapPlan};
use super::dev::{self, Node};
use super::mounts::{self, Planned};
use super::os::Launcher;
use super::plan::HookCmd;
use super::protect;
use super::pty;
use super::seccomp::{self, Filter};

/// This process, on Linux.
pub struct Linux;

impl Launcher for Linux {
    fn write_file(&self, path: &Path, value: &str) -> io::Result<()> {
        std::fs::write(path, value)
    }

    fn read_file(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn is_executable(&self, path: &Path) -> bool {
        rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok() && path.is_file()
    }

    fn setsid(&self) -> io::Result<()> {
        rustix::process::setsid()?;
        Ok(())
    }

    fn set_stdio(&self, stdio: [OwnedFd; 3]) -> io::Result<()> {
        for (i, fd) in stdio.iter().enumerate() {
            // SAFETY: dup2 onto 0..2 of fds we own; the originals are closed when `stdio` drops.
            if unsafe { libc::dup2(fd.as_raw_fd(), i as i32) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    fn open_pty(&self, size: Option<(u16, u16)>) -> io::Result<(OwnedFd, OwnedFd, CString)> {
        pty::pair(size)
    }

    fn mount_console(&self, name: &CStr) -> io::Result<()> {
        // The mount point: a plain file on the container's /dev (an image's own node there is mounted over).
        match rustix::fs::mknodat(
            rustix::fs::CWD,
            "/dev/console",
            rustix::fs::FileType::RegularFile,
            Mode::from_raw_mode(0o666),
            0,
        ) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        rustix::mount::mount_bind(name, "/dev/console")?;
        Ok(())
    }

    fn send_fd(&self, to: BorrowedFd<'_>, fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<()> {
        pty::send(to, fd, data)
    }

    fn set_controlling_terminal(&self) -> io::Result<()> {
        // SAFETY: TIOCSCTTY on fd 0 takes an int argument (0: do not steal another session's terminal).
        if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn join_namespace(&self, path: &Path, nstype: i32) -> io::Result<()> {
        let f = File::open(path)?;
        // SAFETY: setns on an fd we opened; nstype names the kind we expect it to be.
        if unsafe { libc::setns(f.as_raw_fd(), nstype) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn unshare_cgroup_namespace(&self) -> io::Result<()> {
        // SAFETY: a new cgroup namespace changes nothing this process holds (no fds or memory depend on it).
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWCGROUP) }?;
        Ok(())
    }

    fn new_time_namespace(&self, offsets: &str) -> io::Result<()> {
        // SAFETY: a time namespace for children changes nothing this process holds; its own clocks stay.
        unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWTIME) }?;
        self.write_file(Path::new("/proc/self/timens_offsets"), offsets)
    }

    fn set_hostname(&self, name: &str) -> io::Result<()> {
        rustix::system::sethostname(name.as_bytes())?;
        Ok(())
    }

    fn prepare_rootfs(&self, rootfs: &Path) -> io::Result<OwnedFd> {
        // No mount event of ours may reach the host (rslave), and the rootfs becomes a mount of its own so it can
        // be pivoted to.
        rustix::mount::mount_change(
            "/",
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
        )?;
        rustix::mount::mount_bind_recursive(rootfs, rootfs)?;
        Ok(rustix::fs::open(
            rootfs,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?)
    }

    fn private_mounts(&self) -> io::Result<OwnedFd> {
        // rslave as for a rootfs: the host's later mounts still reach the task, none of its reach the host.
        rustix::mount::mount_change(
            "/",
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
        )?;
        Ok(rustix::fs::open(
            "/",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?)
    }

    fn detach_source(&self, m: &Planned) -> io::Result<Option<OwnedFd>> {
        mounts::detach_source(m)
    }

    fn mount(
        &self,
        root: BorrowedFd<'_>,
        m: &Planned,
        detached: Option<OwnedFd>,
        cgroups: &[(PathBuf, PathBuf)],
    ) -> io::Result<()> {
        mounts::mount_one(root, m, detached, cgroups)
    }

    fn make_device(&self, root: BorrowedFd<'_>, n: &Node) -> io::Result<()> {
        dev::make(root, n)
    }

    fn dev_links(&self, root: BorrowedFd<'_>) -> io::Result<()> {
        dev::links(root)
    }

    fn pivot_root(&self, rootfs: &Path) -> io::Result<()> {
        // runc's way: pivot onto the same directory, then detach the old root that now sits on top of it.
        let new_root = rustix::fs::open(
            rootfs,
            OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::process::fchdir(&new_root)?;
        rustix::process::pivot_root(".", ".")?;
        // The old root must not propagate its unmount to the host.
        rustix::mount::mount_change(
            "/",
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
        )?;
        rustix::mount::unmount("/", UnmountFlags::DETACH)?;
        rustix::process::chdir("/")?;
        Ok(())
    }

    fn move_root(&self, rootfs: &Path) -> io::Result<()> {
        // A full procfs or sysfs of the host left in the namespace would let the task mount another one (the
        // kernel allows that when one is already fully visible): detach them, as runc does.
        let info = std::fs::read_to_string("/proc/self/mountinfo")?;
        for (point, fstype, root) in info.lines().filter_map(mountinfo_fields) {
            let host = root == "/" && matches!(fstype, "proc" | "sysfs");
            if host && !Path::new(&point).starts_with(rootfs) {
                match rustix::mount::unmount(point.as_str(), UnmountFlags::DETACH) {
                    Ok(()) | Err(rustix::io::Errno::INVAL) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        rustix::process::chdir(rootfs)?;
        rustix::mount::mount_move(".", "/")?;
        rustix::process::chroot(".")?;
        rustix::process::chdir("/")?;
        Ok(())
    }

    fn join_session_keyring(&self, name: &CStr) -> io::Result<()> {
        super::keyring::join_new(name)
    }

    fn readonly_path(&self, path: &str) -> io::Result<()> {
        protect::readonly(path)
    }

    fn mask_path(&self, path: &str) -> io::Result<()> {
        protect::mask(path)
    }

    fn readonly_root(&self) -> io::Result<()> {
        protect::readonly_root()
    }

    fn set_rlimit(&self, resource: Resource, limit: Rlimit) -> io::Result<()> {
        rustix::process::setrlimit(resource, limit)?;
        Ok(())
    }

    fn chdir(&self, dir: &Path) -> io::Result<()> {
        rustix::process::chdir(dir)?;
        Ok(())
    }

    fn set_groups(&self, gids: &[u32]) -> io::Result<()> {
        let gids: Vec<Gid> = gids.iter().map(|g| Gid::from_raw(*g)).collect();
        rustix::thread::set_thread_groups(&gids)?;
        Ok(())
    }

    fn set_ids(&self, uid: u32, gid: u32) -> io::Result<()> {
        // The permitted set survives the switch away from root only with KEEPCAPS; the capabilities step then
        // trims it to what the spec grants.
        rustix::thread::set_keep_capabilities(true)?;
        let g = Gid::from_raw(gid);
        rustix::thread::set_thread_res_gid(g, g, g)?;
        let u = Uid::from_raw(uid);
        rustix::thread::set_thread_res_uid(u, u, u)?;
        if uid != 0 {
            // A non-root uid clears the effective set; what is permitted becomes effective again.
            caps::reset_effective()?;
        }
        rustix::thread::set_keep_capabilities(false)?;
        Ok(())
    }

    fn close_on_exec_from(&self, first: u32) -> io::Result<()> {
        const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;
        // SAFETY: close_range only changes flags of this process's fds.
        let r =
            unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn reset_effective_caps(&self) -> io::Result<()> {
        caps::reset_effective()
    }

    fn set_capabilities(&self, c: &CapPlan) -> io::Result<()> {
        caps::apply(c)
    }

    fn set_no_new_privs(&self) -> io::Result<()> {
        rustix::thread::set_no_new_privs(true)?;
        Ok(())
    }

    fn set_personality(&self, persona: u64) -> io::Result<()> {
        // SAFETY: personality(2) only changes this process's execution domain.
        match unsafe { libc::personality(persona as libc::c_ulong) } {
            -1 => Err(io::Error::last_os_error()),
            _ => Ok(()),
        }
    }

    fn reset_signals(&self) -> io::Result<()> {
        super::hook::default_signals();
        Ok(())
    }

    fn load_seccomp(&self, filter: &Filter) -> io::Result<()> {
        seccomp::install(filter)
    }

    fn run_hook(&self, hook: &HookCmd, stdin: &[u8]) -> io::Result<i32> {
        super::hook::run(hook, stdin)
    }

    fn exec_reaped(
        &self,
        status_fd: i32,
        program: &CStr,
        args: &[CString],
        env: &[CString],
    ) -> io::Result<io::Error> {
        super::reaper::exec(status_fd, program, args, env)
    }

    fn exec(&self, program: &CStr, args: &[CString], env: &[CString]) -> io::Error {
        if super::in_place::is_own_pause(program, args) {
            super::in_place::pause(args);
        }
        let (argv, envp) = (super::hook::pointers(args), super::hook::pointers(env));
        // SAFETY: NUL-terminated arrays of pointers into CStrings that outlive the call.
        unsafe { libc::execve(program.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        io::Error::last_os_error()
    }
}

/// A mountinfo line's mount point (octal escapes decoded), filesystem type and root within its filesystem.
fn mountinfo_fields(line: &str) -> Option<(String, &str, &str)> {
    let (left, right) = line.split_once(" - ")?;
    let f: Vec<&str> = left.split(' ').collect();
    let fstype = right.split(' ').next()?;
    Some((
        ucr_isolators::cgroups::unescape_mountinfo(f.get(4)?),
        fstype,
        f.get(3)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_points_are_unescaped() {
        let line = "36 25 0:32 / /mnt/a\\040b rw,relatime shared:1 - proc proc rw";
        let (point, fstype, root) = mountinfo_fields(line).expect("fields");
        assert_eq!((point.as_str(), fstype, root), ("/mnt/a b", "proc", "/"));
    }
}
