//! The agent as the tests run it: the real `ucr agent` on its unix socket and a TCP port of loopback, over a
//! [`Containers`] root (so every container is removed by the CLI after the test), talked to with `curl`, a real
//! HTTP client.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Containers, CMD_TIMEOUT, UCR};

pub use crate::common::busybox_registry;

/// A free TCP port of loopback (bound and released: good enough on a test machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub struct Agent {
    pub c: Containers,
    pub port: u16,
    extra: Vec<String>,
    child: Option<Child>,
}

/// An HTTP answer: status, headers (lower-case names) and body.
pub struct Answer {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

impl Agent {
    /// Starts an agent over a fresh root; `extra` are more `agent` options.
    pub fn start(extra: &[&str]) -> Agent {
        Self::over(Containers::new(), extra)
    }

    pub fn over(c: Containers, extra: &[&str]) -> Agent {
        let mut a = Agent {
            c,
            port: free_port(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        a.spawn();
        a.wait_serving();
        a
    }

    pub fn socket(&self) -> PathBuf {
        self.c.runtime_dir().join("ucr.sock")
    }

    fn spawn(&mut self) {
        let log = std::fs::File::create(self.c.dir.path().join("agent.log")).expect("agent log");
        let child = Command::new(UCR)
            .arg("--root")
            .arg(self.c.root())
            .arg("--runtime-dir")
            .arg(self.c.runtime_dir())
            .args(["--log-level", "info", "agent", "--listen"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(&self.extra)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.c.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn ucr agent");
        self.child = Some(child);
    }

    /// Until `/health` answers on the socket (recovery may still run: the API answers 503 then).
    fn wait_serving(&mut self) {
        let deadline = Instant::now() + CMD_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("the agent exited ({status}): {}", self.log());
            }
            let out = Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--unix-socket",
                ])
                .arg(self.socket())
                .arg("http://agent/health")
                .output()
                .expect("curl");
            if out.stdout == b"200" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the agent never served: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Until recovery is done (GET_HEALTH answers 200).
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + CMD_TIMEOUT;
        while self.call(r#"{"type":"GET_HEALTH"}"#).status != 200 {
            assert!(Instant::now() < deadline, "never recovered: {}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.c.dir.path().join("agent.log")).unwrap_or_default()
    }

    /// `POST /api/v1` on the socket with JSON.
    pub fn call(&self, json: &str) -> Answer {
        self.curl(&[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            json,
            "http://agent/api/v1",
        ])
    }

    /// curl on the socket with `args`.
    pub fn curl(&self, args: &[&str]) -> Answer {
        let mut cmd = Command::new("curl");
        cmd.arg("--unix-socket").arg(self.socket());
        curl(cmd, args)
    }

    /// curl over TCP; `url_path` is appended to `http://127.0.0.1:PORT`.
    pub fn curl_tcp(&self, args: &[&str], url_path: &str) -> Answer {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.push(format!("http://127.0.0.1:{}{url_path}", self.port));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        curl(Command::new("curl"), &refs)
    }

    /// The agent's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).expect("the agent runs")
    }

    /// SIGKILL, as a crash would.
    pub fn kill9(&mut self) {
        if let Some(mut ch) = self.child.take() {
            let _ = ch.kill();
            let _ = ch.wait();
        }
    }

    /// Starts it again over the same root (after `kill9`), and waits until it serves.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
        self.wait_serving();
    }

    /// A call posted with curl from a thread of its own (to crash the agent while it is answered).
    pub fn call_in_background(
        &self,
        body: String,
    ) -> std::thread::JoinHandle<std::io::Result<std::process::Output>> {
        let socket = self.socket();
        std::thread::spawn(move || {
            Command::new("curl")
                .args([
                    "-s",
                    "-H",
                    "Content-Type: application/json",
                    "--data-binary",
                    &body,
                ])
                .arg("--unix-socket")
                .arg(socket)
                .arg("http://agent/api/v1")
                .output()
        })
    }

    /// `LAUNCH_CONTAINER` of `image` running `cmd` with the shell, as Mesos's default command.
    pub fn launch(&self, id: &str, image: &str, cmd: &str) -> Answer {
        self.call(&launch_json(id, image, cmd))
    }

    /// `WAIT_CONTAINER`: the termination, or the failing answer.
    pub fn wait(&self, id: &str) -> Answer {
        self.call(&format!(
            r#"{{"type":"WAIT_CONTAINER","wait_container":{{"container_id":{{"value":"{id}"}}}}}}"#
        ))
    }
}

/// The GET_CONTAINERS entry (standalone containers listed) of container `id`, if listed.
pub fn listed(a: &Agent, id: &str) -> Option<serde_json::Value> {
    let list = a
        .call(r#"{"type":"GET_CONTAINERS","get_containers":{"show_standalone":true}}"#)
        .json();
    list["get_containers"]["containers"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["container_id"]["value"] == id).cloned())
}

pub fn launch_json(id: &str, image: &str, cmd: &str) -> String {
    serde_json::json!({
        "type": "LAUNCH_CONTAINER",
        "launch_container": {
            "container_id": {"value": id},
            "command": {"value": cmd},
            "container": {"type": "MESOS", "mesos": {"image": {"type": "DOCKER", "docker": {"name": image}}}},
        }
    })
    .to_string()
}

fn curl(mut cmd: Command, args: &[&str]) -> Answer {
    let dir = tempfile::tempdir().expect("tempdir");
    let headers = dir.path().join("headers");
    let out = cmd
        .args(["-s", "-D"])
        .arg(&headers)
        .args(["-o", "-", "-w", "\n%{http_code}", "--max-time", "120"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    Answer {
        status: code.trim().parse().unwrap_or(0),
        headers: std::fs::read_to_string(&headers)
            .unwrap_or_default()
            .to_lowercase(),
        body: body.to_string(),
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Mode bits of `p`.
pub fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0)
}
