//! LAUNCH_NESTED_CONTAINER_SESSION: one more command in a running container, its output streamed back as
//! RecordIO `ProcessIO` DATA records (with a terminal, everything is STDOUT) until it ends, its stdin fed by
//! ATTACH_CONTAINER_INPUT, its life tied to the connection: a client that drops the stream has the command
//! killed, with everything it started in the container.
//!
//! How it runs: the command is `ucr exec --session -i [-t] TARGET -- CMD...`, the agent's own executable with
//! the agent's global options. The containerizer's exec forks into the container's namespaces and must be
//! called from a single-threaded process, which the agent (multi-threaded tokio) is not; a child process is
//! also what makes the tie to the connection cheap to keep: it is spawned in a session of its own with
//! `PR_SET_PDEATHSIG` (SIGKILL), so it dies with the agent too, and its exec kills the command when it dies
//! (`containerizer::exec`'s session mode). With a terminal the agent holds a pty's master and `ucr exec` its slave,
//! which it relays to the command's own terminal, made in the container's devpts (so `tty` names it there);
//! TTY_INFO resizes reach the command within the relay's tick. A dropped connection kills the tree from the host (`process::tree`): `ucr exec`, the command, its jobs and what
//! it left in its session.
//!
//! The spawn happens on an async worker thread, on purpose: `PR_SET_PDEATHSIG` fires when the *thread* that
//! forked the child ends, and tokio's worker threads live as long as the agent while its blocking threads
//! come and go.
//!
//! Mesos's order and codes: 400 for a malformed call (naming the field; a missing parent included), 404 when
//! the target is unknown or not running, 202 when the session's id is in use, then 200 and the stream. The
//! stream carries a CONTROL HEARTBEAT record every [`HEARTBEAT`], as Mesos's IO switchboard sends them, so an
//! idle session notices a dead connection.

use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use base64::Engine;
use serde_json::{json, Value};
use tokio::io::unix::AsyncFd;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use ucr_runtime::launcher::pty;
use ucr_runtime::{ContainerError, State};

use super::calls::{payload, target};
use super::reply::{record, Reply};
use super::sessions::{Session, Sink};
use super::state::Agent;

const F: &str = "launch_nested_container_session";
/// How often an idle session's stream carries a heartbeat record.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// A session as asked for.
struct Request {
    /// `<target>/<session>`.
    id: String,
    target: String,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    /// The command's user, if not the task's.
    user: Option<String>,
    /// A terminal, with its size if given.
    tty: Option<Option<(u16, u16)>>,
}

fn bad(why: impl Into<String>) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, why)
}

fn parse(call: &Value) -> Result<Request, Reply> {
    let id = target(call, F)?;
    let Some((parent, _)) = id.rsplit_once('/') else {
        return Err(bad(format!(
            "Failed to validate agent::Call: Expecting '{F}.container_id.parent' to be present"
        )));
    };
    let p = payload(call, F)?;
    let cmd = p.get("command").filter(|c| !c.is_null()).ok_or_else(|| {
        bad(format!(
            "Failed to validate agent::Call: Expecting '{F}.command' to be present"
        ))
    })?;
    let value = cmd.get("value").and_then(Value::as_str);
    let arguments: Vec<String> = match cmd.get("arguments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| bad(format!("'{F}.command.arguments' must be strings")))?,
        Some(_) => return Err(bad(format!("'{F}.command.arguments' must be a list"))),
    };
    // Mesos's CommandInfo: `shell` (the default) runs `value` with /bin/sh -c; otherwise `value` is the
    // program and `arguments` its argv, argv[0] included.
    let argv = match (
        cmd.get("shell").and_then(Value::as_bool).unwrap_or(true),
        value,
    ) {
        (true, Some(v)) => vec!["/bin/sh".to_string(), "-c".to_string(), v.to_string()],
        (false, Some(v)) => std::iter::once(v.to_string())
            .chain(arguments.into_iter().skip(1))
            .collect(),
        (_, None) => {
            return Err(bad(format!(
                "Failed to validate agent::Call: Expecting '{F}.command.value' to be present"
            )))
        }
    };
    // Mesos runs a nested container as its CommandInfo's user; without one, as its container's task user.
    let user = match cmd.get("user") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) if !u.is_empty() => Some(u.clone()),
        Some(u) => return Err(bad(format!("'{F}.command.user' is invalid: {u}"))),
    };
    let mut env = Vec::new();
    let vars = cmd
        .get("environment")
        .and_then(|e| e.get("variables"))
        .and_then(Value::as_array);
    for v in vars.into_iter().flatten() {
        let name = v.get("name").and_then(Value::as_str);
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("VALUE");
        match (name, kind, v.get("value").and_then(Value::as_str)) {
            (Some(n), "VALUE", Some(val)) if !n.is_empty() && !n.contains('=') => {
                env.push((n.to_string(), val.to_string()))
            }
            _ => {
                return Err(bad(format!(
                    "'{F}.command.environment.variables' is invalid: {v} (a session takes VALUE variables only)"
                )))
            }
        }
    }
    let container = p.get("container").filter(|c| !c.is_null());
    // A session runs in its target's root filesystem: an image of its own is what Mesos's NOT_SUPPORTED says.
    if container.is_some_and(|c| c.pointer("/mesos/image").is_some()) {
        return Err(bad("The provided ContainerInfo is not supported"));
    }
    let tty = container
        .and_then(|c| c.get("tty_info"))
        .filter(|t| !t.is_null())
        .map(|t| {
            let w = t.get("window_size");
            let n = |k: &str| w.and_then(|w| w.get(k)).and_then(Value::as_u64);
            match (n("rows"), n("columns")) {
                (Some(r), Some(c)) => Some((
                    u16::try_from(r).unwrap_or(u16::MAX),
                    u16::try_from(c).unwrap_or(u16::MAX),
                )),
                _ => None,
            }
        });
    Ok(Request {
        target: parent.to_string(),
        id,
        argv,
        env,
        user,
        tty,
    })
}

