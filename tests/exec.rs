//! `ucr exec`: a command in a running container — its hostname, pid namespace and task user — with the
//! command's exit code; a program that is not there is 127 with one line; `-u`/`-w` give another user and
//! working directory; `-i` attaches stdin; `-it` gives a working shell on a terminal, driven here from a pty as
//! a person's terminal would drive it (type, read the echo, resize, exit code).

use std::time::{Duration, Instant};

use crate::common::term::Term;
use crate::common::{busybox_registry, Containers, CMD_TIMEOUT};

fn running(c: &Containers, image: &str) -> String {
    c.run_for(&["pull", "-q", image], CMD_TIMEOUT).ok();
    let id = c.id("exec");
    let out = c.run_for(
        &[
            "run",
            "-d",
            "--name",
            &id,
            "--hostname",
            "box1",
            "--user",
            "nobody",
            image,
            "sleep",
            "1000",
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    c.wait_running(&id);
    id
}

#[test]
fn exec_runs_in_the_container_as_its_task_with_the_exit_code() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = running(&c, &image);
    let out = c.run_for(
        &[
            "exec",
            &id,
            "sh",
            "-c",
            "hostname; tr '\\0' ' ' < /proc/1/cmdline; echo; tr '\\0' ' ' < /proc/2/cmdline; echo; id -u; exit 3",
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.code, 3, "{}", out.all());
    // The container's pid 1 is its init, the task's reaper (its command line padded with NULs, as the
    // CLI's it overwrote was long); the task is its first child.
    let lines: Vec<&str> = out.stdout.lines().map(str::trim_end).collect();
    assert_eq!(
        lines,
        ["box1", "ucr-init", "sleep 1000", "65534"],
        "{}",
        out.all()
    );
    let out = c.run_for(&["exec", &id, "no-such-program"], CMD_TIMEOUT);
    assert_eq!(out.code, 127, "{}", out.all());
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("no-such-program"), "{}", out.stderr);
    // Named by its path, the program is looked for by the exec itself: still 127, and 126 for one that is
    // there but cannot run.
    let out = c.run_for(&["exec", &id, "/no/such/program"], CMD_TIMEOUT);
    assert_eq!(out.code, 127, "{}", out.all());
    assert!(out.stderr.contains("/no/such/program"), "{}", out.stderr);
    let out = c.run_for(&["exec", &id, "/etc/passwd"], CMD_TIMEOUT);
    assert_eq!(out.code, 126, "{}", out.all());
    // Another user and working directory than the task's, as `docker exec -u -w`; names are the container's.
    let out = c.run_for(
        &[
            "exec",
            "-u",
            "root",
            "-w",
            "/etc",
            &id,
            "sh",
            "-c",
            "id -u; pwd",
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "0\n/etc\n"),
        "{}",
        out.all()
    );
    let out = c.run_for(
        &[
            "exec",
            "--user",
            "123:45",
            &id,
            "sh",
            "-c",
            "id -u; id -g; id -G",
        ],
        CMD_TIMEOUT,
    );
    assert_eq!(out.stdout, "123\n45\n45\n", "{}", out.all());
    let out = c.run_for(&["exec", "-u", "no-such-user", &id, "true"], CMD_TIMEOUT);
    assert_eq!(out.code, 125, "{}", out.all());
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("no-such-user") && out.stderr.contains("/etc/passwd in the container"),
        "{}",
        out.stderr
    );
    // A directory that is not there is no missing program: 126, as for one that cannot run.
    let out = c.run_for(&["exec", "-w", "/no/such/dir", &id, "true"], CMD_TIMEOUT);
    assert_eq!(out.code, 126, "{}", out.all());
    assert!(out.stderr.contains("/no/such/dir"), "{}", out.stderr);
    let out = c.run_for(&["exec", "-w", "etc", &id, "true"], CMD_TIMEOUT);
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("--workdir etc"), "{}", out.stderr);
    let out = c.run_stdin(&["exec", "-i", &id, "sh"], "echo from-stdin; exit 4\n");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (4, "from-stdin\n"),
        "{}",
        out.all()
    );
    c.run_for(&["kill", &id], CMD_TIMEOUT).ok();
    c.run_for(&["wait", &id], CMD_TIMEOUT);
    let out = c.run_for(&["exec", &id, "true"], CMD_TIMEOUT);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("not running"), "{}", out.stderr);
}

