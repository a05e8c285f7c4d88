//! Shared by the end-to-end tests: run the real `ucr` binary with a private `--root` in a tempdir.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use ucr_fixtures::image::{busybox_image, ManifestFormat};
use ucr_fixtures::registry::Registry;

pub mod oci;
pub mod term;

pub const UCR: &str = env!("CARGO_BIN_EXE_ucr");

/// The host as the tests see it. Most tests only read it and run side by side; a test that measures the CPUs
/// or counts host-wide things (veths, iptables lines, CNI leases) takes it for itself with [`exclusive`], so
/// no other test's spinners, pulls or bridges run meanwhile (what separate test binaries used to give them).
static HOST: RwLock<()> = RwLock::new(());

thread_local! {
    /// This thread holds the host for itself: its own `Ucr`s must not wait for the read side.
    static ALONE: Cell<bool> = const { Cell::new(false) };
    /// The read side, taken once per thread however many `Ucr`s it has: a second read while a writer waits
    /// would deadlock the writer-preferring lock.
    static READERS: RefCell<(usize, Option<RwLockReadGuard<'static, ()>>)> = const { RefCell::new((0, None)) };
}

/// The host for this test alone, until the guard drops.
pub struct Exclusive(#[allow(dead_code)] RwLockWriteGuard<'static, ()>);

impl Drop for Exclusive {
    fn drop(&mut self) {
        ALONE.with(|a| a.set(false));
    }
}

pub fn exclusive() -> Exclusive {
    let g = HOST.write().unwrap_or_else(|e| e.into_inner());
    ALONE.with(|a| a.set(true));
    Exclusive(g)
}

/// One `Ucr`'s share of its thread's read side (not `Send`: it counts on the thread that made it).
pub struct Shared(PhantomData<*const ()>);

impl Drop for Shared {
    fn drop(&mut self) {
        READERS.with(|r| {
            let mut r = r.borrow_mut();
            r.0 -= 1;
            if r.0 == 0 {
                r.1 = None;
            }
        });
    }
}

/// The read side, held by every [`Ucr`] of a test that does not hold the host alone.
fn shared() -> Option<Shared> {
    if ALONE.with(|a| a.get()) {
        return None;
    }
    READERS.with(|r| {
        let mut r = r.borrow_mut();
        if r.0 == 0 {
            r.1 = Some(HOST.read().unwrap_or_else(|e| e.into_inner()));
        }
        r.0 += 1;
    });
    Some(Shared(PhantomData))
}

pub struct Ucr {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
    _host: Option<Shared>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "ucr failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
}

impl Ucr {
    /// A fresh root on tmpfs when there is one (store-heavy tests are slow on the root ext4 of CI machines).
    pub fn new() -> Ucr {
        let base = if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        };
        let dir = tempfile::Builder::new()
            .prefix("ucr-e2e-")
            .tempdir_in(base)
            .expect("tempdir");
        // An empty HOME so no developer's ~/.docker/config.json leaks into a test.
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        Ucr {
            dir,
            env: vec![("HOME".into(), home.display().to_string())],
            _host: shared(),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn store(&self) -> PathBuf {
        self.root().join("store/docker")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out: Output = Command::new(UCR)
            .arg("--root")
            .arg(self.root())
            .arg("--runtime-dir")
            .arg(self.dir.path().join("run"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("spawn ucr");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Files under the store's blobs/ and layers/ and images/ (for "nothing unverified is kept" checks).
    pub fn store_entries(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["blobs/sha256", "layers/sha256", "images", "staging"] {
            if let Ok(rd) = std::fs::read_dir(self.store().join(sub)) {
                for e in rd.flatten() {
                    out.push(format!("{sub}/{}", e.file_name().to_string_lossy()));
                }
            }
        }
        out.sort();
        out
    }

    /// `ucr store check` finds nothing wrong.
    #[track_caller]
    pub fn assert_store_ok(&self) {
        let out = self.run(&["store", "check"]).ok();
        assert!(out.stdout.contains("0 problems"), "{}", out.stdout);
    }

    /// Nothing of a failing layer (its blob or unpacked tree), no image record and no staging is left. Other
    /// layers verified before the failure may stay: they are correct, content-addressed and reused by a retry.
    #[track_caller]
    pub fn assert_nothing_of(&self, digest: &str, diff_id: &str) {
        let entries = self.store_entries();
        let (hex, diff) = (
            digest.trim_start_matches("sha256:"),
            diff_id.trim_start_matches("sha256:"),
        );
        assert!(
            !entries.iter().any(|e| e.contains(hex) || e.contains(diff)),
            "nothing of the bad layer: {entries:?}"
        );
        assert!(
            !entries.iter().any(|e| e.starts_with("images/")),
            "no image record: {entries:?}"
        );
        assert!(
            !entries.iter().any(|e| e.starts_with("staging/")),
            "staging empty: {entries:?}"
        );
    }
}

// ---- Containers (tests/run.rs, tests/run_specs.rs) -------------------------------------------------------

use std::io::{Read as _, Write as _};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long any single `ucr` command may take before a test calls it hung (a pull included).
pub const CMD_TIMEOUT: Duration = Duration::from_secs(120);

impl Ucr {
    /// Like [`Ucr::new`], with a tempdir name starting with `prefix` (a long one makes every path deep).
    pub fn with_prefix(prefix: &str) -> Ucr {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in("/dev/shm")
            .expect("tempdir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        Ucr {
            dir,
            env: vec![("HOME".into(), home.display().to_string())],
            _host: shared(),
        }
    }

    pub fn runtime_dir(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// The command [`Ucr::run`] runs, for callers that need stdin or a child to watch.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(UCR);
        c.arg("--root")
            .arg(self.root())
            .arg("--runtime-dir")
            .arg(self.runtime_dir())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    /// Starts `ucr ARGS` with stdout and stderr captured (read by threads, so a chatty child never blocks).
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        self.spawn_cmd(self.command(args).stdin(Stdio::null()))
    }

    fn spawn_cmd(&self, c: &mut Command) -> Spawned {
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ucr");
        let drain = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = r.read_to_end(&mut v);
                String::from_utf8_lossy(&v).into_owned()
            })
        };
        let out = drain(Box::new(child.stdout.take().expect("stdout")));
        let err = drain(Box::new(child.stderr.take().expect("stderr")));
        Spawned {
            child,
            out: Some(out),
            err: Some(err),
        }
    }

    /// `ucr ARGS` with a deadline: a hung command fails the test instead of hanging it.
    pub fn run_for(&self, args: &[&str], timeout: Duration) -> Run {
        self.spawn(args).wait_for(timeout)
    }

    /// `ucr ARGS` with `stdin` as its standard input (e.g. `launch -`).
    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut c = self.command(args);
        let mut s = self.spawn_cmd(c.stdin(Stdio::piped()));
        let mut pipe = s.child.stdin.take().expect("stdin");
        // A command may end without reading its input (a refusal): the write then finds no reader.
        match pipe.write_all(stdin.as_bytes()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
            _ => drop(pipe),
        }
        s.wait_for(CMD_TIMEOUT)
    }
}

/// A running `ucr` command.
pub struct Spawned {
    pub child: Child,
    out: Option<std::thread::JoinHandle<String>>,
    err: Option<std::thread::JoinHandle<String>>,
}

impl Spawned {
    /// Whether it has exited, without waiting.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits up to `timeout`; on expiry kills it and panics (with what it printed so far).
    #[track_caller]
    pub fn wait_for(mut self, timeout: Duration) -> Run {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break Some(st);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let join = |h: Option<std::thread::JoinHandle<String>>| {
            h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
        };
        let (stdout, stderr) = (join(self.out.take()), join(self.err.take()));
        let Some(status) = status else {
            panic!("ucr hung for {timeout:?}\nstdout: {stdout}\nstderr: {stderr}");
        };
        Run {
            code: status.code().unwrap_or(-1),
            stdout,
            stderr,
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // A test that panicked before waiting must not leave its `ucr` child running.
        if self.out.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A [`Ucr`] whose containers are all removed (`rm --force`) when it is dropped, and whose leftovers (processes in
/// their cgroups, the cgroups, mounts under its tempdir) are then cleaned by hand: a failing test must not leak
/// into the machine or into the tests that run after it. Container ids come from [`Containers::id`], unique
/// across test processes, so a container's cgroup is found by its id under any instance's `/ucr/<instance>`.
pub struct Containers {
    pub ucr: Ucr,
    ids: Mutex<Vec<String>>,
}

impl std::ops::Deref for Containers {
    type Target = Ucr;
    fn deref(&self) -> &Ucr {
        &self.ucr
    }
}

impl Default for Containers {
    fn default() -> Self {
        Self::new()
    }
}

impl Containers {
    pub fn new() -> Containers {
        Self::wrap(Ucr::new())
    }

    pub fn wrap(ucr: Ucr) -> Containers {
        Containers {
            ucr,
            ids: Mutex::new(Vec::new()),
        }
    }

    /// `<base>-<pid>-<n>`: unique on this machine, and only `[A-Za-z0-9_.-]`, so the libcontainer id and the
    /// cgroup name equal it.
    pub fn id(&self, base: &str) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "{base}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.ids.lock().expect("ids").push(id.clone());
        id
    }

    /// The `ucr ps --all --json` entry of `id`.
    pub fn ps(&self, id: &str) -> Option<serde_json::Value> {
        let out = self.run_for(&["ps", "--all", "--json"], CMD_TIMEOUT).ok();
        out.stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("ps --json line"))
            .find(|v| v["id"] == id)
    }

    /// Polls `ps` until `id` is RUNNING with a pid; returns the pid.
    #[track_caller]
    pub fn wait_running(&self, id: &str) -> i32 {
        let deadline = Instant::now() + CMD_TIMEOUT;
        loop {
            if let Some(v) = self.ps(id) {
                if v["state"] == "RUNNING" {
                    if let Some(pid) = v["pid"].as_i64() {
                        return pid as i32;
                    }
                }
                assert_ne!(v["state"], "EXITED", "{id} exited before running: {v}");
            }
            assert!(Instant::now() < deadline, "{id} never got RUNNING");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn cleanup(&self) {
        let mut ids = self.ids.lock().map(|v| v.clone()).unwrap_or_default();
        if let Ok(rd) = std::fs::read_dir(self.runtime_dir().join("containers")) {
            ids.extend(
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned()),
            );
        }
        ids.sort();
        ids.dedup();
        for id in &ids {
            if self.runtime_dir().join("containers").join(id).exists() {
                let s = self.spawn(&["rm", "--force", id]);
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    s.wait_for(Duration::from_secs(60))
                }));
            }
        }
        // What `rm --force` should have left nothing of; if it did not, the test asserting that fails, and the
        // machine is still cleaned here.
        for id in &ids {
            for _ in 0..100 {
                let procs = procs_in_cgroup(id);
                for pid in &procs {
                    // SAFETY: kill(2) has no memory effects; a stale pid at worst gets ESRCH.
                    unsafe { libc::kill(*pid, libc::SIGKILL) };
                }
                let dirs = cgroup_dirs(id);
                for d in &dirs {
                    let _ = std::fs::remove_dir(d);
                }
                if procs.is_empty() && cgroup_dirs(id).is_empty() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let mut mounts = mounts_under(self.dir.path());
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            if let Ok(c) = std::ffi::CString::new(m) {
                // SAFETY: a valid NUL-terminated path; MNT_DETACH never blocks on busy mounts.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Pids of processes in the cgroup of container `id` (`/ucr/<instance>/<id>`, or below it) of any hierarchy.
pub fn procs_in_cgroup(id: &str) -> Vec<i32> {
    let (end, below) = (format!("/{id}"), format!("/{id}/"));
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cg) = std::fs::read_to_string(e.path().join("cgroup")) else {
            continue;
        };
        let inside = cg.lines().any(|l| {
            let path = l.splitn(3, ':').nth(2).unwrap_or("");
            path.starts_with("/ucr/") && (path.ends_with(&end) || path.contains(&below))
        });
        if inside {
            out.push(pid);
        }
    }
    out
}

/// Cgroup directories of container `id` (`ucr/<instance>/<id>`) in every mounted hierarchy (v1 controllers, the
/// v2 tree). Ids are unique per test, so any instance's will do.
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut bases = vec![PathBuf::from("/sys/fs/cgroup")];
    if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
        bases.extend(rd.flatten().map(|e| e.path()));
    }
    for b in bases {
        let Ok(instances) = std::fs::read_dir(b.join("ucr")) else {
            continue;
        };
        for i in instances.flatten() {
            let d = i.path().join(id);
            if d.is_dir() && !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// Mount points at or below `dir` in this process's mount namespace.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let prefix = dir.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|m| m == &prefix || m.starts_with(&format!("{prefix}/")))
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.len() >= i + 4 {
            let digits = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(digits, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A plain-HTTP registry holding busybox as `bb:1`, and that image's reference.
pub fn busybox_registry() -> (Registry, String) {
    let reg = Registry::plain();
    reg.push("bb", "1", &busybox_image(ManifestFormat::Oci));
    let image = format!("{}/bb:1", reg.host);
    (reg, image)
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => out.extend(files_containing(&p, needle)),
            Ok(t) if t.is_file() => {
                let bytes = std::fs::read(&p).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    out.push(p.display().to_string());
                }
            }
            _ => {}
        }
    }
    out
}