pub async fn launch(agent: &Arc<Agent>, call: &Value) -> Reply {
    let req = match parse(call) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let not_found = || {
        Reply::error(
            StatusCode::NOT_FOUND,
            format!("Container {} cannot be found", req.target),
        )
    };
    let pid = match agent.c.container(&req.target) {
        Ok(st) if st.state == State::Running && st.task_alive() => st.pid,
        Ok(_) | Err(ContainerError::NotFound(_)) => return not_found(),
        Err(e) => return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    // A user the container does not know is the request's fault, said before any stream: looked up in the
    // files the task sees, as `ucr exec` will.
    if let (Some(user), Some(pid)) = (&req.user, pid) {
        if let Err(why) = ucr_runtime::containerizer::exec::task_user(pid, user) {
            return bad(format!("'{F}.command.user' is invalid: {why}"));
        }
    }
    let running = agent.sessions.get(&req.id).is_some_and(|s| !s.has_ended());
    if running || agent.c.exists(&req.id) {
        return Reply::empty(StatusCode::ACCEPTED);
    }
    let spawned = match spawn(agent, &req) {
        Ok(s) => s,
        Err(e) => {
            return Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Failed to start the session: {e}"),
            )
        }
    };
    let (child, pidfd, io) = spawned;
    let pid = child.id() as i32;
    let (sink, out, master) = io;
    let session = Session::new(req.id.clone(), pid, sink, master);
    if !agent.sessions.claim(session.clone()) {
        // Another launch of the same id got there first.
        tokio::task::spawn_blocking(move || {
            session.kill();
            let mut child = child;
            let _ = child.wait();
        });
        return Reply::empty(StatusCode::ACCEPTED);
    }
    tracing::info!(session = %req.id, pid, tty = req.tty.is_some(), "session started");
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(drive(session.clone(), child, pidfd, out, tx));
    let tie = Tie(session);
    let stream = futures_util::stream::unfold((rx, tie), |(mut rx, tie)| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), (rx, tie)))
    });
    Reply::Stream(Body::from_stream(stream))
}

/// Held by the response stream: dropped before the session has ended, the client went away, and the session
/// is killed.
struct Tie(Arc<Session>);

impl Drop for Tie {
    fn drop(&mut self) {
        if self.0.has_ended() {
            return;
        }
        tracing::warn!(session = %self.0.id, "the session's connection closed: killing it");
        let s = self.0.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(move || s.kill());
            }
            Err(_) => s.kill(),
        }
    }
}

/// Where the session's output comes from.
enum Out {
    Tty(Arc<AsyncFd<OwnedFd>>),
    Pipes(
        tokio::net::unix::pipe::Receiver,
        tokio::net::unix::pipe::Receiver,
    ),
}

type Spawned = (
    std::process::Child,
    AsyncFd<OwnedFd>,
    (Sink, Out, Option<Arc<AsyncFd<OwnedFd>>>),
);

