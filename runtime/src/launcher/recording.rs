//! A recording `Launcher` (tests only): every call is written down as one line and succeeds, except those the
//! test makes fail, so the init's decisions — which steps run, with which values, in which order — are checked
//! without root, namespaces or a fork (youki's `Syscall` trait and its test helper are the model).

use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::process::{Resource, Rlimit};

use super::caps::CapPlan;
use super::dev::Node;
use super::mounts::Planned;
use super::os::Launcher;
use super::plan::HookCmd;
use super::seccomp::Filter;

#[derive(Default)]
pub struct Recording {
    pub calls: RefCell<Vec<String>>,
    /// Calls (by their first word) that fail with this error kind.
    pub failing: Vec<(&'static str, io::ErrorKind)>,
    /// Paths `is_executable` says yes to.
    pub executables: Vec<PathBuf>,
    /// The container's `/etc/passwd`.
    pub passwd: Option<String>,
}

impl Recording {
    fn call(&self, line: String) -> io::Result<()> {
        let word = line.split(' ').next().unwrap_or("").to_string();
        self.calls.borrow_mut().push(line);
        match self.failing.iter().find(|(w, _)| *w == word) {
            Some((_, kind)) => Err(io::Error::new(*kind, "recorded failure")),
            None => Ok(()),
        }
    }

