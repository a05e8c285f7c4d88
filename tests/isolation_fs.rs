//! End-to-end tests of the filesystem, volume and confinement isolators (`filesystem/linux`, `volume/host_path`,
//! `volume/sandbox_path`, `posix/rlimits`, `linux/capabilities`, `linux/seccomp`, and the device rules of
//! `cgroups/devices`): the real `ucr` binary, as root, running busybox from a loopback registry. Each probe is a
//! busybox applet whose error text tells which layer refused it (EPERM from seccomp or a missing capability,
//! EROFS from a read-only mount).
//!
//! Every test has its own root, runtime dir and container ids; [`Containers`] removes what it started even
//! when an assertion fails.

use serde_json::json;

use crate::common::busybox_registry;
use crate::common::{Containers, Run, CMD_TIMEOUT};

fn ucr(c: &Containers, args: &[&str]) -> Run {
    c.run_for(args, CMD_TIMEOUT)
}

/// `ucr run --rm [opts] IMAGE sh -c SCRIPT`.
fn sh(c: &Containers, opts: &[&str], image: &str, script: &str) -> Run {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(opts);
    args.extend_from_slice(&[image, "sh", "-c", script]);
    ucr(c, &args)
}

/// A hex field (`CapEff:` ...) of /proc/self/status as the task printed it; all ones when missing.
fn status_hex(out: &Run, name: &str) -> u64 {
    out.stdout
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(|v| u64::from_str_radix(v, 16).unwrap_or(u64::MAX))
        .unwrap_or(u64::MAX)
}

#[test]
fn host_path_volumes_ro_refuses_writes_rw_lands_on_the_host() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let host = tempfile::tempdir().expect("tempdir");
    let ro = host.path().join("ro");
    let rw = host.path().join("rw");
    std::fs::create_dir_all(&ro).expect("mkdir");
    std::fs::write(ro.join("seed"), "from the host\n").expect("seed");
    // A missing host path is made, as Mesos does.
    let ro_arg = format!("{}:/data/ro:ro", ro.display());
    let rw_arg = format!("{}:/data/rw", rw.display());
    let out = sh(
        &c,
        &["--volume", &ro_arg, "--volume", &rw_arg],
        &image,
        "cat /data/ro/seed; if echo x > /data/ro/new 2>/dev/null; then echo WROTE-RO; fi; \
         echo written > /data/rw/file; echo done",
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(out.stdout, "from the host\ndone\n", "{}", out.all());
    assert!(!ro.join("new").exists());
    assert_eq!(
        std::fs::read_to_string(rw.join("file")).expect("rw file on the host"),
        "written\n"
    );
    // A relative container path means the sandbox.
    let rel_arg = format!("{}:inbox:ro", ro.display());
    let out = sh(
        &c,
        &["--volume", &rel_arg],
        &image,
        "cat $MESOS_SANDBOX/inbox/seed",
    );
    assert_eq!(out.stdout, "from the host\n", "{}", out.all());
}

#[test]
fn sandbox_path_volume_from_a_launch_call() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let id = c.id("sbvol");
    let call = json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {
            "container_id": {"value": id},
            "command": {"value": "echo hi > /cache/out; ls -d $MESOS_SANDBOX/cache"},
            "container": {
                "type": "MESOS",
                "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}},
                "volumes": [{
                    "container_path": "/cache", "mode": "RW",
                    "source": {"type": "SANDBOX_PATH", "sandbox_path": {"type": "SELF", "path": "cache"}}
                }]
            }
        }
    });
    let out = c.run_stdin(&["launch", "-"], &call.to_string());
    assert_eq!(out.code, 0, "{}", out.all());
    let sandbox = c.root().join("containers").join(&id).join("sandbox");
    assert_eq!(
        std::fs::read_to_string(sandbox.join("cache/out")).expect("written through the volume"),
        "hi\n"
    );
    ucr(&c, &["rm", &id]).ok();

    // PARENT needs a parent container: a clear launch error.
    let id = c.id("sbparent");
    let mut call = call;
    call["launch_container"]["container_id"]["value"] = json!(id);
    call["launch_container"]["container"]["volumes"][0]["source"]["sandbox_path"]["type"] =
        json!("PARENT");
    let out = c.run_stdin(&["launch", "--rm", "-"], &call.to_string());
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("PARENT"), "{}", out.stderr);
}