/// Start `ucr exec` for the session: its stdio, and a pidfd that is readable when it has exited.
fn spawn(agent: &Agent, req: &Request) -> std::io::Result<Spawned> {
    let sup = &agent.c.config().supervisor;
    let mut cmd = Command::new(&sup.exe);
    // The agent's global options, so `ucr exec` finds the same containers, but quiet: its stderr is the
    // session's.
    let mut globals = sup.args.iter();
    while let Some(a) = globals.next() {
        if a == "--log-level" {
            globals.next();
            continue;
        }
        cmd.arg(a);
    }
    cmd.args(["--log-level", "error", "exec", "--session", "-i"]);
    if req.tty.is_some() {
        cmd.arg("-t");
    }
    for (k, v) in &req.env {
        cmd.arg("-e").arg(format!("{k}={v}"));
    }
    if let Some(u) = &req.user {
        cmd.arg(format!("--user={u}"));
    }
    cmd.arg(&req.target).arg("--").args(&req.argv);
    cmd.env_remove("UCR_LOG");
    let agent_pid = std::process::id() as i32;
    // SAFETY: only async-signal-safe calls between fork and exec (setsid, prctl, getppid).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The agent died before the prctl: nobody would kill this session.
            if libc::getppid() != agent_pid {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    let (child, io) = match req.tty {
        Some(size) => {
            let (master, slave) = pty::open(size)?;
            cmd.stdin(Stdio::from(slave.try_clone()?))
                .stdout(Stdio::from(slave.try_clone()?))
                .stderr(Stdio::from(slave));
            let child = cmd.spawn()?;
            // Our copies of the slave go with `cmd`: from now on only the session holds it.
            drop(cmd);
            let master = Arc::new(register(master)?);
            let io = (
                Sink::Tty(master.clone()),
                Out::Tty(master.clone()),
                Some(master),
            );
            (child, io)
        }
        None => {
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn()?;
            let missing = || std::io::Error::other("a pipe of the child is missing");
            let stdin = OwnedFd::from(child.stdin.take().ok_or_else(missing)?);
            let stdout = OwnedFd::from(child.stdout.take().ok_or_else(missing)?);
            let stderr = OwnedFd::from(child.stderr.take().ok_or_else(missing)?);
            let sink = Sink::Pipe(tokio::net::unix::pipe::Sender::from_owned_fd(stdin)?);
            let out = Out::Pipes(
                tokio::net::unix::pipe::Receiver::from_owned_fd(stdout)?,
                tokio::net::unix::pipe::Receiver::from_owned_fd(stderr)?,
            );
            (child, (sink, out, None))
        }
    };
    let pid = rustix::process::Pid::from_child(&child);
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
    Ok((child, register(pidfd)?, io))
}

/// `fd` in the async reactor.
fn register(fd: OwnedFd) -> std::io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the AsyncFd owns the fd; nothing replaces or closes it while it is registered.
    unsafe { Ok(AsyncFd::register(fd)?) }
}

/// A DATA record of `kind` (STDOUT or STDERR).
fn data_record(kind: &str, bytes: &[u8]) -> Bytes {
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    Bytes::from(record(
        &json!({"type": "DATA", "data": {"type": kind, "data": data}}),
    ))
}

fn heartbeat_record() -> Bytes {
    Bytes::from(record(&json!({
        "type": "CONTROL",
        "control": {"type": "HEARTBEAT", "heartbeat": {"interval": {"nanoseconds": HEARTBEAT.as_nanos() as u64}}}
    })))
}

/// Copy the session's output into records for its stream (and other attached clients) until `ucr exec` has
/// exited, then record its end. Readers run as tasks of their own, so a background process that keeps the
/// output open cannot hold the end back: once `ucr exec` has exited, what is left is read until the output
/// stays quiet for a moment.
async fn drive(
    session: Arc<Session>,
    mut child: std::process::Child,
    pidfd: AsyncFd<OwnedFd>,
    out: Out,
    tx: mpsc::Sender<Bytes>,
) {
    let (chunk_tx, mut chunks) = mpsc::channel::<Bytes>(16);
    let mut readers = tokio::task::JoinSet::new();
    match out {
        Out::Tty(master) => {
            readers.spawn(read_master(master, chunk_tx));
        }
        Out::Pipes(o, e) => {
            readers.spawn(read_pipe(o, "STDOUT", chunk_tx.clone()));
            readers.spawn(read_pipe(e, "STDERR", chunk_tx));
        }
    }
    let mut primary = Some(tx);
    let mut heartbeat =
        tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    let mut output_open = true;
    loop {
        tokio::select! {
            c = chunks.recv(), if output_open => match c {
                Some(rec) => forward(&session, &mut primary, rec).await,
                None => output_open = false,
            },
            r = pidfd.readable() => {
                if let Ok(mut g) = r {
                    g.retain_ready();
                }
                break;
            }
            _ = heartbeat.tick() => {
                if let Some(p) = &primary {
                    if p.send(heartbeat_record()).await.is_err() {
                        primary = None;
                    }
                }
            }
        }
    }
    while output_open {
        match tokio::time::timeout(Duration::from_millis(100), chunks.recv()).await {
            Ok(Some(rec)) => forward(&session, &mut primary, rec).await,
            Ok(None) | Err(_) => output_open = false,
        }
    }
    readers.abort_all();
    session
        .finish(move || match child.wait() {
            Ok(status) => exec_status(status),
            Err(_) => libc::SIGKILL,
        })
        .await;
    tracing::info!(session = %session.id, "session ended");
    // Dropping `primary` ends the stream.
}

