//! podman drives ucr as its OCI runtime (`podman --runtime <ucr-runc>`): conmon execs `ucr-runc create`, podman
//! `start`, `exec`, `kill` and `delete`. podman keeps its storage, run dir and events in the test's tempdir;
//! its default rlimits exceed this machine's hard limits, hence the test's own containers.conf.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::common::oci::{
    busybox_archive, output, remove_empty_cgroups, runc_link, tempdir, unmount_under, IMAGE,
};
use crate::common::Run;

struct Podman {
    dir: tempfile::TempDir,
    runc: PathBuf,
}

impl Podman {
    fn new() -> Podman {
        let dir = tempdir("ucr-podman-");
        let runc = runc_link(dir.path());
        std::fs::write(
            dir.path().join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=4096:4096\"]\n\
             [engine]\nevents_logger = \"file\"\ncgroup_manager = \"cgroupfs\"\nlock_type = \"file\"\n",
        )
        .expect("containers.conf");
        let p = Podman { dir, runc };
        let path = busybox_archive(p.dir.path());
        let r = p.run(&["load", "-i", &path.display().to_string()]);
        assert_eq!(r.code, 0, "podman load: {}", r.all());
        p
    }

    fn command(&self, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", d.join("containers.conf"))
            .arg("--root")
            .arg(d.join("storage"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .arg("--runtime")
            .arg(&self.runc)
            .arg("--cgroup-manager")
            .arg("cgroupfs")
            .arg("--storage-driver")
            .arg("overlay")
            .args(args)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        output(&mut self.command(args))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "--all", "--force", "--time", "0"]);
        let _ = self.run(&["system", "reset", "--force"]);
        unmount_under(self.dir.path());
        // conmon's cgroup and its parent, podman's own; removed only when empty (another podman may use them).
        remove_empty_cgroups(&["libpod_parent/conmon", "libpod_parent"]);
    }
}

#[test]
fn podman_run_rm_with_ucr_as_its_runtime() {
    let p = Podman::new();
    let r = p.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "echo hi; exit 6",
    ]);
    assert_eq!(r.code, 6, "{}", r.all());
    assert_eq!(r.stdout.trim(), "hi", "{}", r.all());
    let t = p.run(&[
        "run",
        "--rm",
        "-t",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "tty",
    ]);
    assert_eq!(t.code, 0, "{}", t.all());
    assert_eq!(t.stdout.trim(), "/dev/pts/0", "{}", t.all());
    assert!(p.run(&["ps", "-aq"]).stdout.trim().is_empty());
}

#[test]
fn podman_exec_and_stop_a_detached_container() {
    let p = Podman::new();
    let r = p.run(&[
        "run",
        "-d",
        "--name",
        "bg",
        "--network",
        "none",
        IMAGE,
        "sh",
        "-c",
        "trap 'exit 0' TERM; sleep 1000 & wait",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    let e = p.run(&[
        "exec",
        "bg",
        "sh",
        "-c",
        "echo from $(cat /proc/1/comm); exit 2",
    ]);
    assert_eq!(e.code, 2, "{}", e.all());
    assert_eq!(e.stdout.trim(), "from sh");
    // conmon takes the terminal's master from the console socket: a pty of the container's own devpts.
    let t = p.run(&["exec", "-t", "bg", "sh", "-c", "tty; exit 3"]);
    assert_eq!(t.code, 3, "{}", t.all());
    assert!(t.stdout.starts_with("/dev/pts/"), "{}", t.all());
    let s = p.run(&["stop", "--time", "10", "bg"]);
    assert_eq!(s.code, 0, "{}", s.all());
    let state = p.run(&[
        "inspect",
        "--format",
        "{{.State.Status}} {{.State.ExitCode}}",
        "bg",
    ]);
    assert_eq!(state.stdout.trim(), "exited 0", "{}", state.all());
    assert_eq!(p.run(&["rm", "bg"]).code, 0);
}

/// `podman run --uidmap/--gidmap`: podman makes the rootfs copy owned by the mapped ids; ucr runs the
/// container as root of that user namespace.
#[test]
fn podman_run_in_a_user_namespace() {
    let p = Podman::new();
    let r = p.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--uidmap",
        "0:100000:65536",
        "--gidmap",
        "0:100000:65536",
        IMAGE,
        "sh",
        "-c",
        "cat /proc/self/uid_map; id -u; touch /made && echo made",
    ]);
    assert_eq!(r.code, 0, "{}", r.all());
    let words: Vec<&str> = r.stdout.split_whitespace().collect();
    assert_eq!(words, ["0", "100000", "65536", "0", "made"], "{}", r.all());
}
