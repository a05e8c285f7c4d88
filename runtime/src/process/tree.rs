//! The processes of one exec'd session, found and signalled from the host: a root process, every descendant of
//! it, and every process of a session that one of them leads. The agent's LAUNCH_NESTED_CONTAINER_SESSION runs
//! `ucr exec` as such a root; when its client goes away, everything it started in the container must end — the
//! command, a shell's jobs (each in a process group of its own, so a group kill misses them), and what the
//! command left behind when it was reparented to the container's init (the parent chain is broken then, but the
//! session id stays).
//!
//! Like Mesos's `os::killtree`, members are stopped as they are found, so none forks a new one out of sight
//! between the scan and the kill, then all are killed together. Pids are the host's (this reads the host's
//! `/proc`); the caller must make sure `root` is still its unreaped child, so the number is not reused.

use std::collections::BTreeSet;
use std::io;

/// One process as `/proc/<pid>/stat` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Proc {
    pid: i32,
    ppid: i32,
    sid: i32,
}

/// Kill (SIGKILL) `root`, its descendants and the sessions they lead; returns how many processes were
/// killed. A root that is already gone kills nothing.
pub fn kill(root: i32) -> io::Result<usize> {
    let mut members: BTreeSet<i32> = BTreeSet::new();
    // A few rounds: each stops what it found; a fork that raced the previous round is found by the next.
    for _ in 0..16 {
        let procs = scan()?;
        let found = members_of(root, &procs, &members);
        let new: Vec<i32> = found.difference(&members).copied().collect();
        if new.is_empty() {
            break;
        }
        for pid in &new {
            send(*pid, libc::SIGSTOP);
        }
        members.extend(new);
    }
    for pid in &members {
        send(*pid, libc::SIGKILL);
    }
    Ok(members.len())
}

/// Send `signal` to the members of `root`'s tree that run inside a container (another pid namespace than this
/// process's): the command and what it started, not the `ucr exec` processes on the host side. Returns how
/// many were signalled.
pub fn signal_inside(root: i32, signal: i32) -> io::Result<usize> {
    let procs = scan()?;
    let own = pid_ns("self");
    let mut n = 0;
    for pid in members_of(root, &procs, &BTreeSet::new()) {
        if own.is_some() && pid_ns(&pid.to_string()) != own {
            send(pid, signal);
            n += 1;
        }
    }
    Ok(n)
}

/// Every process that is `root`, a descendant of a member, or in a session a member leads (to a fixed point),
/// starting from `known`.
fn members_of(root: i32, procs: &[Proc], known: &BTreeSet<i32>) -> BTreeSet<i32> {
    let mut set = known.clone();
    if procs.iter().any(|p| p.pid == root) {
        set.insert(root);
    }
    loop {
        // A session is the tree's when its leader (sid == pid) is a member: never the caller's own session,
        // whose leader is not in the tree.
        let leaders: BTreeSet<i32> = procs
            .iter()
            .filter(|p| p.sid == p.pid && set.contains(&p.pid))
            .map(|p| p.pid)
            .collect();
        let before = set.len();
        for p in procs {
            if set.contains(&p.ppid) || leaders.contains(&p.sid) {
                set.insert(p.pid);
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

fn send(pid: i32, signal: i32) {
    // SAFETY: kill(2) has no memory effects; a pid that is gone meanwhile gives ESRCH, which is fine.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// The pid namespace of `/proc/<who>` (its `ns/pid` link), if readable.
fn pid_ns(who: &str) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{who}/ns/pid")).ok()
}

/// Every process of the host: pid, parent, session.
fn scan() -> io::Result<Vec<Proc>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // A process that ended since the listing has no stat any more: skip it.
        if let Some(p) = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| parse_stat(pid, &s))
        {
            out.push(p);
        }
    }
    Ok(out)
}

fn parse_stat(pid: i32, stat: &str) -> Option<Proc> {
    let s = super::stat::Stat::parse(stat)?;
    Some(Proc {
        pid,
        ppid: s.ppid,
        sid: s.session,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, sid: i32) -> Proc {
        Proc { pid, ppid, sid }
    }

    #[test]
    fn stat_lines_with_odd_command_names() {
        // A whole line as the kernel writes it (52 fields), with a command name of spaces and parentheses.
        let s = "42 (a b) c)) S 7 42 40 0 -1 4194560 86 0 0 0 0 0 0 0 20 0 1 0 5123 2420736 92 \
                 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0";
        assert_eq!(parse_stat(42, s), Some(p(42, 7, 40)));
        assert_eq!(parse_stat(1, "garbage"), None);
    }

    #[test]
    fn descendants_and_led_sessions_but_not_the_callers_session() {
        let procs = [
            p(1, 0, 1),
            // The agent (session 5) and its root child, a session leader of its own (10).
            p(5, 1, 5),
            p(10, 5, 10),
            // The root's child and grandchild; the grandchild leads session 12.
            p(11, 10, 10),
            p(12, 11, 12),
            // A job of the shell 12 and an orphan of session 12, reparented to the container's init 1.
            p(13, 12, 12),
            p(14, 1, 12),
            // Something else in the agent's session and an unrelated process.
            p(6, 5, 5),
            p(20, 1, 20),
        ];
        let m = members_of(10, &procs, &BTreeSet::new());
        assert_eq!(m.into_iter().collect::<Vec<_>>(), [10, 11, 12, 13, 14]);
        assert!(members_of(99, &procs, &BTreeSet::new()).is_empty());
    }
}