#[test]
fn default_confinement_no_mknod_no_modules_no_host_pids_no_proc_sys() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    // mknod of a device the allow list does not hold (a disk: block 8:0).
    let out = sh(&c, &[], &image, "busybox mknod /tmp/sda b 8 0 && echo MADE");
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(!out.stdout.contains("MADE"), "{}", out.all());
    // init_module: a garbage module is refused for permission (EPERM), not parsed (ENOEXEC).
    let out = sh(
        &c,
        &[],
        &image,
        "echo junk > /tmp/m.ko; busybox insmod /tmp/m.ko",
    );
    assert_ne!(out.code, 0, "{}", out.all());
    assert!(
        out.stderr.contains("not permitted"),
        "insmod must fail with EPERM: {}",
        out.all()
    );
    // Own pid namespace: the task is pid 2 (the first child of the container's init) and no host process is
    // visible.
    let out = sh(&c, &[], &image, "echo $$; ls /proc | grep -c '^[0-9]'");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first(), Some(&"2"), "{}", out.all());
    let visible: usize = lines.get(1).and_then(|n| n.parse().ok()).unwrap_or(999);
    assert!(visible <= 5, "host pids visible: {}", out.all());
    // /proc/sys is read-only.
    let out = sh(
        &c,
        &[],
        &image,
        "echo 1 > /proc/sys/kernel/ns_last_pid 2>&1 || echo REFUSED",
    );
    assert!(out.stdout.contains("REFUSED"), "{}", out.all());
    assert!(out.stderr.contains("Read-only"), "{}", out.all());
}

#[test]
fn seccomp_default_profile_stops_mount_and_unshare_even_with_cap_sys_admin() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let probe = "busybox mount -t tmpfs none /mnt && echo MOUNTED; busybox unshare -n true && echo UNSHARED; true";
    // Default caps: refused (no CAP_SYS_ADMIN, and the filter).
    let out = sh(&c, &[], &image, probe);
    assert_eq!(out.stdout, "", "{}", out.all());
    // CAP_SYS_ADMIN granted, filter still on: the filter alone refuses both.
    let caps = ["--cap", "SYS_ADMIN", "--cap", "CHOWN"];
    let out = sh(&c, &caps, &image, probe);
    assert_eq!(out.stdout, "", "{}", out.all());
    assert!(out.stderr.contains("not permitted"), "{}", out.all());
    // The same with the filter off: both work, so it was the filter.
    let mut opts = caps.to_vec();
    opts.extend(["--seccomp", "unconfined"]);
    let out = sh(&c, &opts, &image, probe);
    assert_eq!(out.stdout, "MOUNTED\nUNSHARED\n", "{}", out.all());
}