/// `ucr exec` beside a `rm --force` of its container: the command runs (0), is killed with the container
/// (137), or `exec` says in one whole line why it could not enter: the container is not running any more, or its
/// task ended meanwhile — also when the task was still exiting, its namespaces already given up — never a raw
/// errno.
#[test]
fn exec_racing_the_containers_removal_ends_cleanly() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    for round in 0..30u64 {
        let id = c.id(&format!("gone{round}"));
        let out = c.run_for(
            &["run", "-d", "--name", &id, &image, "sleep", "600"],
            CMD_TIMEOUT,
        );
        assert_eq!(out.code, 0, "{}", out.all());
        let execs: Vec<_> = (0..3).map(|_| c.spawn(&["exec", &id, "true"])).collect();
        std::thread::sleep(Duration::from_millis(round % 6));
        let rm = c.run_for(&["rm", "--force", &id], CMD_TIMEOUT);
        assert_eq!(rm.code, 0, "round {round}: {}", rm.all());
        for out in execs.into_iter().map(|e| e.wait_for(CMD_TIMEOUT)) {
            let why = out.stderr.trim_end();
            // Killed with the container (137) before or after its one whole line.
            let clean = match out.code {
                0 => why.is_empty(),
                _ => {
                    (out.code == 137 && why.is_empty())
                        || ["not running", "ended meanwhile", "no such container"]
                            .iter()
                            .any(|m| why.ends_with(m))
                }
            };
            assert!(clean, "round {round}: {} {:?}", out.code, out.stderr);
        }
    }
}

/// The processes whose parent is `ppid` (from /proc: no helper process that would be one of them).
fn children_of(ppid: u32) -> Vec<u32> {
    let ppid_of = |pid: u32| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(1)?.parse::<u32>().ok()
    };
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| ppid_of(pid) == Some(ppid))
        .collect()
}

/// `ucr exec`'s first child (the one in the container's cgroup that forks the command into its pid namespace)
/// killed before its command: the command comes back to the `ucr exec` process, which waits for it and reaps it,
/// rather than to the host's init, whose late reaping held the container's pid namespace, and so its stop, for
/// seconds. The exec ends when its command does, here with the container's removal.
#[test]
fn an_exec_whose_first_child_is_killed_reaps_its_command_itself() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = running(&c, &image);
    let exec = c.spawn(&["exec", &id, "sleep", "300"]);
    let cli = exec.child.id();
    let deadline = Instant::now() + Duration::from_secs(20);
    let (first, command) = loop {
        let first = children_of(cli);
        if let [first] = first[..] {
            if let [command] = children_of(first)[..] {
                break (first, command);
            }
        }
        assert!(Instant::now() < deadline, "exec never forked its command");
        std::thread::sleep(Duration::from_millis(20));
    };
    // SAFETY: kill(2) of a pid this test just found as a child of its own `ucr exec`.
    assert_eq!(unsafe { libc::kill(first as i32, libc::SIGKILL) }, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while children_of(cli) != [command] {
        assert!(
            Instant::now() < deadline,
            "the command {command} was not handed to ucr exec ({cli}): its children are {:?}",
            children_of(cli)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let rm = c.run_for(&["rm", "--force", &id], CMD_TIMEOUT);
    assert_eq!(rm.code, 0, "{}", rm.all());
    let out = exec.wait_for(CMD_TIMEOUT);
    assert_eq!(out.code, 137, "{}", out.all());
    assert!(
        !std::path::Path::new(&format!("/proc/{command}")).exists(),
        "the command is left"
    );
}

#[test]
fn exec_it_gives_a_working_shell_on_a_terminal() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = running(&c, &image);
    let (mut t, slave) = Term::open(24, 80);
    let code = t.shell_session(c.command(&["exec", "-it", &id, "sh"]), slave);
    assert_eq!(code, Some(5), "{:?}", t.seen());
    c.run_for(&["rm", "--force", &id], CMD_TIMEOUT);
}
