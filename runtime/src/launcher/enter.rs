//! Entering a running container to run one more program in it (a COMMAND health check; later `ucr exec`): the
//! container's cgroups and namespaces, then the task's identity from its plan — user, groups, rlimits,
//! capabilities, no_new_privs, seccomp, working directory and environment — as `docker exec` and runc's `exec`
//! do. Two steps, because a pid namespace only applies to children: [`join`] in a process forked from the
//! single-threaded supervisor, then, in a child of that process, [`exec`].

use std::ffi::CString;
use std::os::fd::AsFd;
use std::path::PathBuf;

use super::error::Failure;
use super::init::{identity, lock_down, lookup, make_terminal, step, with_home, Stdio};
use super::os::Launcher;
use super::plan::Plan;

/// The namespaces a process joins, in an order that works: the container's user namespace (when it has one;
/// joining one's own fails) after those the host's root may still have to join with its own rights (a network
/// namespace given by path belongs to the host's), and the mount namespace last, since after it the host's
/// `/proc/<pid>/ns` files may no longer be reachable.
pub const NAMESPACES: [(&str, i32); 8] = [
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("pid", libc::CLONE_NEWPID),
    ("time", libc::CLONE_NEWTIME),
    ("user", libc::CLONE_NEWUSER),
    ("mnt", libc::CLONE_NEWNS),
];

/// What to run inside: argv, the program to look up (a path, or a name in the environment's PATH), and
/// variables over the task's environment.
#[derive(Clone, Debug)]
pub struct Entry {
    pub program: String,
    pub args: Vec<CString>,
    pub env: Vec<(String, String)>,
}

/// Join the cgroups of the container (while the host's cgroup filesystem is still in view) and the namespaces
/// of its init `init_pid`. The caller forks next; the child runs [`exec`].
pub fn join(os: &dyn Launcher, plan: &Plan, init_pid: i32) -> Result<(), Failure> {
    for (_, dir) in &plan.cgroups.dirs {
        let procs = dir.join("cgroup.procs");
        step(
            &format!("cgroup {}", procs.display()),
            os.write_file(&procs, "0"),
        )?;
    }
    for (name, nstype) in NAMESPACES {
        // Joining one's own user namespace fails; a time namespace is joined only when the container has one.
        if (nstype == libc::CLONE_NEWUSER && !plan.user_ns)
            || (nstype == libc::CLONE_NEWTIME && !plan.time_ns)
        {
            continue;
        }
        let path = PathBuf::from(format!("/proc/{init_pid}/ns/{name}"));
        step(
            &format!("namespace {}", path.display()),
            os.join_namespace(&path, nstype),
        )?;
    }
    Ok(())
}

/// In the joined namespaces: a session of its own, `stdio` (a terminal is made in the container's devpts, which
/// the joined mount namespace shows), the task's identity, then exec `entry`. Returns only on failure.
pub fn exec(os: &dyn Launcher, plan: &Plan, entry: &Entry, stdio: Stdio) -> Failure {
    let run = || -> Result<std::convert::Infallible, Failure> {
        step("setsid", os.setsid())?;
        match stdio {
            Stdio::Fds(fds) => step("stdio", os.set_stdio(fds))?,
            Stdio::Terminal { to, size } => make_terminal(os, to.as_fd(), size, false)?,
        }
        identity(os, plan)?;
        let env = with_home(os, plan, merged(&plan.env, &entry.env));
        let program = lookup(os, &entry.program, &plan.env)?;
        lock_down(os, plan)?;
        let e = os.exec(&program, &entry.args, &env);
        Err(Failure::exec(&program.to_string_lossy(), e))
    };
    match run() {
        Ok(never) => match never {},
        Err(f) => f,
    }
}

/// `base` (`NAME=value` lines) with `over` replacing or adding variables.
fn merged(base: &[String], over: &[(String, String)]) -> Vec<String> {
    let mut env: Vec<String> = base
        .iter()
        .filter(|e| {
            let name = e.split('=').next().unwrap_or("");
            !over.iter().any(|(n, _)| n == name)
        })
        .cloned()
        .collect();
    env.extend(over.iter().map(|(n, v)| format!("{n}={v}")));
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launcher::recording::tests::{planned, spec};
    use crate::launcher::recording::Recording;

    fn plan() -> Plan {
        planned(&spec(false, false))
    }

    #[test]
    fn joins_cgroups_before_namespaces_and_mount_last() {
        let os = Recording::default();
        let mut p = plan();
        p.cgroups.dirs = vec![(
            PathBuf::from("/sys/fs/cgroup/memory"),
            PathBuf::from("/sys/fs/cgroup/memory/ucr/x"),
        )];
        join(&os, &p, 42).map_err(|f| f.to_string()).expect("join");
        let calls = os.calls.borrow().clone();
        assert_eq!(calls[0], "write /sys/fs/cgroup/memory/ucr/x/cgroup.procs 0");
        assert!(calls[1].starts_with("setns /proc/42/ns/cgroup"));
        assert!(calls
            .last()
            .expect("calls")
            .starts_with("setns /proc/42/ns/mnt"));
        assert_eq!(calls.len(), 7);
    }

    #[test]
    fn joins_the_user_namespace_after_the_hosts_and_before_mount() {
        let os = Recording::default();
        let mut p = plan();
        p.user_ns = true;
        join(&os, &p, 42).map_err(|f| f.to_string()).expect("join");
        let calls = os.only(&["setns"]);
        assert_eq!(calls.len(), 7);
        assert!(calls[5].starts_with("setns /proc/42/ns/user"), "{calls:?}");
        assert!(calls[6].starts_with("setns /proc/42/ns/mnt"), "{calls:?}");
    }

    #[test]
    fn joins_a_time_namespace_only_when_the_container_has_one_before_its_user_namespace() {
        let os = Recording::default();
        let mut p = plan();
        (p.user_ns, p.time_ns) = (true, true);
        join(&os, &p, 42).map_err(|f| f.to_string()).expect("join");
        let calls = os.only(&["setns"]);
        assert_eq!(calls.len(), 8);
        assert!(calls[5].starts_with("setns /proc/42/ns/time"), "{calls:?}");
        assert!(calls[6].starts_with("setns /proc/42/ns/user"), "{calls:?}");
    }

    #[test]
    fn execs_with_the_tasks_identity_and_the_entrys_env_over_the_tasks() {
        let os = Recording {
            executables: vec![PathBuf::from("/bin/sh")],
            ..Recording::default()
        };
        let mut p = plan();
        p.uid = 1000;
        p.gid = 1000;
        p.env = vec!["PATH=/bin".into(), "A=task".into(), "HOME=/home/u".into()];
        let entry = Entry {
            program: "sh".into(),
            args: vec![c"sh".into(), c"-c".into(), c"true".into()],
            env: vec![("A".into(), "check".into())],
        };
        let stdio = || std::os::fd::OwnedFd::from(std::fs::File::open("/dev/null").expect("null"));
        let f = exec(&os, &p, &entry, Stdio::Fds([stdio(), stdio(), stdio()]));
        assert!(f.to_string().contains("exec /bin/sh"), "{f}");
        let ids = os.only(&["setids", "exec"]);
        assert_eq!(ids[0], "setids 1000 1000");
        assert!(
            ids[1].contains("A=check") && !ids[1].contains("A=task"),
            "{ids:?}"
        );
        assert!(ids[1].contains("HOME=/home/u"), "{ids:?}");
    }
}
