//! End-to-end container tests: the real `ucr` binary, as root, runs images pulled from Debian's real
//! `docker-registry` on loopback (exit codes, the sandbox and logs, kill and teardown, both provisioner backends,
//! a 60-layer image under a deep root, the lifecycle commands). The command table, env and the Mesos/Marathon
//! JSON documents are in tests/run_specs.rs.
//!
//! Every test has its own root and runtime dir and its own container ids ([`Containers`]), which removes every
//! container it started even when an assertion fails; each root has its own cgroup parent `/ucr/<instance>`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::common::busybox_registry;
use crate::common::{
    cgroup_dirs, mounts_under, procs_in_cgroup, Containers, Run, Ucr, CMD_TIMEOUT,
};
use ucr_fixtures::image::many::many_layers_builder;
use ucr_fixtures::image::{busybox_layer, Compression, ImageBuilder, LayerTar, ManifestFormat};
use ucr_fixtures::registry::Registry;

fn ucr(c: &Containers, args: &[&str]) -> Run {
    c.run_for(args, CMD_TIMEOUT)
}

fn sandbox(c: &Containers, id: &str) -> PathBuf {
    c.root().join("containers").join(id).join("sandbox")
}

/// Nothing of `id` is left on disk: runtime dir, work dir (sandbox) and provisioner dir.
#[track_caller]
fn assert_gone(c: &Containers, id: &str) {
    for p in [
        c.runtime_dir().join("containers").join(id),
        c.root().join("containers").join(id),
        c.root().join("provisioner").join(id),
    ] {
        assert!(!p.exists(), "{} should be gone", p.display());
    }
    assert!(c.ps(id).is_none(), "{id} still listed by ps --all");
}

/// stderr is one line `ucr: ...` mentioning `what`, after any "Pulling" progress lines.
#[track_caller]
fn assert_one_line_error(out: &Run, what: &str) {
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.starts_with("Pulling "))
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {:?}", out.stderr);
    assert!(
        lines[0].starts_with("ucr: ") && lines[0].contains(what),
        "error naming {what:?}: {:?}",
        lines[0]
    );
}

/// A process's start time (field 22 of its stat), None once it is gone: with the pid it tells a process that
/// is gone from one whose pid was reused.
fn start_time(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // A zombie is as good as gone: it holds no resources and its parent only has to reap it.
    if f.first() == Some(&"Z") {
        return None;
    }
    f.get(19).map(|s| s.to_string())
}

#[test]
fn echo_hello_and_exit_codes_propagate() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    // The first run pulls.
    let out = ucr(&c, &["run", "--rm", &image, "echo", "hello"]);
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout, "hello\n");
    let out = ucr(&c, &["run", "--rm", &image, "sh", "-c", "exit 7"]);
    assert_eq!(out.code, 7, "{}", out.all());
    assert_eq!(out.stdout, "");
    let out = ucr(&c, &["run", "--rm", &image, "false"]);
    assert_eq!(out.code, 1, "{}", out.all());
}

/// The task starts with every signal at its default and none blocked: an ignored signal survives execve, and
/// ucr (a Rust program) ignores SIGPIPE, so without the reset `yes | head -1` had `yes` complain of a broken
/// pipe instead of dying of SIGPIPE. Also for `exec`, which shares the launcher's last steps.
#[test]
fn the_task_gets_default_signal_dispositions() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let out = ucr(
        &c,
        &[
            "run",
            "--rm",
            &image,
            "grep",
            "-E",
            "Sig(Ign|Blk)",
            "/proc/self/status",
        ],
    );

    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(
        out.stdout,
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n"
    );
    let out = ucr(&c, &["run", "--rm", &image, "sh", "-c", "yes | head -1"]);
    assert_eq!((out.code, out.stdout.as_str()), (0, "y\n"), "{}", out.all());
    assert!(!out.stderr.contains("Broken pipe"), "{}", out.stderr);
}