async fn forward(session: &Session, primary: &mut Option<mpsc::Sender<Bytes>>, rec: Bytes) {
    session.publish(&rec);
    if let Some(p) = primary {
        if p.send(rec).await.is_err() {
            *primary = None;
        }
    }
}

/// The command's raw wait status from `ucr exec`'s end: it exits with the command's code, or 128 + the signal
/// that ended the command (as a shell reports it, so an exit code above 128 reads as a signal).
fn exec_status(status: std::process::ExitStatus) -> i32 {
    match (status.code(), status.signal()) {
        (Some(c), _) if (129..=128 + 64).contains(&c) => c - 128,
        (Some(c), _) => (c & 0xff) << 8,
        (None, Some(sig)) => sig,
        (None, None) => status.into_raw(),
    }
}

async fn read_master(master: Arc<AsyncFd<OwnedFd>>, tx: mpsc::Sender<Bytes>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let Ok(mut guard) = master.readable().await else {
            return;
        };
        match guard.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut buf[..])?)) {
            Ok(Ok(n)) if n > 0 => {
                if tx.send(data_record("STDOUT", &buf[..n])).await.is_err() {
                    return;
                }
            }
            // EIO: every holder of the slave has closed it.
            Ok(_) => return,
            Err(_would_block) => continue,
        }
    }
}

async fn read_pipe(
    mut pipe: tokio::net::unix::pipe::Receiver,
    kind: &'static str,
    tx: mpsc::Sender<Bytes>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match pipe.read(&mut buf).await {
            Ok(n) if n > 0 => {
                if tx.send(data_record(kind, &buf[..n])).await.is_err() {
                    return;
                }
            }
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesos_command_info_to_argv() {
        let call = |cmd: Value, container: Value| {
            json!({"type": "LAUNCH_NESTED_CONTAINER_SESSION", F: {
                "container_id": {"value": "s", "parent": {"value": "t"}},
                "command": cmd, "container": container}})
        };
        let r = parse(&call(json!({"value": "echo hi"}), Value::Null))
            .map_err(|_| ())
            .expect("ok");
        assert_eq!((r.id.as_str(), r.target.as_str()), ("t/s", "t"));
        assert_eq!(r.argv, ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(r.tty, None);
        let r = parse(&call(
            json!({"value": "ls", "arguments": ["ls", "-l"], "shell": false,
                   "environment": {"variables": [{"name": "A", "value": "1"}]}}),
            json!({"type": "MESOS", "tty_info": {"window_size": {"rows": 30, "columns": 100}}}),
        ))
        .map_err(|_| ())
        .expect("ok");
        assert_eq!(r.argv, ["ls", "-l"]);
        assert_eq!(r.env, [("A".to_string(), "1".to_string())]);
        assert_eq!(r.tty, Some(Some((30, 100))));
        let r = parse(&call(json!({"value": "sh"}), json!({"tty_info": {}})))
            .map_err(|_| ())
            .expect("ok");
        assert_eq!(r.tty, Some(None));
        let no_parent = json!({"type": "LAUNCH_NESTED_CONTAINER_SESSION", F: {
            "container_id": {"value": "s"}, "command": {"value": "true"}}});
        match parse(&no_parent) {
            Err(Reply::Text(s, why)) => {
                assert_eq!(s, StatusCode::BAD_REQUEST);
                assert!(why.contains("container_id.parent"), "{why}");
            }
            _ => panic!("a missing parent is refused"),
        }
    }

    #[test]
    fn exit_codes_back_to_wait_statuses() {
        let st = |raw| std::process::ExitStatus::from_raw(raw);
        assert_eq!(exec_status(st(3 << 8)), 3 << 8);
        assert_eq!(exec_status(st(137 << 8)), 9);
        assert_eq!(exec_status(st(9)), 9);
    }
}
