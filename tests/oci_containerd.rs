//! containerd drives ucr as its OCI runtime: Debian's containerd with its own config, root, state and socket,
//! its runc v2 shim exec'ing `ucr-runc` (`ctr run --runc-binary`), as a Kubernetes node would through CRI.

use std::time::{Duration, Instant};

use crate::common::oci::Containerd;

/// Processes whose cgroup names the test's namespace: what a deleted task must not leave behind.
fn leftovers(ns: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let cg = std::fs::read_to_string(e.path().join("cgroup")).unwrap_or_default();
        if cg.contains(&format!("/{ns}/")) {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out
}

fn cgroup_dirs(ns: &str) -> Vec<String> {
    let mut out = Vec::new();
    for c in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        let d = c.path().join(ns);
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                out.push(e.path().display().to_string());
            }
        }
    }
    out
}

#[test]
fn ctr_run_rm_prints_the_output_and_exits_with_the_tasks_code() {
    let c = Containerd::start();
    c.import_busybox();
    let args = c.run_args(
        &["--rm"],
        "once",
        &["sh", "-c", "echo hello from pid $$; exit 7"],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = c.ctr(&args);
    assert_eq!(r.code, 7, "{}\n{}", r.all(), c.log());
    assert_eq!(r.stdout.trim(), "hello from pid 1");
    assert!(c.ctr(&["container", "ls", "-q"]).stdout.trim().is_empty());
    assert!(leftovers(&c.ns).is_empty());
    assert!(cgroup_dirs(&c.ns).is_empty(), "{:?}", cgroup_dirs(&c.ns));
}

#[test]
fn a_detached_task_takes_exec_ps_pause_resume_metrics_and_kill() {
    let c = Containerd::start();
    c.import_busybox();
    let args = c.run_args(
        &["-d"],
        "long",
        &["sh", "-c", "trap 'exit 5' TERM; sleep 1000 & wait"],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = c.ctr(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.all(), c.log());
    let ls = c.ctr(&["task", "ls"]).stdout;
    assert!(ls.contains("RUNNING"), "{ls}");

    let e = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "long",
        "sh",
        "-c",
        "echo in with $(cat /proc/1/comm); exit 3",
    ]);
    assert_eq!(e.code, 3, "{}", e.all());
    assert_eq!(e.stdout.trim(), "in with sh");
    // With a terminal: the exec'd process makes it in the container's devpts and sends the master to the shim.
    let exec_t = [
        "task",
        "exec",
        "-t",
        "--exec-id",
        "e2",
        "long",
        "sh",
        "-c",
        "tty; exit 6",
    ];
    let exec_t: Vec<String> = exec_t.iter().map(|s| s.to_string()).collect();
    let (out, code) = on_terminal(&c, &exec_t, b"");
    assert_eq!(code, Some(6), "{out:?}\n{}", c.log());
    assert!(out.contains("/dev/pts/0"), "{out:?}");

    let ps = c.ctr(&["task", "ps", "long"]);
    assert_eq!(ps.code, 0, "{}", ps.all());
    assert_eq!(ps.stdout.lines().count(), 3, "sh and sleep: {}", ps.stdout);

    assert_eq!(c.ctr(&["task", "pause", "long"]).code, 0);
    assert!(c.ctr(&["task", "ls"]).stdout.contains("PAUSED"));
    assert_eq!(c.ctr(&["task", "resume", "long"]).code, 0);
    assert!(c.ctr(&["task", "ls"]).stdout.contains("RUNNING"));

    let m = c.ctr(&["task", "metrics", "--format", "json", "long"]);
    assert_eq!(m.code, 0, "{}", m.all());
    assert!(
        m.stdout.contains("memory") || m.stdout.contains("Memory"),
        "{}",
        m.stdout
    );

    let k = c.ctr(&["task", "kill", "-s", "SIGTERM", "long"]);
    assert_eq!(k.code, 0, "{}", k.all());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !c.ctr(&["task", "ls"]).stdout.contains("STOPPED") {
        assert!(Instant::now() < deadline, "task did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let d = c.ctr(&["task", "delete", "long"]);
    assert_eq!(d.code, 0, "{}", d.all());
    assert!(leftovers(&c.ns).is_empty());
    assert!(cgroup_dirs(&c.ns).is_empty(), "{:?}", cgroup_dirs(&c.ns));
    let runc_root = c.dir.path().join("runc").join(&c.ns);
    let left: Vec<_> = std::fs::read_dir(&runc_root)
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `ctr run -t` from a terminal the test holds: the shim receives the pty master over ucr-runc's console socket.
#[test]
fn ctr_run_t_gives_the_task_a_working_terminal() {
    let c = Containerd::start();
    c.import_busybox();
    terminal_session(&c, &[], "tty");
}

/// `ctr run -t EXTRA...` of a shell on a terminal the test holds (ctr's controlling terminal): a line typed,
/// its output read, `exit 4`.
fn terminal_session(c: &Containerd, extra: &[&str], name: &str) {
    let mut flags = vec!["-t", "--rm"];
    flags.extend(extra);
    let args = c.run_args(&flags, name, &["sh"]);
    let keys = b"echo tty-$((6*7)); test -t 0 && echo stdin-is-a-tty; tty; exit 4\n";
    let (out, code) = on_terminal(c, &args, keys);
    assert!(out.contains("tty-42"), "{out:?}\n{}", c.log());
    assert!(out.contains("stdin-is-a-tty"), "{out:?}");
    // The pty is the container's own, made in its devpts, as runc makes it.
    assert!(out.contains("\n/dev/pts/0"), "{out:?}");
    assert_eq!(code, Some(4), "{out:?}");
}

/// `ctr ARGS` on a terminal the test holds (ctr's controlling terminal), `keys` typed at it: what the terminal
/// showed until ctr ended, and ctr's exit code.
fn on_terminal(c: &Containerd, args: &[String], keys: &[u8]) -> (String, Option<i32>) {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::CommandExt;

    let (mut master, slave) = {
        let (mut m, mut s) = (0, 0);
        // SAFETY: openpty fills two fds we then own.
        let r = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(r, 0, "openpty");
        // SAFETY: fresh fds from openpty.
        unsafe { (std::fs::File::from_raw_fd(m), OwnedFd::from_raw_fd(s)) }
    };
    let mut cmd = c.command(&args.iter().map(String::as_str).collect::<Vec<_>>());
    cmd.stdin(slave.try_clone().expect("dup"))
        .stdout(slave.try_clone().expect("dup"))
        .stderr(slave);
    // SAFETY: setsid and TIOCSCTTY in the child before exec: the pty becomes ctr's controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("ctr");
    drop(cmd);
    master.write_all(keys).expect("type");
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once every slave fd is closed (ctr has exited).
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let status = child.wait().expect("wait ctr");
    (reader.join().expect("reader"), status.code())
}

/// `ctr run --uidmap/--gidmap` (containerd chowns a copy of the snapshot): the task runs as root of a user
/// namespace that is the host's uid 100000, and the deleted task leaves nothing.
#[test]
fn ctr_run_in_a_user_namespace() {
    let c = Containerd::start();
    c.import_busybox();
    let map = ["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"];
    let mut extra = vec!["--rm"];
    extra.extend(map);
    let script = "cat /proc/self/uid_map; id -u; stat -c %u /bin/busybox";
    let args = c.run_args(&extra, "userns", &["sh", "-c", script]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = c.ctr(&args);
    assert_eq!(r.code, 0, "{}\n{}", r.all(), c.log());
    let words: Vec<&str> = r.stdout.split_whitespace().collect();
    assert_eq!(words, ["0", "100000", "65536", "0", "0"], "{}", r.stdout);
    // A terminal there too: made in the devpts the container's user namespace mounted.
    terminal_session(&c, &map, "userns-tty");
    assert!(leftovers(&c.ns).is_empty());
    assert!(cgroup_dirs(&c.ns).is_empty(), "{:?}", cgroup_dirs(&c.ns));
}