#[test]
fn killed_by_signal_exits_128_plus_the_signal() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("sig");
    let fg = c.spawn(&["run", "--name", &id, &image, "sleep", "1000"]);
    c.wait_running(&id);
    ucr(&c, &["kill", &id]).ok();
    let out = fg.wait_for(CMD_TIMEOUT);
    assert_eq!(out.code, 128 + 9, "{}", out.all());
    let t = &c.ps(&id).expect("listed")["termination"];
    assert_eq!(
        (t["exit_status"].as_i64(), t["code"].as_i64()),
        (Some(9), Some(137)),
        "{t}"
    );
}

#[test]
fn missing_executable_is_127_and_non_executable_126() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    ucr(&c, &["pull", "--quiet", &image]).ok();
    for (cmd, code) in [
        ("/no/such/binary", 127),
        ("nosuchcommand", 127),
        ("/etc/passwd", 126),
        ("/dev/nosuch", 127),
    ] {
        let out = ucr(&c, &["run", "--rm", &image, cmd]);
        assert_eq!(out.code, code, "{cmd}: {}", out.all());
        assert_eq!(out.stdout, "", "{cmd}");
        assert_one_line_error(&out, cmd);
    }
    // Executable by its mode, refused by the kernel's exec (ENOEXEC): the init's child reports the exec's
    // error, 126, before anything runs.
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad");
    std::fs::write(&bad, b"\x7fELF garbage").expect("write");
    std::fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let volume = format!("{}:/bad", dir.path().display());
    let out = ucr(&c, &["run", "--rm", "-v", &volume, &image, "/bad/bad"]);
    assert_eq!(out.code, 126, "{}", out.all());
    assert_eq!(out.stdout, "");
    assert_one_line_error(&out, "exec /bad/bad: Exec format error");
    // A working directory on a tmpfs holds nothing yet: a bare name is PATH's (it was a 126 once).
    for w in ["/dev", "/scratch"] {
        let args = [
            "run", "--rm", "--tmpfs", "/scratch", "-w", w, &image, "echo", "hi",
        ];
        let out = ucr(&c, &args);
        assert_eq!(
            (out.code, out.stdout.as_str()),
            (0, "hi\n"),
            "{}",
            out.all()
        );
    }
    // Without --rm the failed container stays, with the launch failure as its termination.
    let id = c.id("noexec");
    let out = ucr(&c, &["run", "--name", &id, &image, "/no/such/binary"]);
    assert_eq!(out.code, 127, "{}", out.all());
    let v = c.ps(&id).expect("failed container listed");
    assert_eq!(v["state"], "EXITED", "{v}");
    assert_eq!(v["termination"]["code"], 127, "{v}");
    assert_eq!(
        v["termination"]["reason"], "REASON_CONTAINER_LAUNCH_FAILED",
        "{v}"
    );
    ucr(&c, &["rm", &id]).ok();
    assert_gone(&c, &id);
    assert!(cgroup_dirs(&id).is_empty());
}

/// The program is looked for where the task will see it: a volume's, or a file fetched into the sandbox, run
/// without a shell (Marathon `args`, Mesos `shell: false`), by path or by a bare name found in the working
/// directory (the sandbox); one that turns out not to start there is still 127, with one line.
#[test]
fn programs_in_volumes_and_fetched_into_the_sandbox_run_without_a_shell() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let script = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        p.to_string_lossy().into_owned()
    };
    script("tool.sh", "#!/bin/sh\necho tool \"$@\"\n");
    script("broken.sh", "#!/no/such/interpreter\necho never\n");
    let volume = format!("{}:/opt/tools:ro", dir.path().display());
    let in_volume = |program: &str| {
        ucr(
            &c,
            &["run", "--rm", "--volume", &volume, &image, program, "a"],
        )
    };
    let out = in_volume("/opt/tools/tool.sh");
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "tool a\n"),
        "{}",
        out.all()
    );
    // Found where it was looked for, but its interpreter is not in the container: the exec says so, 127.
    let out = in_volume("/opt/tools/broken.sh");
    assert_eq!(out.code, 127, "{}", out.all());
    assert_one_line_error(&out, "/opt/tools/broken.sh");
    let out = in_volume("/opt/tools/none.sh");
    assert_eq!(out.code, 127, "{}", out.all());
    // Fetched into the sandbox, the working directory, and run by its bare name (Mesos looks there first).
    let fetched = script("fetched.sh", "#!/bin/sh\necho fetched \"$@\"\n");
    let task = |id: &str, value: &str| {
        serde_json::json!({"type": "LAUNCH_CONTAINER", "launch_container": {
            "container_id": {"value": c.id(id)},
            "command": {"shell": false, "value": value, "arguments": ["fetched.sh", "x"],
                "uris": [{"value": fetched, "executable": true}]},
            "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}}}
        }})
        .to_string()
    };
    for value in [
        "fetched.sh",
        "./fetched.sh",
        "/mnt/mesos/sandbox/fetched.sh",
    ] {
        let out = c.run_stdin(&["launch", "--rm", "-"], &task("fetched", value));
        assert_eq!(out.code, 0, "{value}: {}", out.all());
        assert_eq!(out.stdout, "fetched x\n", "{value}: {}", out.all());
    }
    let out = c.run_stdin(&["launch", "--rm", "-"], &task("unfetched", "other.sh"));
    assert_eq!(out.code, 127, "{}", out.all());
    assert!(out.stderr.contains("other.sh: not found"), "{}", out.stderr);
}

