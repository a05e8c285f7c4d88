//! The OCI runtime mode's test parts: `ucr-runc` (a symlink named so to the binary under test, as the README's
//! install makes it), busybox bundles, and a private containerd (its own config, root, state, socket and
//! namespace) driven with Debian's `ctr`. Each part removes what it made when dropped, also after a failure.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Run, UCR};

/// A tempdir on tmpfs when there is one (containerd's snapshots unpack there).
pub fn tempdir(prefix: &str) -> tempfile::TempDir {
    let base = match Path::new("/dev/shm").is_dir() {
        true => "/dev/shm",
        false => "/tmp",
    };
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(base)
        .expect("tempdir")
}

/// The fixture busybox as a docker archive named [`IMAGE`], written to `dir/busybox.tar`.
pub fn busybox_archive(dir: &Path) -> PathBuf {
    let img = ucr_fixtures::image::busybox_image(ucr_fixtures::image::ManifestFormat::DockerV2);
    let tar = ucr_fixtures::archive::modern_docker_archive(&img, IMAGE, IMAGE, false);
    let path = dir.join("busybox.tar");
    std::fs::write(&path, tar).expect("archive");
    path
}

/// `dir/ucr-runc` → the ucr binary.
pub fn runc_link(dir: &Path) -> PathBuf {
    let link = dir.join("ucr-runc");
    std::os::unix::fs::symlink(UCR, &link).expect("symlink ucr-runc");
    link
}

