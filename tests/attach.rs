//! `ucr attach`: a running container's output from now on, and for a task with a terminal the caller's keys
//! (driven here from a pty: type, read the echo, ctrl-p ctrl-q detaches and the task runs on, a second attach
//! ends with the task's code); without one, signals passed on to the task (`--sig-proxy`), or detaching.

use std::time::Duration;

use crate::common::term::{spawn_on, Term};
use crate::common::{busybox_registry, Containers, CMD_TIMEOUT};

fn state(c: &Containers, id: &str) -> String {
    c.ps(id).map(|v| v["state"].to_string()).unwrap_or_default()
}

#[test]
fn attach_to_a_terminal_types_detaches_and_ends_with_the_tasks_code() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let id = c.id("att");
    c.run_for(
        &["run", "-d", "-t", "--name", &id, &image, "sh"],
        CMD_TIMEOUT,
    )
    .ok();
    c.wait_running(&id);

    let (mut t, slave) = Term::open(24, 80);
    let mut child = spawn_on(c.command(&["attach", &id]), slave);
    t.type_line("echo at''tached $(tty)\n");
    t.expect("attached /dev/pts/0");
    t.type_line("\x10\x11");
    assert_eq!(t.wait(&mut child), Some(0), "{:?}", t.seen());
    assert_eq!(state(&c, &id), "\"RUNNING\"", "it runs on after a detach");

    let (mut t, slave) = Term::open(24, 80);
    let mut child = spawn_on(c.command(&["attach", &id]), slave);
    // The keys reach the task only once attach has connected; the echo says they did.
    t.type_line("echo ag''ain\n");
    t.expect("again");
    t.type_line("exit 3\n");
    assert_eq!(t.wait(&mut child), Some(3), "{:?}", t.seen());

    let out = c.run_for(&["attach", &id], CMD_TIMEOUT);
    assert_ne!(out.code, 0, "{}", out.all());
    let err: Vec<&str> = out.stderr.lines().collect();
    assert!(
        err.len() == 1 && err[0].contains("not running"),
        "{}",
        out.all()
    );
}

#[test]
fn attach_without_a_terminal_passes_signals_on_or_detaches_on_them() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let id = c.id("att-sig");
    let script = "trap 'echo got-int; exit 9' INT; while :; do echo tick; sleep 0.1; done";
    c.run_for(
        &["run", "-d", "--name", &id, &image, "sh", "-c", script],
        CMD_TIMEOUT,
    )
    .ok();
    c.wait_running(&id);

    // --sig-proxy false: SIGINT detaches; the task runs on.
    let a = c.spawn(&["attach", "--sig-proxy", "false", &id]);
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(a.child.id() as i32, libc::SIGINT) };
    let out = a.wait_for(CMD_TIMEOUT);
    assert_eq!(out.code, 0, "{}", out.all());
    assert!(out.stdout.starts_with("tick\n"), "{}", out.all());
    assert_eq!(state(&c, &id), "\"RUNNING\"");

    // By default the task gets it, and attach ends with its code.
    let a = c.spawn(&["attach", &id]);
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: as above.
    unsafe { libc::kill(a.child.id() as i32, libc::SIGINT) };
    let out = a.wait_for(CMD_TIMEOUT);
    assert_eq!(out.code, 9, "{}", out.all());
    assert!(
        out.stdout.contains("tick\n") && out.stdout.ends_with("got-int\n"),
        "{}",
        out.all()
    );
}

/// `run -d --rm`: a `wait` and an `attach` under way when the task ends get its code (and the attach its last
/// output) before the container removes itself, as with Docker; nothing is left after.
#[test]
fn wait_and_attach_of_a_container_that_removes_itself_get_its_code() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let id = c.id("att-rm");
    let run = [
        "run",
        "-d",
        "--rm",
        "--name",
        &id,
        &image,
        "sh",
        "-c",
        "sleep 1; echo bye; exit 3",
    ];
    c.run_for(&run, CMD_TIMEOUT).ok();
    let (w, a) = (c.spawn(&["wait", &id]), c.spawn(&["attach", &id]));
    let (w, a) = (w.wait_for(CMD_TIMEOUT), a.wait_for(CMD_TIMEOUT));
    assert_eq!((w.code, w.stdout.trim()), (3, "3"), "{}", w.all());
    assert_eq!((a.code, a.stdout.as_str()), (3, "bye\n"), "{}", a.all());
    let deadline = std::time::Instant::now() + CMD_TIMEOUT;
    while c.ps(&id).is_some() {
        assert!(std::time::Instant::now() < deadline, "never removed");
        std::thread::sleep(Duration::from_millis(20));
    }
}