/// A hostname the kernel would refuse is refused before anything is made: one line naming it, no container.
#[test]
fn a_hostname_the_kernel_refuses_is_refused_before_the_launch() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("host");
    let long = "h".repeat(65);
    let out = ucr(
        &c,
        &["run", "--name", &id, "--hostname", &long, &image, "true"],
    );
    assert_eq!(out.code, 125, "{}", out.all());
    assert_one_line_error(&out, "hostname");
    assert!(out.stderr.contains("64 bytes"), "{}", out.stderr);
    assert!(c.ps(&id).is_none(), "nothing was made");
    let out = ucr(
        &c,
        &[
            "run",
            "--rm",
            "--hostname",
            &"h".repeat(64),
            &image,
            "hostname",
        ],
    );
    assert_eq!(
        (out.code, out.stdout.trim()),
        (0, long[1..].as_ref()),
        "{}",
        out.all()
    );
}

/// A resource amount that is not a positive number is refused with the flag named, a negative one too (not
/// taken for an unknown option), before anything is made.
#[test]
fn resource_amounts_that_are_not_positive_are_refused() {
    let c = Containers::new();
    let id = c.id("res");
    for (flag, value) in [
        ("--cpus", "-1"),
        ("--mem", "0"),
        ("--mem-limit", "-5"),
        ("--cpus", "x"),
    ] {
        let out = ucr(
            &c,
            &["run", "--name", &id, flag, value, "no-such-image", "true"],
        );
        assert_eq!(out.code, 125, "{flag} {value}: {}", out.all());
        let first = out.stderr.lines().next().unwrap_or_default();
        assert!(
            first.contains(flag)
                && first.contains(&format!("{value:?} is"))
                && first.contains("positive number"),
            "{flag} {value}: {}",
            out.stderr
        );
    }
    assert!(c.ps(&id).is_none(), "nothing was made");
}

#[test]
fn sandbox_is_shared_and_holds_stdout_and_stderr() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("sbx");
    let script = "echo data > /mnt/mesos/sandbox/f; echo \"sandbox=$MESOS_SANDBOX\"; echo out; echo err >&2; exit 3";
    let out = ucr(&c, &["run", "--name", &id, &image, "sh", "-c", script]);
    assert_eq!(out.code, 3, "{}", out.all());
    // Foreground: the task's streams go to ours.
    assert_eq!(out.stdout, "sandbox=/mnt/mesos/sandbox\nout\n");
    assert!(out.stderr.ends_with("err\n"), "{}", out.stderr);
    let sb = sandbox(&c, &id);
    let read = |name: &str| std::fs::read_to_string(sb.join(name)).unwrap_or_default();
    assert_eq!(read("f"), "data\n");
    assert_eq!(read("stdout"), "sandbox=/mnt/mesos/sandbox\nout\n");
    assert_eq!(read("stderr"), "err\n");
    let v = c.ps(&id).expect("listed");
    assert_eq!(v["sandbox"], sb.display().to_string(), "{v}");
    let logs = ucr(&c, &["logs", &id]).ok();
    assert_eq!(logs.stdout, "sandbox=/mnt/mesos/sandbox\nout\n");
    let logs = ucr(&c, &["logs", "--stderr", &id]).ok();
    assert_eq!(logs.stdout, "err\n");
    ucr(&c, &["rm", &id]).ok();
    assert!(!sb.exists(), "rm removes the sandbox");
}