    /// The calls whose first word is one of `words`, in order.
    pub fn only(&self, words: &[&str]) -> Vec<String> {
        self.calls
            .borrow()
            .iter()
            .filter(|c| words.contains(&c.split(' ').next().unwrap_or("")))
            .cloned()
            .collect()
    }
}

impl Launcher for Recording {
    fn write_file(&self, path: &Path, value: &str) -> io::Result<()> {
        self.call(format!("write {} {value}", path.display()))
    }
    fn read_file(&self, path: &Path) -> io::Result<String> {
        self.call(format!("read {}", path.display()))?;
        self.passwd
            .clone()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
    fn is_executable(&self, path: &Path) -> bool {
        self.executables.iter().any(|p| p == path)
    }
    fn setsid(&self) -> io::Result<()> {
        self.call("setsid".into())
    }
    fn set_stdio(&self, _stdio: [OwnedFd; 3]) -> io::Result<()> {
        self.call("stdio".into())
    }
    fn join_namespace(&self, path: &Path, nstype: i32) -> io::Result<()> {
        self.call(format!("setns {} {nstype:#x}", path.display()))
    }
    fn unshare_cgroup_namespace(&self) -> io::Result<()> {
        self.call("unshare cgroup".into())
    }
    fn new_time_namespace(&self, offsets: &str) -> io::Result<()> {
        self.call(format!("unshare time {offsets}"))
    }
    fn set_hostname(&self, name: &str) -> io::Result<()> {
        self.call(format!("hostname {name}"))
    }
    fn prepare_rootfs(&self, rootfs: &Path) -> io::Result<OwnedFd> {
        self.call(format!("rootfs {}", rootfs.display()))?;
        // Any fd stands for the rootfs: nothing is resolved through it here.
        Ok(std::fs::File::open("/dev/null")?.into())
    }
    fn detach_source(&self, _: &Planned) -> io::Result<Option<OwnedFd>> {
        Ok(None)
    }
    fn mount(
        &self,
        _: BorrowedFd<'_>,
        m: &Planned,
        _: Option<OwnedFd>,
        _: &[(PathBuf, PathBuf)],
    ) -> io::Result<()> {
        self.call(format!("mount {}", m.dest.display()))
    }
    fn make_device(&self, _: BorrowedFd<'_>, n: &Node) -> io::Result<()> {
        self.call(format!("mknod {}", n.path.display()))
    }
    fn dev_links(&self, _: BorrowedFd<'_>) -> io::Result<()> {
        self.call("devlinks".into())
    }
    fn open_pty(&self, size: Option<(u16, u16)>) -> io::Result<(OwnedFd, OwnedFd, CString)> {
        self.call(format!("pty {size:?}"))?;
        let null = || std::fs::File::open("/dev/null").map(OwnedFd::from);
        Ok((null()?, null()?, c"/dev/pts/0".into()))
    }
    fn mount_console(&self, name: &CStr) -> io::Result<()> {
        self.call(format!("console {}", name.to_string_lossy()))
    }
    fn send_fd(&self, _: BorrowedFd<'_>, _: BorrowedFd<'_>, data: &[u8]) -> io::Result<()> {
        self.call(format!("send {}", String::from_utf8_lossy(data)))
    }
    fn set_controlling_terminal(&self) -> io::Result<()> {
        self.call("ctty".into())
    }
    fn private_mounts(&self) -> io::Result<OwnedFd> {
        self.call("private_mounts".to_string())?;
        Ok(std::fs::File::open("/dev/null")?.into())
    }

    fn pivot_root(&self, rootfs: &Path) -> io::Result<()> {
        self.call(format!("pivot_root {}", rootfs.display()))
    }
    fn move_root(&self, rootfs: &Path) -> io::Result<()> {
        self.call(format!("move_root {}", rootfs.display()))
    }
    fn join_session_keyring(&self, name: &CStr) -> io::Result<()> {
        self.call(format!("keyring {}", name.to_string_lossy()))
    }
    fn readonly_path(&self, path: &str) -> io::Result<()> {
        self.call(format!("readonly {path}"))
    }
    fn mask_path(&self, path: &str) -> io::Result<()> {
        self.call(format!("mask {path}"))
    }
    fn readonly_root(&self) -> io::Result<()> {
        self.call("readonly_root".into())
    }
    fn set_rlimit(&self, resource: Resource, limit: Rlimit) -> io::Result<()> {
        self.call(format!(
            "rlimit {resource:?} {:?} {:?}",
            limit.current, limit.maximum
        ))
    }
    fn chdir(&self, dir: &Path) -> io::Result<()> {
        self.call(format!("chdir {}", dir.display()))
    }
    fn set_groups(&self, gids: &[u32]) -> io::Result<()> {
        self.call(format!("setgroups {gids:?}"))
    }
    fn set_ids(&self, uid: u32, gid: u32) -> io::Result<()> {
        self.call(format!("setids {uid} {gid}"))
    }
    fn close_on_exec_from(&self, first: u32) -> io::Result<()> {
        self.call(format!("cloexec {first}"))
    }
    fn reset_effective_caps(&self) -> io::Result<()> {
        self.call("caps reset".into())
    }
    fn set_capabilities(&self, c: &CapPlan) -> io::Result<()> {
        let n = |s: &Option<caps::CapsHashSet>| s.as_ref().map_or(-1, |s| s.len() as i64);
        self.call(format!(
            "caps set bounding={} effective={}",
            n(&c.bounding),
            n(&c.effective)
        ))
    }
    fn set_no_new_privs(&self) -> io::Result<()> {
        self.call("no_new_privs".into())
    }
    fn set_personality(&self, persona: u64) -> io::Result<()> {
        self.call(format!("personality {persona:#x}"))
    }
    fn reset_signals(&self) -> io::Result<()> {
        self.call("signals".into())
    }
    fn load_seccomp(&self, _: &Filter) -> io::Result<()> {
        self.call("seccomp".into())
    }
    fn run_hook(&self, hook: &HookCmd, stdin: &[u8]) -> io::Result<i32> {
        self.call(format!(
            "hook {} {}",
            hook.path.to_string_lossy(),
            String::from_utf8_lossy(stdin)
        ))
        .map(|()| 0)
    }

    fn exec_reaped(
        &self,
        status_fd: i32,
        program: &CStr,
        args: &[CString],
        env: &[CString],
    ) -> io::Result<io::Error> {
        self.call(format!("reaper {status_fd}"))?;
        Ok(self.exec(program, args, env))
    }

    fn exec(&self, program: &CStr, args: &[CString], env: &[CString]) -> io::Error {
        let show = |v: &[CString]| {
            v.iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(",")
        };
        let _ = self.call(format!(
            "exec {} [{}] [{}]",
            program.to_string_lossy(),
            show(args),
            show(env)
        ));
        io::Error::other("recorded exec")
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::fs::File;
    use std::io::{Read, Write};

    use oci_spec::runtime::{
        LinuxBuilder, LinuxNamespaceBuilder, LinuxNamespaceType, MountBuilder, PosixRlimitBuilder,
        PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
    };

    use super::*;
    use crate::launcher::init::{self, Stdio};
    use crate::launcher::plan::{plan, Cgroups, Plan};

    pub(crate) fn spec(nnp: bool, readonly_root: bool) -> Spec {
        let ns = |t| LinuxNamespaceBuilder::default().typ(t).build().expect("ns");
        let mut process = ProcessBuilder::default()
            .user(
                UserBuilder::default()
                    .uid(1000u32)
                    .gid(100u32)
                    .additional_gids(vec![10u32])
                    .build()
                    .expect("user"),
            )
            .args(vec!["sh".to_string(), "-c".into(), "true".into()])
            .env(vec!["PATH=/usr/bin:/bin".to_string()])
            .cwd("/work")
            .no_new_privileges(nnp)
            .build()
            .expect("process");
        process.set_capabilities(None);
        process.set_rlimits(Some(vec![PosixRlimitBuilder::default()
            .typ(PosixRlimitType::RlimitNofile)
            .soft(1024u64)
            .hard(u64::MAX)
            .build()
            .expect("rlimit")]));
        let mut sysctl = std::collections::HashMap::new();
        sysctl.insert("net.ipv4.ip_forward".to_string(), "1".to_string());
        SpecBuilder::default()
            .process(process)
            .root(
                RootBuilder::default()
                    .path("/r/rootfs")
                    .readonly(readonly_root)
                    .build()
                    .expect("root"),
            )
            .hostname("web")
            .mounts(vec![MountBuilder::default()
                .destination("/proc")
                .typ("proc")
                .source("proc")
                .build()
                .expect("mount")])
            .linux(
                LinuxBuilder::default()
                    .namespaces(vec![
                        ns(LinuxNamespaceType::Mount),
                        ns(LinuxNamespaceType::Uts),
                        ns(LinuxNamespaceType::Pid),
                    ])
                    .masked_paths(vec!["/proc/kcore".to_string()])
                    .readonly_paths(vec!["/proc/sys".to_string()])
                    .sysctl(sysctl)
                    .build()
                    .expect("linux"),
            )
            .build()
            .expect("spec")
    }

    pub(crate) fn planned(s: &Spec) -> Plan {
        let cgroups = Cgroups {
            dirs: Vec::new(),
            join: vec![PathBuf::from("/sys/fs/cgroup/memory/ucr/c/tasks")],
        };
        plan(s, None, cgroups, Path::new("/nonexistent")).expect("plan")
    }

    /// Runs the init against `os` with "go" already sent; returns its failure and what it reported.
    fn run(os: &Recording, p: &Plan) -> (String, Vec<u8>) {
        let null = || OwnedFd::from(File::open("/dev/null").expect("null"));
        run_with(os, p, Stdio::Fds([null(), null(), null()]))
    }

    fn run_with(os: &Recording, p: &Plan, stdio: Stdio) -> (String, Vec<u8>) {
        let (mut go_r, mut go_w) = pipe();
        let (mut rep_r, mut rep_w) = pipe();
        go_w.write_all(b"G").expect("go");
        let f = init::run(os, p, None, &mut go_r, &mut rep_w, stdio, &mut []);
        drop(rep_w);
        let mut reported = Vec::new();
        rep_r.read_to_end(&mut reported).expect("report");
        (f.to_string(), reported)
    }

    fn pipe() -> (File, File) {
        let (r, w) = rustix::pipe::pipe().expect("pipe");
        (File::from(r), File::from(w))
    }

    #[test]
    fn the_init_follows_runcs_order_and_execs_what_the_spec_says() {
        let os = Recording {
            executables: vec![PathBuf::from("/bin/sh")],
            passwd: Some("app:x:1000:100::/home/app:/bin/sh\n".into()),
            ..Recording::default()
        };
        let (failure, reported) = run(&os, &planned(&spec(true, true)));
        assert_eq!(reported, b"R", "ready before exec");
        assert!(
            failure.starts_with("exec /bin/sh: recorded exec"),
            "{failure}"
        );
        let calls = os.calls.borrow().clone();
        let pos = |prefix: &str| {
            calls
                .iter()
                .position(|c| c.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix:?} in {calls:#?}"))
        };
        // The cgroup first, the exec last; mounts before pivot_root, protections after it.
        assert_eq!(pos("write /sys/fs/cgroup/memory/ucr/c/tasks 0"), 0);
        assert!(pos("hostname web") < pos("rootfs /r/rootfs"));
        assert!(pos("mount /proc") < pos("mknod /dev/null"));
        assert!(pos("devlinks") < pos("pivot_root /r/rootfs"));
        assert!(pos("pivot_root") < pos("write /proc/sys/net/ipv4/ip_forward 1"));
        assert!(pos("write /proc/sys/net/ipv4/ip_forward") < pos("readonly /proc/sys"));
        assert!(pos("mask /proc/kcore") < pos("readonly_root"));
        // Identity: groups before ids, ids before the capability reset; no_new_privs then seccomp, last.
        assert!(pos("rlimit Nofile Some(1024) None") < pos("setgroups [10]"));
        assert!(pos("setgroups [10]") < pos("setids 1000 100"));
        assert!(pos("setids") < pos("cloexec 3"));
        assert!(pos("cloexec 3") < pos("caps reset"));
        assert!(
            os.only(&["caps"]).iter().all(|c| c == "caps reset"),
            "no capability set in the spec"
        );
        assert!(pos("caps reset") < pos("no_new_privs"));
        assert_eq!(
            calls
                .last()
                .map(|c| c.starts_with("exec /bin/sh [sh,-c,true]")),
            Some(true)
        );
        // HOME from the container's passwd, for uid 1000.
        assert!(
            calls.last().is_some_and(|c| c.contains("HOME=/home/app")),
            "{calls:?}"
        );
    }

    #[test]
    fn a_reaper_is_forked_after_everything_else_and_right_before_the_exec() {
        let os = Recording {
            executables: vec![PathBuf::from("/bin/sh")],
            ..Recording::default()
        };
        let mut plan = planned(&spec(true, true));
        plan.reaper = Some(9);
        let (failure, reported) = run(&os, &plan);
        assert_eq!(reported, b"R", "ready before the fork");
        assert!(failure.starts_with("exec /bin/sh"), "{failure}");
        let calls = os.calls.borrow().clone();
        let n = calls.len();
        assert!(n >= 3, "{calls:?}");
        assert_eq!(
            calls[n - 3],
            "no_new_privs",
            "the lock-down, then the fork: {calls:?}"
        );
        assert_eq!(calls[n - 2], "reaper 9");
        assert!(calls[n - 1].starts_with("exec /bin/sh"), "{calls:?}");
        // Without one (the OCI mode, a pod's pause) the init execs the task itself.
        let os = Recording {
            executables: vec![PathBuf::from("/bin/sh")],
            ..Recording::default()
        };
        run(&os, &planned(&spec(true, true)));
        assert!(os.only(&["reaper"]).is_empty());
    }

    #[test]
    fn linux32_sets_the_personality_before_the_ids_and_flags_are_refused() {
        use oci_spec::runtime::{LinuxPersonalityBuilder, LinuxPersonalityDomain};
        let with = |flags: Vec<String>| {
            let mut s = spec(false, false);
            let mut l = s.linux().clone().expect("linux");
            let p = LinuxPersonalityBuilder::default()
                .domain(LinuxPersonalityDomain::PerLinux32)
                .flags(flags)
                .build()
                .expect("personality");
            l.set_personality(Some(p));
            s.set_linux(Some(l));
            s
        };
        let os = Recording {
            executables: vec![PathBuf::from("/bin/sh")],
            ..Recording::default()
        };
        run(&os, &planned(&with(Vec::new())));
        let calls = os.calls.borrow().clone();
        let pos = |c: &str| calls.iter().position(|x| x.starts_with(c));
        assert!(pos("personality 0x8") < pos("setids"), "{calls:#?}");
        assert!(pos("personality 0x8").is_some(), "{calls:#?}");
        let cgroups = Cgroups {
            dirs: Vec::new(),
            join: Vec::new(),
        };
        let flagged = with(vec!["SHORT_INODE".into()]);
        let Err(e) = plan(&flagged, None, cgroups, Path::new("/x")) else {
            panic!("personality flags were accepted");
        };
        assert!(e.to_string().contains("linux.personality.flags"), "{e}");
    }

    #[test]
    fn missing_protected_paths_are_skipped_and_other_failures_name_the_step() {
        let os = Recording {
            failing: vec![("mask", io::ErrorKind::NotFound)],
            executables: vec![PathBuf::from("/bin/sh")],
            ..Recording::default()
        };
        let (failure, _) = run(&os, &planned(&spec(false, false)));
        assert!(
            failure.starts_with("exec"),
            "a missing masked path is skipped: {failure}"
        );
        // Without no_new_privs the filter (none here) would go before the capabilities; no readonly root.
        assert!(os.only(&["readonly_root", "no_new_privs"]).is_empty());

        let os = Recording {
            failing: vec![("setids", io::ErrorKind::PermissionDenied)],
            ..Recording::default()
        };
        let (failure, reported) = run(&os, &planned(&spec(false, false)));
        assert!(failure.starts_with("uid/gid: "), "{failure}");
        assert!(reported.is_empty(), "never ready");
        assert!(
            os.only(&["exec", "caps"]).is_empty(),
            "nothing after the failed step"
        );

        // A program nowhere in PATH fails before "ready", naming it.
        let os = Recording::default();
        let (failure, reported) = run(&os, &planned(&spec(false, false)));
        assert!(failure.contains("exec sh: not found in PATH"), "{failure}");
        assert!(reported.is_empty());
    }

    #[test]
    fn a_directory_only_root_may_enter_is_entered_again_after_the_uid_switch() {
        let os = Recording {
            failing: vec![("chdir", io::ErrorKind::PermissionDenied)],
            executables: vec![PathBuf::from("/bin/sh")],
            ..Recording::default()
        };
        let (failure, _) = run(&os, &planned(&spec(false, false)));
        // The retry fails the same way here: the failure names the working directory.
        assert!(failure.starts_with("cwd /work: "), "{failure}");
        let calls = os.only(&["chdir", "setids"]);
        assert_eq!(calls, ["chdir /work", "setids 1000 100", "chdir /work"]);
    }

    #[test]
    fn on_the_host_root_only_the_mounts_are_made_and_nothing_is_pivoted() {
        let exe = Recording {
            executables: vec![PathBuf::from("/bin/sh")],
            ..Recording::default()
        };
        let mut s = spec(false, false);
        s.set_root(None);
        let (failure, _) = run(&exe, &planned(&s));
        assert!(failure.starts_with("exec"), "{failure}");
        let calls = exe.only(&[
            "private_mounts",
            "mount",
            "rootfs",
            "mknod",
            "devlinks",
            "pivot_root",
        ]);
        assert_eq!(calls, ["private_mounts", "mount /proc"]);
        // No mount namespace: no mounts may be asked for, and none are made.
        let ns = |t| LinuxNamespaceBuilder::default().typ(t).build().expect("ns");
        if let Some(l) = s.linux_mut() {
            l.set_namespaces(Some(vec![ns(LinuxNamespaceType::Uts)]));
        }
        let e = plan(&s, None, Cgroups::default(), Path::new("/nonexistent"))
            .err()
            .map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("mount namespace")));
        s.set_mounts(Some(Vec::new()));
        if let Some(l) = s.linux_mut() {
            l.set_masked_paths(None).set_readonly_paths(None);
        }
        let (failure, _) = run(&exe, &planned(&s));
        assert!(failure.starts_with("exec"), "{failure}");
        assert!(
            exe.only(&["private_mounts"]).len() == 1,
            "only the first run's"
        );
    }

    #[test]
    fn a_terminal_is_made_in_the_containers_devpts_after_pivot_root_and_its_master_sent() {
        let os = Recording {
            executables: vec![PathBuf::from("/bin/sh")],
            ..Recording::default()
        };
        let (_mine, to) = crate::launcher::pty::channel().expect("channel");
        let stdio = Stdio::Terminal {
            to,
            size: Some((24, 80)),
        };
        let (failure, _) = run_with(&os, &planned(&spec(false, false)), stdio);
        assert!(failure.starts_with("exec"), "{failure}");
        let calls = os.calls.borrow().clone();
        let at = |c: &str| calls.iter().position(|x| x.starts_with(c));
        let order = [
            "setsid",
            "pivot_root",
            "pty Some((24, 80))",
            "console /dev/pts/0",
            "stdio",
            "ctty",
            "send /dev/pts/0",
        ];
        let seen: Vec<_> = order.iter().map(|c| at(c)).collect();
        assert!(
            seen.iter().all(Option::is_some) && seen.windows(2).all(|w| w[0] < w[1]),
            "{calls:?}"
        );
        assert_eq!(os.only(&["stdio"]).len(), 1, "{calls:?}");
    }

    #[test]
    fn a_terminal_without_a_rootfs_has_no_dev_console_to_bind() {
        let os = Recording {
            executables: vec![PathBuf::from("/bin/sh")],
            ..Recording::default()
        };
        let mut s = spec(false, false);
        s.set_root(None);
        let (_mine, to) = crate::launcher::pty::channel().expect("channel");
        let stdio = Stdio::Terminal { to, size: None };
        let (failure, _) = run_with(&os, &planned(&s), stdio);
        assert!(failure.starts_with("exec"), "{failure}");
        assert_eq!(os.only(&["pty", "console", "ctty"]).len(), 2);
    }
}
