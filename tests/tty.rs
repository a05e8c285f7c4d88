//! A task with a terminal (Marathon `tty`, Mesos `tty_info`, `ucr run -t`): its stdin, stdout and stderr are one
//! pty, TERM is set, Mesos's window size is the terminal's, and everything it writes reaches the sandbox's
//! stdout through the supervisor. `ucr run -it` makes the caller's terminal the task's (driven here from a pty:
//! type, read the echo, resize, exit code); `ucr run -i` gives the task the caller's stdin.

use serde_json::json;

use crate::common::term::Term;
use crate::common::{busybox_registry, Containers, CMD_TIMEOUT};

/// The task's output lines, without the terminal's carriage returns.
fn lines(out: &str) -> Vec<String> {
    out.lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

#[test]
fn a_marathon_tty_app_runs_on_a_terminal() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    let id = c.id("tty");
    let app = json!({
        "id": id,
        "tty": true,
        "cmd": "test -t 0 && echo in-tty; test -t 1 && echo out-tty; tty; test -c /dev/console && echo console; echo $TERM; echo to-stderr >&2",
        "container": {"type": "MESOS", "docker": {"image": image}}
    });
    let out = c.run_stdin(&["launch", "-"], &app.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    let logs = c.run_for(&["logs", &id], CMD_TIMEOUT).ok().stdout;
    assert_eq!(
        lines(&logs),
        [
            "in-tty",
            "out-tty",
            "/dev/pts/0",
            "console",
            "xterm",
            "to-stderr"
        ],
        "{logs:?}"
    );
}

#[test]
fn a_mesos_tty_info_window_size_is_the_terminals() {
    let c = Containers::new();
    let id = c.id("tty-size");
    let call = json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {
            "container_id": {"value": id},
            "command": {"value": "stty size"},
            "container": {"type": "MESOS", "tty_info": {"window_size": {"rows": 40, "columns": 120}}}
        }
    });
    let out = c.run_stdin(&["launch", "-"], &call.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(lines(&out.stdout), ["40 120"], "{}", out.all());
}

#[test]
fn run_it_gives_a_working_shell_and_run_i_a_pipe() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    c.run_for(&["pull", "-q", &image], CMD_TIMEOUT).ok();
    // Typed keys reach the shell, which echoes them (the caller's terminal is raw); the size is the caller's.
    let (mut t, slave) = Term::open(24, 80);
    let code = t.shell_session(c.command(&["run", "--rm", "-it", &image, "sh"]), slave);
    assert_eq!(code, Some(5), "{:?}", t.seen());

    // -i: the task reads the caller's stdin to its end.
    let out = c.run_stdin(
        &["run", "--rm", "-i", &image, "sh", "-c", "wc -l; exit 4"],
        "a\nb\nc\n",
    );
    assert_eq!((out.code, out.stdout.trim()), (4, "3"), "{}", out.all());
    // -it without a terminal, and -i detached: refused, nothing made.
    let out = c.run_stdin(&["run", "--rm", "-it", &image, "sh"], "exit\n");
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("not a terminal"), "{}", out.stderr);
    let out = c.run_for(&["run", "-d", "-i", &image, "cat"], CMD_TIMEOUT);
    assert_ne!(out.code, 0, "{}", out.all());
    let all = c.run_for(&["ps", "--all", "--json"], CMD_TIMEOUT);
    assert_eq!(all.stdout, "", "{}", all.all());
}
