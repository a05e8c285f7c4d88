//! What a container's processes are doing, as `ucr top` lists them (`docker top`, `podman top`, `ctr task
//! ps`): for each, its pid on the host and in the container's pid namespace, its parent, its user as the
//! container names it, its state, CPU time, resident memory, age and command line, read from `/proc`. A process
//! that ends while it is read is left out. User names come from the `/etc/passwd` that the process itself
//! sees, read confined to its root (`/proc/PID/root`), so a container's symlink never sends the read to a
//! host file.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use super::stat::Stat;
use super::user::user_names;

/// One process of a container.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// On the host.
    pub pid: i32,
    /// In the container's pid namespace (the innermost one it is in); None when the kernel does not say.
    pub ns_pid: Option<i32>,
    /// On the host.
    pub ppid: i32,
    /// Effective uid.
    pub uid: u32,
    /// The uid's name in the process's own `/etc/passwd`, if it has one.
    pub user: Option<String>,
    /// `R`, `S`, `D`, `Z`, `T`, ...
    pub state: char,
    /// User and kernel CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// Since it started, seconds.
    pub elapsed_seconds: f64,
    /// Its arguments joined by spaces; `[name]` when it has none (a kernel thread, a zombie).
    pub command: String,
}

/// The rows of `pids`, in that order, but for those gone meanwhile.
pub fn rows(pids: &[i32]) -> Vec<Row> {
    let ticks = clock_ticks();
    let page_kib = rustix::param::page_size() as u64 / 1024;
    let uptime = uptime_seconds();
    let mut names: HashMap<(u64, u64), HashMap<u32, String>> = HashMap::new();
    pids.iter()
        .filter_map(|&pid| {
            let stat = Stat::of(pid)?;
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let uid = status_field(&status, "Uid:")
                .and_then(|v| v.get(1).and_then(|u| u.parse().ok()))?;
            let ns_pid =
                status_field(&status, "NSpid:").and_then(|v| v.last().and_then(|p| p.parse().ok()));
            let user = root_key(pid).and_then(|key| {
                let root = PathBuf::from(format!("/proc/{pid}/root"));
                names
                    .entry(key)
                    .or_insert_with(|| user_names(&root))
                    .get(&uid)
                    .cloned()
            });
            Some(Row {
                pid,
                ns_pid,
                ppid: stat.ppid,
                uid,
                user,
                state: stat.state,
                cpu_seconds: stat.cpu_ticks as f64 / ticks,
                rss_kib: stat.rss_pages * page_kib,
                elapsed_seconds: (uptime - stat.start_time as f64 / ticks).max(0.0),
                command: command(pid, &status),
            })
        })
        .collect()
}

/// The whitespace-separated values of the `/proc/PID/status` line that starts with `name`.
fn status_field<'a>(status: &'a str, name: &str) -> Option<Vec<&'a str>> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.split_whitespace().collect())
}

/// Which root filesystem the process sees (device and inode of its root), so that each is read once.
fn root_key(pid: i32) -> Option<(u64, u64)> {
    let st = rustix::fs::stat(format!("/proc/{pid}/root")).ok()?;
    Some((st.st_dev, st.st_ino))
}

fn command(pid: i32, status: &str) -> String {
    let args = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let words: Vec<String> = args
        .split(|b| *b == 0)
        .filter(|w| !w.is_empty())
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect();
    match words.is_empty() {
        false => words.join(" "),
        true => {
            let name = status_field(status, "Name:").map(|v| v.join(" "));
            format!("[{}]", name.unwrap_or_default())
        }
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a system setting.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn uptime_seconds() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read_and_a_gone_one_left_out() {
        let me = std::process::id() as i32;
        let rows = rows(&[me, i32::MAX]);
        assert_eq!(rows.len(), 1, "{rows:?}");
        let r = &rows[0];
        assert_eq!((r.pid, r.ns_pid), (me, Some(me)));
        assert_eq!(r.ppid, std::os::unix::process::parent_id() as i32);
        assert_eq!(r.uid, rustix::process::geteuid().as_raw());
        assert!(r.rss_kib > 0 && r.elapsed_seconds >= 0.0, "{r:?}");
        let exe = std::env::args().next().unwrap_or_default();
        assert!(r.command.starts_with(&exe), "{r:?}");
    }

    #[test]
    fn status_fields_by_name() {
        let status = "Name:\tsleep\nUid:\t0\t1000\t0\t0\nNSpid:\t4242\t7\n";
        assert_eq!(
            status_field(status, "Uid:"),
            Some(vec!["0", "1000", "0", "0"])
        );
        assert_eq!(
            status_field(status, "NSpid:").and_then(|v| v.last().copied()),
            Some("7")
        );
        assert_eq!(status_field(status, "Gid:"), None);
    }
}