#[test]
fn kill_leaves_no_process_mount_or_cgroup() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    ucr(&c, &["pull", "--quiet", &image]).ok();
    let id = c.id("fork20");
    let mounts_before = mounts_under(c.dir.path());
    let script = "for i in $(seq 20); do sleep 1000 & done; wait";
    let out = ucr(
        &c,
        &["run", "--detach", "--name", &id, &image, "sh", "-c", script],
    )
    .ok();
    assert_eq!(out.stdout.trim(), id);
    let init = c.wait_running(&id);
    let deadline = Instant::now() + Duration::from_secs(30);
    let procs = loop {
        let procs = procs_in_cgroup(&id);
        let sleeps = procs
            .iter()
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default()
                    == b"sleep\x001000\x00"
            })
            .count();
        if sleeps == 20 {
            break procs;
        }
        assert!(
            Instant::now() < deadline,
            "20 sleeps never started: {procs:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        procs.contains(&init),
        "init {init} in the cgroup: {procs:?}"
    );
    let alive: Vec<(i32, Option<String>)> = procs.iter().map(|&p| (p, start_time(p))).collect();
    assert!(!cgroup_dirs(&id).is_empty(), "cgroups while running");
    assert!(
        mounts_under(c.dir.path()).len() > mounts_before.len(),
        "the rootfs is mounted while running"
    );

    ucr(&c, &["kill", &id]).ok();
    let w = ucr(&c, &["wait", &id, "--json"]);
    assert_eq!(w.code, 137, "{}", w.all());
    let t: serde_json::Value = serde_json::from_str(w.stdout.trim()).expect("wait --json");
    assert_eq!(t["exit_status"], 9, "{t}");
    assert_eq!(t["state"], "TASK_KILLED", "{t}");

    for (pid, start) in &alive {
        assert!(
            start.is_none() || start_time(*pid) != *start,
            "process {pid} survived the kill"
        );
    }
    assert_eq!(procs_in_cgroup(&id), Vec::<i32>::new(), "processes left");
    assert_eq!(cgroup_dirs(&id), Vec::<PathBuf>::new(), "cgroups left");
    assert_eq!(mounts_under(c.dir.path()), mounts_before, "mounts left");
    assert!(sandbox(&c, &id).is_dir(), "the sandbox stays until rm");
    ucr(&c, &["rm", &id]).ok();
    assert_gone(&c, &id);
}

/// busybox + a layer with files and dirs + a layer that whites out a file and a dir, makes a dir opaque and
/// overrides a file: 3 layers.
fn whiteout_image() -> ucr_fixtures::image::TestImage {
    let lower = LayerTar::new()
        .dir("data", 0o755)
        .file("data/keep.txt", b"lower\n", 0o644)
        .file("data/gone.txt", b"lower\n", 0o644)
        .dir("opq", 0o755)
        .file("opq/old1", b"old\n", 0o644)
        .dir("opq/sub", 0o755)
        .file("opq/sub/deep", b"old\n", 0o644)
        .dir("removed", 0o755)
        .file("removed/x", b"x\n", 0o644)
        .finish();
    let upper = LayerTar::new()
        .dir("data", 0o755)
        .file("data/.wh.gone.txt", b"", 0o644)
        .file("data/keep.txt", b"upper\n", 0o644)
        .dir("opq", 0o755)
        .file("opq/.wh..wh..opq", b"", 0o644)
        .file("opq/new", b"new\n", 0o644)
        .file(".wh.removed", b"", 0o644)
        .finish();
    ImageBuilder::new()
        .layer_tar(busybox_layer(), Compression::Gzip)
        .layer_tar(lower, Compression::Gzip)
        .layer_tar(upper, Compression::None)
        .cmd(["/bin/sh"])
        .build(ManifestFormat::Oci)
}