#[test]
fn capabilities_rlimits_and_shm() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    // CapEff of the default set: no CAP_SYS_ADMIN (bit 21), CAP_CHOWN (bit 0) present; NoNewPrivs set.
    let out = sh(
        &c,
        &[],
        &image,
        "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status",
    );
    let field = |name: &str| status_hex(&out, name);
    let eff = field("CapEff:");
    assert_eq!(eff & 1, 1, "{}", out.all());
    assert_eq!(eff & (1 << 21), 0, "{}", out.all());
    assert_eq!(field("CapBnd:"), eff, "{}", out.all());
    assert!(out.stdout.contains("NoNewPrivs:\t1"), "{}", out.all());

    // Requested rlimits, and the default NOFILE never above the caller's hard limit.
    let out = sh(
        &c,
        &["--ulimit", "nofile=4096:8192", "--ulimit", "core=0"],
        &image,
        "ulimit -n; ulimit -Hn; ulimit -c",
    );
    assert_eq!(out.stdout, "4096\n8192\n0\n", "{}", out.all());
    let out = sh(&c, &[], &image, "ulimit -n; ulimit -Hn");
    let hard_here = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .unwrap_or(u64::MAX);
    let got: Vec<u64> = out.stdout.lines().filter_map(|l| l.parse().ok()).collect();
    assert_eq!(got.first(), Some(&1024.min(hard_here)), "{}", out.all());
    assert!(got.get(1).is_some_and(|h| *h <= hard_here), "{}", out.all());
    // Beyond the kernel's nr_open: a clear error before anything runs.
    let out = sh(&c, &["--ulimit", "nofile=1:99999999999"], &image, "true");
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("nr_open"), "{}", out.stderr);

    // /dev/shm sized by --shm-size (MB).
    let out = sh(
        &c,
        &["--shm-size", "16"],
        &image,
        "df -k /dev/shm | tail -1",
    );
    let size: u64 = out
        .stdout
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert_eq!(size, 16 * 1024, "{}", out.all());

    // Unknown capability and unknown isolator names are one-line errors naming them.
    let out = sh(&c, &["--cap", "FLY"], &image, "true");
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("FLY"), "{}", out.stderr);
    let out = ucr(
        &c,
        &[
            "--isolation",
            "cgroups/cpu,gpu/nvidia",
            "run",
            "--rm",
            &image,
            "true",
        ],
    );
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(
        out.stderr.contains("gpu/nvidia") && out.stderr.contains("filesystem/linux"),
        "{}",
        out.stderr
    );
    // Without filesystem/linux, an image cannot be run: said, not silently ignored.
    let out = ucr(
        &c,
        &["--isolation", "cgroups/cpu", "run", "--rm", &image, "true"],
    );
    assert_eq!(out.code, 125, "{}", out.all());
    assert!(out.stderr.contains("filesystem/linux"), "{}", out.stderr);
}

/// A task run as another user holds no capability unless it asked for some (Mesos `effective_capabilities`,
/// `--cap`): the default set is a root task's, and with SETUID or DAC_OVERRIDE the user switch would mean
/// nothing. What it asked for it holds across exec (ambient).
#[test]
fn a_non_root_task_holds_only_the_capabilities_it_asked_for() {
    let (_reg, image) = busybox_registry();
    let c = Containers::new();
    let probe = "grep -E '^Cap(Eff|Prm|Amb|Bnd)' /proc/self/status; \
                 touch /etc/x 2>/dev/null && echo WROTE || echo DENIED";
    let caps = status_hex;
    let out = sh(&c, &["--user", "65534:65534"], &image, probe);
    assert_eq!(out.code, 0, "{}", out.all());
    for set in ["CapEff:", "CapPrm:", "CapAmb:"] {
        assert_eq!(caps(&out, set), 0, "{set} {}", out.all());
    }
    assert_eq!(
        caps(&out, "CapBnd:") & 1,
        1,
        "CHOWN stays bounding: {}",
        out.all()
    );
    assert!(
        out.stdout.ends_with("DENIED\n"),
        "root's files are not nobody's: {}",
        out.all()
    );
    // Its sandbox is its own (as Mesos chowns it), so its working directory is writable.
    let out = sh(
        &c,
        &["--user", "65534:65534"],
        &image,
        "touch $MESOS_SANDBOX/mine && stat -c %u:%g $MESOS_SANDBOX $MESOS_SANDBOX/stdout",
    );
    assert_eq!(out.stdout, "65534:65534\n65534:65534\n", "{}", out.all());

    let bind = 1u64 << 10; // CAP_NET_BIND_SERVICE
    let out = sh(
        &c,
        &["--user", "65534:65534", "--cap", "NET_BIND_SERVICE"],
        &image,
        probe,
    );
    assert_eq!(out.code, 0, "{}", out.all());
    assert_eq!(caps(&out, "CapEff:"), bind, "{}", out.all());
    assert_eq!(caps(&out, "CapAmb:"), bind, "{}", out.all());
    assert!(out.stdout.ends_with("DENIED\n"), "{}", out.all());

    // Root keeps the default set.
    let out = sh(&c, &[], &image, probe);
    assert_eq!(caps(&out, "CapEff:") & 1, 1, "{}", out.all());
    assert!(out.stdout.ends_with("WROTE\n"), "{}", out.all());
}
