//! Plugin runs that outlived their caller. A CNI ADD runs in the process that launches the container (the CLI,
//! the agent). Killed in the middle of it, that process leaves the plugin running on its own: the plugin has its
//! own process group, and the watchdog that would have ended it died with its caller. Whoever cleans up after
//! the crash must not DEL while that ADD still runs. A DEL that came first would find nothing of what the ADD
//! goes on to make: the bridge plugin adds its masquerade rules last, and its DEL removes them only for the
//! addresses it finds in the namespace. Those rules would then outlive the container.
//!
//! So the cleanup of an ADD that was never recorded as complete first waits for every process of that ADD to
//! end. It kills those still there after the plugin timeout, as the caller's watchdog would have done. Other
//! containers' ADDs and DELs wait for them too: they still hold the host's CNI lock (`host_lock.rs`).

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Waits until no process runs a plugin for `container_id` in `netns`. Those still running after `timeout` are
/// killed with their process groups (a plugin's children, iptables for one, are in its group).
pub fn wait_for_plugins(container_id: &str, netns: &Path, timeout: Duration) {
    if running(container_id, netns).is_empty() {
        return;
    }
    tracing::info!(
        container_id,
        "waiting for CNI plugins left running by a launch that was cut short"
    );
    let pids = running_after(container_id, netns, Instant::now() + timeout);
    if pids.is_empty() {
        return;
    }
    tracing::warn!(container_id, ?pids, "killing CNI plugins that did not end");
    // SAFETY: getpgrp and kill(2) have no memory effects.
    let own = unsafe { libc::getpgrp() };
    for pid in &pids {
        // SAFETY: as above; getpgid of a pid that may have gone only fails.
        unsafe {
            match libc::getpgid(*pid) {
                pgid if pgid > 0 && pgid != own => libc::kill(-pgid, libc::SIGKILL),
                _ => libc::kill(*pid, libc::SIGKILL),
            };
        }
    }
    // SIGKILL is not refused; the processes are gone (or zombies, whose environment reads empty) in a moment.
    running_after(container_id, netns, Instant::now() + Duration::from_secs(1));
}

/// [`running`] once none are left or at `deadline`, whichever comes first.
fn running_after(container_id: &str, netns: &Path, deadline: Instant) -> Vec<i32> {
    loop {
        let pids = running(container_id, netns);
        if pids.is_empty() || Instant::now() >= deadline {
            return pids;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The processes other than this one whose environment names `container_id` and `netns` as the plugin
/// protocol's variables. Every plugin of the chain is started with them (`plugin::Invocation::exec`), and
/// whatever a plugin starts inherits them.
fn running(container_id: &str, netns: &Path) -> Vec<i32> {
    let id = [b"CNI_CONTAINERID=", container_id.as_bytes()].concat();
    let ns = [b"CNI_NETNS=", netns.as_os_str().as_bytes()].concat();
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                let vars: Vec<&[u8]> = env.split(|b| *b == 0).collect();
                vars.contains(&id.as_slice()) && vars.contains(&ns.as_slice())
            })
        })
        .filter_map(|pid| i32::try_from(pid).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    fn hanging(id: &str, ns: &Path) -> std::process::Child {
        Command::new("sh")
            .args(["-c", "sleep 1000 & wait"])
            .env("CNI_COMMAND", "ADD")
            .env("CNI_CONTAINERID", id)
            .env("CNI_NETNS", ns)
            .process_group(0)
            .spawn()
            .expect("sh")
    }

    #[test]
    fn only_the_processes_of_that_container_and_namespace_are_found_and_a_hung_group_is_killed() {
        let ns = Path::new("/run/ucr-test/stray/netns");
        let mut mine = hanging("stray-1", ns);
        let mut other = hanging("stray-2", ns);
        // The shell and its sleep, both with the variables; the other container's are not listed.
        let deadline = Instant::now() + Duration::from_secs(10);
        while running("stray-1", ns).len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let found = running("stray-1", ns);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.contains(&(mine.id() as i32)));
        assert!(!found.contains(&(other.id() as i32)));
        assert!(running("stray-1", Path::new("/elsewhere")).is_empty());

        let t0 = Instant::now();
        wait_for_plugins("stray-1", ns, Duration::from_millis(300));
        assert!(t0.elapsed() >= Duration::from_millis(300));
        let status = mine.wait().expect("wait");
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
        assert!(running("stray-1", ns).is_empty(), "its sleep went too");
        assert_eq!(running("stray-2", ns).len(), 2, "the other one runs on");
        // SAFETY: kill(2) of the process group the test made (the other shell and its sleep).
        unsafe {
            libc::kill(-(other.id() as i32), libc::SIGKILL);
        }
        let _ = other.wait();
    }
}