#[test]
fn overlay_and_copy_backends_give_the_same_container() {
    let reg = Registry::plain();
    let img = whiteout_image();
    assert_eq!(img.layers.len(), 3);
    reg.push("wh", "1", &img);
    let image = format!("{}/wh:1", reg.host);
    let c = Containers::new();
    let script = "cat /data/keep.txt; ls /data; ls /opq; \
        for p in /data/gone.txt /removed /opq/old1 /opq/sub; do \
          if test -e $p; then echo \"$p visible\"; else echo \"$p hidden\"; fi; done; \
        echo written > /data/new.txt; rm /data/keep.txt; mkdir /opq/sub; echo again > /opq/sub/file; \
        ls /data; cat /opq/sub/file";
    let expected =
        "upper\nkeep.txt\nnew\n/data/gone.txt hidden\n/removed hidden\n/opq/old1 hidden\n\
        /opq/sub hidden\nnew.txt\nagain\n";
    // overlay twice: the second run sees the image again, not the first run's writes.
    for backend in ["overlay", "copy", "overlay"] {
        let id = c.id(backend);
        let out = ucr(
            &c,
            &[
                "--image_provisioner_backend",
                backend,
                "run",
                "--name",
                &id,
                &image,
                "sh",
                "-c",
                script,
            ],
        );
        assert_eq!(out.code, 0, "{backend}: {}", out.all());
        assert_eq!(out.stdout, expected, "{backend}");
        let v = c.ps(&id).expect("listed");
        assert_eq!(v["backend"], backend, "{v}");
        ucr(&c, &["rm", &id]).ok();
        assert_gone(&c, &id);
    }
}

#[test]
fn sixty_layers_on_overlay_under_a_deep_root() {
    let reg = Registry::plain();
    let img = many_layers_builder(60).build(ManifestFormat::Oci);
    assert_eq!(img.layers.len(), 61);
    reg.push("many", "60", &img);
    let image = format!("{}/many:60", reg.host);
    let long = format!("ucr-e2e-deep-{}-", "d".repeat(120));
    let c = Containers::wrap(Ucr::with_prefix(&long));
    assert!(c.root().as_os_str().len() > 100);
    // The layer dirs joined as the legacy `lowerdir=` option would not fit in one page: this test is about
    // the case where the mount has to be made another way.
    let layers = c.store().join("layers/sha256");
    let legacy: usize = img
        .layers
        .iter()
        .map(|l| {
            let hex = l.diff_id.trim_start_matches("sha256:");
            layers.join(hex).join("fs").as_os_str().len() + 1
        })
        .sum();
    assert!(legacy > 4096, "lowerdir option would be {legacy} bytes");

    let id = c.id("many");
    let out = ucr(
        &c,
        &[
            "--image_provisioner_backend",
            "overlay",
            "run",
            "--name",
            &id,
            &image,
            "sh",
            "-c",
            "cat /layer.txt; ls /l",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.all());
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("layer 60"), "{}", out.stdout);
    let mut entries: Vec<u32> = lines.map(|l| l.parse().expect("a number")).collect();
    entries.sort_unstable();
    assert_eq!(entries, (1..=60).collect::<Vec<u32>>());
    assert_eq!(c.ps(&id).expect("listed")["backend"], "overlay");
    ucr(&c, &["rm", &id]).ok();
    assert_gone(&c, &id);
    assert_eq!(mounts_under(c.dir.path()), Vec::<String>::new());
}

