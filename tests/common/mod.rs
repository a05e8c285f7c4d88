//! Shared by the end-to-end tests: run the real `ucr` binary with a private `--root` in a tempdir.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const UCR: &str = env!("CARGO_BIN_EXE_ucr");

pub struct Ucr {
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
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