pub fn output(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("spawn");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `ucr-runc` with a private `--root`; every container left under it is force-deleted on drop.
pub struct Runc {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    pub root: PathBuf,
}

impl Runc {
    pub fn new() -> Runc {
        let dir = tempdir("ucr-runc-");
        let bin = runc_link(dir.path());
        let root = dir.path().join("state");
        Runc { dir, bin, root }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Output through files, not pipes: a created container's init inherits ucr-runc's stdout and stderr (as
    /// with runc, the caller's), and would hold a pipe open for as long as it lives.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = tempfile::tempfile().expect("stdout file");
        let err = tempfile::tempfile().expect("stderr file");
        let status = self
            .command(args)
            .stdout(out.try_clone().expect("dup"))
            .stderr(err.try_clone().expect("dup"))
            .status()
            .expect("spawn ucr-runc");
        let read = |mut f: std::fs::File| {
            use std::io::{Read, Seek};
            let mut s = String::new();
            let _ = f.rewind();
            let _ = f.read_to_string(&mut s);
            s
        };
        Run {
            code: status.code().unwrap_or(-1),
            stdout: read(out),
            stderr: read(err),
        }
    }

    /// The cgroup parent of this `Runc`'s containers (`/<tempdir name>/<bundle>`), removed on drop.
    pub fn cgroup_parent(&self) -> String {
        let name = self
            .dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        format!("/{}", name.unwrap_or_default())
    }

    /// `ucr-runc state ID`'s status ("" when there is no such container).
    pub fn status(&self, id: &str) -> String {
        let r = self.run(&["state", id]);
        serde_json::from_str::<serde_json::Value>(&r.stdout)
            .ok()
            .and_then(|v| v["status"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// `create` of `bundle` as `id` fails with `want` in its error, and leaves no container behind.
    pub fn refused_at_create(&self, bundle: &Path, id: &str, want: &str) {
        let c = self.run(&["create", "-b", &bundle.display().to_string(), id]);
        assert_eq!(c.code, 1, "{}", c.all());
        assert!(c.stderr.contains(want), "{}", c.stderr);
        assert!(self.run(&["list", "-q"]).stdout.trim().is_empty());
    }

    /// A bundle `name` of the busybox rootfs whose process runs `args`, with `edit` applied to the config.
    pub fn bundle(
        &self,
        name: &str,
        args: &[&str],
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> PathBuf {
        let b = self.dir.path().join(name);
        let rootfs = b.join("rootfs");
        std::fs::create_dir_all(&rootfs).expect("rootfs");
        let layer = ucr_fixtures::image::busybox_layer();
        tar::Archive::new(&layer[..])
            .unpack(&rootfs)
            .expect("unpack busybox");
        let spec = output(Command::new(&self.bin).args(["spec", "--bundle"]).arg(&b));
        assert_eq!(spec.code, 0, "spec: {}", spec.stderr);
        let path = b.join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("config")).expect("json");
        config["process"]["terminal"] = false.into();
        config["process"]["args"] = serde_json::json!(args);
        config["linux"]["cgroupsPath"] = format!("{}/{name}", self.cgroup_parent()).into();
        edit(&mut config);
        std::fs::write(&path, config.to_string()).expect("write config");
        b
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        let ids = self.run(&["list", "-q"]).stdout;
        for id in ids.lines() {
            let _ = self.run(&["delete", "--force", id]);
        }
        remove_empty_cgroups(&[&self.cgroup_parent()]);
    }
}

/// A containerd of the test's own, on a socket in its tempdir, in its own namespace.
pub struct Containerd {
    pub dir: tempfile::TempDir,
    pub runc: PathBuf,
    pub ns: String,
    daemon: Child,
}

pub const IMAGE: &str = "docker.io/library/busybox:ucr-test";

impl Containerd {
    pub fn start() -> Containerd {
        let dir = tempdir("ucr-containerd-");
        let d = dir.path();
        let config = format!(
            "version = 2\nroot = \"{r}/root\"\nstate = \"{r}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\", \"io.containerd.snapshotter.v1.btrfs\", \
             \"io.containerd.snapshotter.v1.zfs\", \"io.containerd.snapshotter.v1.devmapper\", \
             \"io.containerd.snapshotter.v1.aufs\", \"io.containerd.tracing.processor.v1.otlp\"]\n\
             [grpc]\n  address = \"{r}/c.sock\"\n[ttrpc]\n  address = \"{r}/c.sock.ttrpc\"\n\
             [debug]\n  address = \"{r}/debug.sock\"\n[metrics]\n  address = \"\"\n",
            r = d.display()
        );
        std::fs::write(d.join("config.toml"), config).expect("config");
        let log = std::fs::File::create(d.join("containerd.log")).expect("log");
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(d.join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start containerd (install Debian's containerd)");
        let runc = runc_link(d);
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ns = format!("ucr-{}-{n}", std::process::id());
        let c = Containerd {
            dir,
            runc,
            ns,
            daemon,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while c.ctr(&["version"]).code != 0 {
            assert!(
                Instant::now() < deadline,
                "containerd did not come up: {}",
                c.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        c
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("--address")
            .arg(self.dir.path().join("c.sock"))
            .arg("--namespace")
            .arg(&self.ns)
            .args(args)
            .stdin(Stdio::null());
        c
    }

    pub fn ctr(&self, args: &[&str]) -> Run {
        output(&mut self.command(args))
    }

    /// The fixture busybox, imported from a docker archive as [`IMAGE`].
    pub fn import_busybox(&self) {
        let path = busybox_archive(self.dir.path());
        let r = self.ctr(&["image", "import", &path.display().to_string()]);
        assert_eq!(r.code, 0, "import: {}", r.all());
    }

    /// `ctr run` through ucr-runc: `ctr run --runtime io.containerd.runc.v2 --runc-binary … EXTRA IMAGE ID ARGS`.
    pub fn run_args(&self, extra: &[&str], id: &str, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = ["run", "--runtime", "io.containerd.runc.v2", "--runc-binary"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.push(self.runc.display().to_string());
        v.push("--runc-root".into());
        v.push(self.dir.path().join("runc").display().to_string());
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push(IMAGE.into());
        v.push(id.into());
        v.extend(args.iter().map(|s| s.to_string()));
        v
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        for id in self.ctr(&["task", "ls", "-q"]).stdout.lines() {
            let _ = self.ctr(&["task", "kill", "-s", "SIGKILL", "--all", id]);
            let _ = self.ctr(&["task", "delete", "--force", id]);
        }
        for id in self.ctr(&["container", "ls", "-q"]).stdout.lines() {
            let _ = self.ctr(&["container", "delete", id]);
        }
        // SAFETY: SIGTERM to the daemon we spawned.
        unsafe { libc::kill(self.daemon.id() as i32, libc::SIGTERM) };
        let _ = self.daemon.wait();
        // Snapshot and rootfs mounts it may have left.
        unmount_under(self.dir.path());
        // The namespace's parent cgroup, which the runtime (like runc) leaves for the next container.
        remove_empty_cgroups(&[&self.ns]);
    }
}

/// Lazily unmount every mount at or under `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    let prefix = dir.display().to_string();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut ours: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&prefix))
        .collect();
    ours.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in ours {
        let _ = Command::new("umount").args(["-l", m]).status();
    }
}

/// rmdir each of `rels` (in order, children first) under every v1 controller and the v2 root: only an empty
/// cgroup goes, so one that something else still uses stays.
pub fn remove_empty_cgroups(rels: &[&str]) {
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    for c in std::fs::read_dir("/sys/fs/cgroup")
        .into_iter()
        .flatten()
        .flatten()
    {
        roots.push(c.path());
    }
    for root in roots {
        for rel in rels {
            let _ = std::fs::remove_dir(root.join(rel.trim_start_matches('/')));
        }
    }
}
