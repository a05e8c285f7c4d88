//! Running one CNI plugin (CNI spec 1.1, "Execution protocol"): the plugin binary named by `type` is looked up
//! in the search path, run with the `CNI_*` variables, the network config on stdin, and answers with a result
//! (ADD) or nothing (DEL) on stdout; on failure it exits non-zero with `{"code", "msg", "details"}` on stdout.
//!
//! The environment is cleared except for `PATH` (plugins run iptables and ip): nothing of the caller's
//! environment, credentials included, reaches a plugin.

use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::error::{IsolatorError, Result};

/// How long one plugin call may take. Real ADDs take tens of milliseconds and DELs a fraction of a second.
#[cfg(not(test))]
pub const PLUGIN_TIMEOUT: Duration = Duration::from_secs(60);
#[cfg(test)]
pub const PLUGIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What every plugin of one attachment is told.
#[derive(Clone, Debug)]
pub struct Invocation<'a> {
    pub network: &'a str,
    pub container_id: &'a str,
    pub netns: &'a Path,
    pub ifname: &'a str,
    /// `:`-separated plugin search path (CNI_PATH).
    pub cni_path: &'a str,
    /// The host's CNI lock (`host_lock.rs`), given to every plugin so that it holds the lock as long as it runs.
    pub lock: Option<BorrowedFd<'a>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Add,
    Del,
}

impl Cmd {
    pub fn as_str(self) -> &'static str {
        match self {
            Cmd::Add => "ADD",
            Cmd::Del => "DEL",
        }
    }
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Invocation<'_> {
    fn err(&self, plugin: &str, cmd: Cmd, why: impl Into<String>) -> IsolatorError {
        IsolatorError::Cni {
            network: self.network.to_string(),
            plugin: format!("plugin {plugin} ({})", cmd.as_str()),
            why: why.into(),
        }
    }

    /// The executable for plugin `kind`, from the first search-path dir that has it.
    pub fn find(&self, kind: &str) -> Result<PathBuf> {
        // A type is a file name, never a path: a config must not make us run an arbitrary binary.
        if kind.is_empty() || kind.contains('/') || kind == "." || kind == ".." {
            return Err(self.err(kind, Cmd::Add, "not a plugin name"));
        }
        self.cni_path
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(kind))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                self.err(
                    kind,
                    Cmd::Add,
                    format!("not found in {} (--network_cni_plugins_dir)", self.cni_path),
                )
            })
    }

    /// Runs plugin `kind` with `config` on stdin. ADD returns the plugin's result; DEL returns Null.
    pub fn exec(&self, cmd: Cmd, kind: &str, config: &Value) -> Result<Value> {
        let bin = self.find(kind).map_err(|e| match e {
            IsolatorError::Cni { why, .. } => self.err(kind, cmd, why),
            other => other,
        })?;
        let input = serde_json::to_vec(config).map_err(|e| self.err(kind, cmd, e.to_string()))?;
        let mut command = Command::new(&bin);
        if let Some(lock) = self.lock.map(|l| l.as_raw_fd()) {
            // SAFETY: fcntl is async-signal-safe, and it changes the child's copy of the descriptor only.
            unsafe {
                command.pre_exec(move || {
                    rustix::io::fcntl_setfd(
                        BorrowedFd::borrow_raw(lock),
                        rustix::io::FdFlags::empty(),
                    )
                    .map_err(std::io::Error::from)
                });
            }
        }
        let mut child = command
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
            )
            .env("CNI_COMMAND", cmd.as_str())
            .env("CNI_CONTAINERID", self.container_id)
            .env("CNI_NETNS", self.netns)
            .env("CNI_IFNAME", self.ifname)
            .env("CNI_PATH", self.cni_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| self.err(kind, cmd, format!("{}: {e}", bin.display())))?;
        // The config is far smaller than a pipe buffer and plugins read all of stdin before they write, so
        // writing it all before reading the output cannot deadlock.
        if let Some(mut stdin) = child.stdin.take() {
            if let Err(e) = stdin.write_all(&input) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(self.err(kind, cmd, format!("writing its config: {e}")));
            }
        }
        // A plugin that hangs (a stuck iptables lock, a dead DHCP daemon) must not hang the launch or the
        // teardown with it: a watchdog kills its process group after PLUGIN_TIMEOUT. The whole group, because
        // a child of the plugin (iptables, sleep) would keep the output pipes open. The plugin cannot have been
        // reaped yet when the watchdog fires: it is reaped only after its pipes closed, and then `done` drops.
        let pgid = child.id() as i32;
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let watchdog = std::thread::spawn(move || {
            let timed_out = matches!(
                finished.recv_timeout(PLUGIN_TIMEOUT),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout)
            );
            if timed_out {
                // SAFETY: kill(2) of a process group we created; it has no memory effects.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
            }
            timed_out
        });
        let out = child.wait_with_output();
        drop(done);
        let timed_out = watchdog.join().unwrap_or(false);
        let out = out.map_err(|e| self.err(kind, cmd, e.to_string()))?;
        if timed_out {
            return Err(self.err(
                kind,
                cmd,
                format!("no answer after {} s; killed", PLUGIN_TIMEOUT.as_secs()),
            ));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !stderr.trim().is_empty() {
            tracing::debug!(
                network = self.network,
                plugin = kind,
                command = cmd.as_str(),
                "stderr: {}",
                stderr.trim()
            );
        }
        if !out.status.success() {
            return Err(self.err(kind, cmd, failure(&out.stdout, &stderr, out.status)));
        }
        if cmd == Cmd::Del {
            return Ok(Value::Null);
        }
        let result: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| self.err(kind, cmd, format!("its result is not JSON ({e})")))?;
        if !result.is_object() {
            return Err(self.err(kind, cmd, "its result is not a JSON object"));
        }
        Ok(result)
    }
}