#[test]
fn detach_ps_wait_rm() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("life");
    // The task ends when the test says so: a file appears in its sandbox.
    let script = "while [ ! -e /mnt/mesos/sandbox/go ]; do sleep 0.05; done; echo done; exit 3";
    let out = ucr(
        &c,
        &["run", "--detach", "--name", &id, &image, "sh", "-c", script],
    )
    .ok();
    assert_eq!(out.stdout.trim(), id, "prints the id");
    let pid = c.wait_running(&id);
    assert!(start_time(pid).is_some(), "pid {pid} is a live process");
    let table = ucr(&c, &["ps"]).ok();
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} in ps: {}", table.stdout));
    assert!(
        row.contains("RUNNING") && row.contains(&pid.to_string()),
        "{row}"
    );

    let mut waiter = c.spawn(&["wait", &id]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!waiter.exited(), "wait returned while the task runs");
    std::fs::write(sandbox(&c, &id).join("go"), b"").expect("write go");
    let w = waiter.wait_for(CMD_TIMEOUT);
    assert_eq!((w.code, w.stdout.trim()), (3, "3"), "{}", w.all());

    let running = ucr(&c, &["ps", "--json"]).ok();
    assert!(
        !running.stdout.contains(&id),
        "ps without --all: {}",
        running.stdout
    );
    let v = c.ps(&id).expect("ps --all lists it");
    assert_eq!(v["state"], "EXITED", "{v}");
    let t = &v["termination"];
    assert_eq!(
        (
            t["code"].as_i64(),
            t["exit_status"].as_i64(),
            t["state"].as_str()
        ),
        (Some(3), Some(3 << 8), Some("TASK_FAILED")),
        "{v}"
    );
    assert_eq!(ucr(&c, &["logs", &id]).ok().stdout, "done\n");
    ucr(&c, &["rm", &id]).ok();
    assert_gone(&c, &id);
}

#[test]
fn run_rm_leaves_nothing() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    ucr(&c, &["pull", "--quiet", &image]).ok();
    let mounts_before = mounts_under(c.dir.path());
    let id = c.id("rm");
    let out = ucr(&c, &["run", "--rm", "--name", &id, &image, "echo", "bye"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "bye\n"),
        "{}",
        out.all()
    );
    assert_gone(&c, &id);
    assert!(cgroup_dirs(&id).is_empty());
    assert_eq!(mounts_under(c.dir.path()), mounts_before);

    // Detached with --rm: the supervisor removes it once the task ends.
    let id = c.id("rmd");
    let out = ucr(
        &c,
        &["run", "--detach", "--rm", "--name", &id, &image, "true"],
    )
    .ok();
    assert_eq!(out.stdout.trim(), id);
    let deadline = Instant::now() + CMD_TIMEOUT;
    while c.runtime_dir().join("containers").join(&id).exists() {
        assert!(Instant::now() < deadline, "{id} never removed itself");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_gone(&c, &id);
    assert!(cgroup_dirs(&id).is_empty());
    assert_eq!(mounts_under(c.dir.path()), mounts_before);
}

#[test]
fn name_in_use_and_rm_of_a_running_container() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("busy");
    ucr(
        &c,
        &["run", "--detach", "--name", &id, &image, "sleep", "1000"],
    )
    .ok();
    let pid = c.wait_running(&id);
    let alive = start_time(pid);

    let out = ucr(&c, &["run", "--name", &id, &image, "true"]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert_one_line_error(&out, &id);
    assert!(out.stderr.contains("in use"), "{}", out.stderr);
    assert_eq!(c.ps(&id).expect("listed")["state"], "RUNNING", "untouched");
    // --rm cleans up after the run's own failed container, never after the one that holds the name.
    let out = ucr(&c, &["run", "--rm", "--name", &id, &image, "true"]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert_eq!(
        c.ps(&id).expect("still listed")["state"],
        "RUNNING",
        "untouched by --rm"
    );
    assert_eq!(start_time(pid), alive, "the task survives");

    let out = ucr(&c, &["rm", &id]);
    assert_eq!(out.code, 125, "{}", out.all());
    assert_one_line_error(&out, &id);
    assert!(out.stderr.contains("--force"), "{}", out.stderr);
    assert_eq!(c.ps(&id).expect("listed")["state"], "RUNNING", "untouched");

    ucr(&c, &["rm", "--force", &id]).ok();
    assert_gone(&c, &id);
    assert_ne!(start_time(pid), alive, "the task was killed");
    assert!(procs_in_cgroup(&id).is_empty());
    assert!(cgroup_dirs(&id).is_empty());
}