/// One line from a failed plugin: its CNI error (`msg: details (code N)`), else its stderr, else its status.
fn failure(stdout: &[u8], stderr: &str, status: std::process::ExitStatus) -> String {
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Ok(v) = serde_json::from_slice::<Value>(stdout) {
        let msg = v.get("msg").and_then(Value::as_str).unwrap_or("");
        let details = v.get("details").and_then(Value::as_str).unwrap_or("");
        let code = v.get("code").and_then(Value::as_u64);
        if !msg.is_empty() || code.is_some() {
            let mut s = one_line(msg);
            if !details.is_empty() && !msg.contains(details) {
                s = format!("{s}: {}", one_line(details));
            }
            if let Some(c) = code {
                s = format!("{s} (CNI error {c}{})", code_name(c));
            }
            return s;
        }
    }
    let text = if stderr.trim().is_empty() {
        String::from_utf8_lossy(stdout).into_owned()
    } else {
        stderr.to_string()
    };
    match text.trim() {
        "" => format!("exited with {status}"),
        t => format!("{} ({status})", one_line(t)),
    }
}

/// The well-known error codes of the CNI spec.
fn code_name(code: u64) -> &'static str {
    match code {
        1 => ": incompatible CNI version",
        2 => ": unsupported field in network configuration",
        3 => ": container unknown or does not exist",
        4 => ": invalid necessary environment variables",
        5 => ": I/O failure",
        6 => ": failed to decode content",
        7 => ": invalid network config",
        11 => ": try again later",
        50 => ": plugin not available",
        51 => ": plugin not available, limited connectivity",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(dir: &Path, name: &str, body: &str) {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn inv<'a>(path: &'a str, netns: &'a Path) -> Invocation<'a> {
        Invocation {
            network: "net1",
            container_id: "c1",
            netns,
            ifname: "eth0",
            cni_path: path,
            lock: None,
        }
    }

    #[test]
    fn protocol_environment_stdin_and_result() {
        let d = tempfile::tempdir().expect("tempdir");
        // Echo the environment and stdin back as the result, so the test sees exactly what the plugin got.
        script(
            d.path(),
            "echoer",
            r#"cfg=$(cat); printf '{"cniVersion":"1.0.0","env":"%s","stdin":%s}' "$CNI_COMMAND $CNI_CONTAINERID $CNI_NETNS $CNI_IFNAME $CNI_PATH ${HOME:-clean}" "$cfg""#,
        );
        let path = format!("/nonexistent:{}", d.path().display());
        let ns = Path::new("/run/x/netns");
        let r = inv(&path, ns)
            .exec(Cmd::Add, "echoer", &serde_json::json!({"name": "net1"}))
            .expect("add");
        assert_eq!(r["env"], format!("ADD c1 /run/x/netns eth0 {path} clean"));
        assert_eq!(r["stdin"]["name"], "net1");
        assert_eq!(
            inv(&path, ns)
                .exec(Cmd::Del, "echoer", &serde_json::json!({}))
                .expect("del"),
            Value::Null
        );
    }

    #[test]
    fn a_hanging_plugin_and_its_children_are_killed_after_the_timeout() {
        let d = tempfile::tempdir().expect("tempdir");
        // The sleep is a child of the plugin and holds its stdout: killing the plugin alone would not end it.
        script(d.path(), "hanger", "cat >/dev/null; sleep 120; echo '{}'");
        let path = d.path().display().to_string();
        let t0 = std::time::Instant::now();
        let e = inv(&path, Path::new("/x"))
            .exec(Cmd::Add, "hanger", &serde_json::json!({}))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("plugin hanger (ADD): no answer after 5 s; killed"),
            "{e}"
        );
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(30),
            "{:?}",
            t0.elapsed()
        );
    }

    #[test]
    fn errors_name_network_plugin_and_cni_message() {
        let d = tempfile::tempdir().expect("tempdir");
        script(
            d.path(),
            "failer",
            r#"cat >/dev/null; printf '%s' '{"cniVersion":"1.0.0","code":7,"msg":"bad subnet","details":"10.0.0.0/33\nis invalid"}'; exit 1"#,
        );
        script(
            d.path(),
            "crasher",
            "cat >/dev/null; echo 'panic: boom' >&2; exit 2",
        );
        script(d.path(), "garbage", "cat >/dev/null; echo notjson");
        let path = d.path().display().to_string();
        let ns = Path::new("/x");
        let e = |kind: &str| {
            inv(&path, ns)
                .exec(Cmd::Add, kind, &serde_json::json!({}))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            e("failer"),
            "network/cni: network net1: plugin failer (ADD): bad subnet: 10.0.0.0/33 is invalid \
             (CNI error 7: invalid network config)"
        );
        assert!(
            e("crasher").ends_with("plugin crasher (ADD): panic: boom (exit status: 2)"),
            "{}",
            e("crasher")
        );
        assert!(
            e("garbage").contains("result is not JSON"),
            "{}",
            e("garbage")
        );
        assert!(
            e("missing").contains("plugin missing (ADD): not found in"),
            "{}",
            e("missing")
        );
        assert!(
            e("../bin/sh").contains("not a plugin name"),
            "{}",
            e("../bin/sh")
        );
    }
}
