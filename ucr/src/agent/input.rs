//! ATTACH_CONTAINER_INPUT: the one streaming request of Mesos's agent API. The body is RecordIO (`Content-Type:
//! application/recordio`, `Message-Content-Type: application/json`) of `agent.Call`s, read as they arrive: the
//! first `{"type":"ATTACH_CONTAINER_INPUT","attach_container_input":{"type":"CONTAINER_ID","container_id":..}}`,
//! then each `{"type":"ATTACH_CONTAINER_INPUT","attach_container_input":{"type":"PROCESS_IO","process_io":..}}`
//! with a `ProcessIO`: DATA/STDIN bytes (an empty one is EOF, except on a terminal, where clients send EOT),
//! CONTROL/TTY_INFO (the terminal's new size) or CONTROL/HEARTBEAT (ignored, as Mesos does). The answer comes
//! at the end: 200 when the body ends or the target does, 400 at the first bad record.
//!
//! Targets, as Mesos's IO switchboard has them: a session (its stdin pipe or pty), or a container launched
//! with `tty_info`, whose supervisor serves its pty's input on a console socket (`supervisor::console_input`).
//! Any other container has no switchboard: 500 "I/O switchboard server was disabled for this container", the
//! very text `dcos task attach` recognizes. One input at a time: a second gets 409 "Multiple input
//! connections are not allowed", as the switchboard answers.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use base64::Engine;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ucr_runtime::supervisor::console_input::{self, data_frame, window_frame, GREETING, MAX_FRAME};
use ucr_runtime::{ContainerError, State};

use super::calls::target;
use super::recordio::Records;
use super::reply::{not_found, Reply};
use super::sessions::Session;
use super::state::Agent;

const F: &str = "attach_container_input";
const NO_SWITCHBOARD: &str = "I/O switchboard server was disabled for this container";

/// A RecordIO request (its headers already checked): the call type, its container id and the reply. Only
/// ATTACH_CONTAINER_INPUT streams its request; any other call sent so is 415, as Mesos answers.
pub async fn streaming(agent: &Arc<Agent>, body: Body) -> (String, String, Reply) {
    let mut records = Records::new(body);
    let first = match records.next().await {
        Ok(Some(v)) => v,
        Ok(None) => {
            return fail(
                "-",
                StatusCode::BAD_REQUEST,
                "Received EOF while reading the request body",
            )
        }
        Err(e) => return fail("-", StatusCode::BAD_REQUEST, &e),
    };
    let Some(kind) = first
        .get("type")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return fail(
            "-",
            StatusCode::BAD_REQUEST,
            "Failed to validate agent::Call: Expecting 'type' to be present",
        );
    };
    if kind != "ATTACH_CONTAINER_INPUT" {
        return fail(
            &kind,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            &format!("Streaming request is not supported for {kind}: only ATTACH_CONTAINER_INPUT streams its body"),
        );
    }
    let id = super::calls::written_id(&first, F);
    let reply = attach(agent, &first, records).await;
    (kind, id, reply)
}

fn fail(kind: &str, status: StatusCode, why: &str) -> (String, String, Reply) {
    (kind.to_string(), String::new(), Reply::error(status, why))
}

async fn attach(agent: &Arc<Agent>, first: &Value, mut records: Records) -> Reply {
    if first
        .pointer("/attach_container_input/type")
        .and_then(Value::as_str)
        != Some("CONTAINER_ID")
    {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "Expecting 'attach_container_input.type' to be CONTAINER_ID",
        );
    }
    let id = match target(first, F) {
        Ok(id) => id,
        Err(r) => return r,
    };
    if let Some(s) = agent.sessions.get(&id) {
        if s.has_ended() {
            return Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Container {id} has terminated"),
            );
        }
        if !s.attach_input() {
            return conflict();
        }
        let reply = feed(&mut Target::Session(s.clone()), &mut records).await;
        s.detach_input();
        return reply;
    }
    match agent.c.container(&id) {
        Ok(st) if st.state == State::Running => {}
        Ok(_) => {
            return Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Container {id} is not running"),
            )
        }
        Err(ContainerError::NotFound(_)) => return not_found(&id),
        Err(e) => return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    match agent.c.container_config(&id) {
        Ok(Some(cfg)) if cfg.tty.is_some() => {}
        Ok(_) => return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, NO_SWITCHBOARD),
        Err(e) => return Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    let mut console = match connect(agent, &id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    feed(&mut console, &mut records).await
}

fn conflict() -> Reply {
    Reply::error(
        StatusCode::CONFLICT,
        "Multiple input connections are not allowed",
    )
}

/// Connect to the supervisor's console socket of `id` and take its greeting.
async fn connect(agent: &Arc<Agent>, id: &str) -> Result<Target, Reply> {
    let (paths, cid) = (agent.c.paths().clone(), id.to_string());
    let connected = tokio::task::spawn_blocking(move || {
        let s = console_input::connect(&paths, &cid)?;
        s.set_nonblocking(true)?;
        tokio::net::UnixStream::from_std(s)
    })
    .await;
    let mut stream = match connected {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return Err(Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Container {id} takes no input: its console is not served ({e})"),
            ))
        }
        Err(e) => {
            return Err(Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            ))
        }
    };
    let mut greeting = [0u8; 1];
    match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut greeting)).await {
        Ok(Ok(1)) if greeting[0] == GREETING => Ok(Target::Console(stream)),
        // Closed unanswered: another client has the input.
        Ok(Ok(_)) | Ok(Err(_)) => Err(conflict()),
        Err(_) => Err(Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Container {id}'s console did not answer"),
        )),
    }
}

enum Target {
    Session(Arc<Session>),
    Console(tokio::net::UnixStream),
}

impl Target {
    /// Resolves when the target's input has no reader any more (the session ended, the supervisor closed).
    async fn ended(&self) {
        match self {
            Target::Session(s) => s.ended().await,
            Target::Console(stream) => loop {
                // The supervisor sends nothing after its greeting: readable means closed.
                if stream.readable().await.is_err() {
                    return;
                }
                match stream.try_read(&mut [0u8; 64]) {
                    Ok(0) => return,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Ok(_) => {}
                    Err(_) => return,
                }
            },
        }
    }

    /// Stdin bytes; Ok(false) when the target is gone (the attach ends with 200).
    async fn write(&mut self, bytes: &[u8]) -> Result<bool, Reply> {
        match self {
            Target::Session(s) => {
                let mut input = s.input.lock().await;
                if bytes.is_empty() {
                    // EOF closes a pipe; a terminal takes EOT from the client instead.
                    if !s.tty {
                        *input = None;
                    }
                    return Ok(true);
                }
                let Some(sink) = input.as_mut() else {
                    return Ok(true);
                };
                if let Err(e) = sink.write(bytes).await {
                    drop(input);
                    // Its command is gone: the session ends in a moment, and that is no error of the client's.
                    if tokio::time::timeout(Duration::from_secs(2), s.ended())
                        .await
                        .is_ok()
                    {
                        return Ok(false);
                    }
                    return Err(Reply::error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("Failed writing to stdin: {e}"),
                    ));
                }
                Ok(true)
            }
            Target::Console(stream) => {
                for chunk in bytes.chunks(MAX_FRAME) {
                    if stream.write_all(&data_frame(chunk)).await.is_err() {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }

    async fn resize(&mut self, rows: u16, columns: u16) -> Result<bool, Reply> {
        let failed = |why: String| {
            Reply::error(
                StatusCode::BAD_REQUEST,
                format!("Unable to set the window size: {why}"),
            )
        };
        match self {
            Target::Session(s) => {
                let Some(master) = &s.master else {
                    return Err(failed("the session has no terminal".into()));
                };
                let w = rustix::termios::Winsize {
                    ws_row: rows,
                    ws_col: columns,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                rustix::termios::tcsetwinsize(master.get_ref(), w)
                    .map_err(|e| failed(e.to_string()))?;
                Ok(true)
            }
            Target::Console(stream) => {
                Ok(stream.write_all(&window_frame(rows, columns)).await.is_ok())
            }
        }
    }
}

/// What one PROCESS_IO record asks for.
#[derive(Debug, PartialEq, Eq)]
enum Io {
    Stdin(Vec<u8>),
    Window(u16, u16),
    Heartbeat,
}

/// The records after the first, to the end of the body or of the target.
async fn feed(target: &mut Target, records: &mut Records) -> Reply {
    loop {
        let next = tokio::select! {
            r = records.next() => r,
            () = target.ended() => return Reply::empty(StatusCode::OK),
        };
        let call = match next {
            Ok(Some(v)) => v,
            Ok(None) => return Reply::empty(StatusCode::OK),
            Err(e) => return Reply::error(StatusCode::BAD_REQUEST, e),
        };
        let io = match process_io(&call) {
            Ok(io) => io,
            Err(why) => return Reply::error(StatusCode::BAD_REQUEST, why),
        };
        let going = match io {
            Io::Stdin(bytes) => target.write(&bytes).await,
            Io::Window(rows, columns) => target.resize(rows, columns).await,
            Io::Heartbeat => Ok(true),
        };
        match going {
            Ok(true) => {}
            Ok(false) => return Reply::empty(StatusCode::OK),
            Err(r) => return r,
        }
    }
}

/// A record after the first, validated as Mesos validates `AttachContainerInput` and `ProcessIO`.
fn process_io(call: &Value) -> Result<Io, String> {
    let missing = |f: &str| format!("Expecting '{f}' to be present");
    let s = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
    if s(call, "/type").as_deref() != Some("ATTACH_CONTAINER_INPUT") {
        return Err("Expecting 'type' to be ATTACH_CONTAINER_INPUT".into());
    }
    let a = call
        .get(F)
        .filter(|v| !v.is_null())
        .ok_or_else(|| missing(F))?;
    if s(a, "/type").as_deref() != Some("PROCESS_IO") {
        return Err(format!("Expecting '{F}.type' to be PROCESS_IO"));
    }
    let p = a
        .get("process_io")
        .filter(|v| !v.is_null())
        .ok_or_else(|| missing(&format!("{F}.process_io")))?;
    match s(p, "/type").as_deref() {
        Some("DATA") => {
            if s(p, "/data/type").as_deref() != Some("STDIN") {
                return Err(format!("Expecting '{F}.process_io.data.type' to be STDIN"));
            }
            let data = s(p, "/data/data").unwrap_or_default();
            base64::engine::general_purpose::STANDARD
                .decode(data.as_bytes())
                .map(Io::Stdin)
                .map_err(|e| format!("'{F}.process_io.data.data' is not base64: {e}"))
        }
        Some("CONTROL") => match s(p, "/control/type").as_deref() {
            Some("TTY_INFO") => {
                let n = |k: &str| {
                    p.pointer(&format!("/control/tty_info/window_size/{k}"))
                        .and_then(Value::as_u64)
                        .map(|v| u16::try_from(v).unwrap_or(u16::MAX))
                };
                match (n("rows"), n("columns")) {
                    (Some(r), Some(c)) => Ok(Io::Window(r, c)),
                    _ => Err(missing(&format!(
                        "{F}.process_io.control.tty_info.window_size"
                    ))),
                }
            }
            Some("HEARTBEAT") => Ok(Io::Heartbeat),
            _ => Err(format!(
                "Expecting '{F}.process_io.control.type' to be TTY_INFO or HEARTBEAT"
            )),
        },
        _ => Err(format!(
            "Expecting '{F}.process_io.type' to be DATA or CONTROL"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wrap(io: Value) -> Value {
        json!({"type": "ATTACH_CONTAINER_INPUT", F: {"type": "PROCESS_IO", "process_io": io}})
    }

    #[test]
    fn process_io_records_as_mesos_shapes_them() {
        let data = wrap(json!({"type": "DATA", "data": {"type": "STDIN", "data": "aGkK"}}));
        assert_eq!(process_io(&data), Ok(Io::Stdin(b"hi\n".to_vec())));
        let eof = wrap(json!({"type": "DATA", "data": {"type": "STDIN", "data": ""}}));
        assert_eq!(process_io(&eof), Ok(Io::Stdin(Vec::new())));
        let size = wrap(json!({"type": "CONTROL", "control": {"type": "TTY_INFO",
            "tty_info": {"window_size": {"rows": 30, "columns": 100}}}}));
        assert_eq!(process_io(&size), Ok(Io::Window(30, 100)));
        let beat = wrap(json!({"type": "CONTROL", "control": {"type": "HEARTBEAT",
            "heartbeat": {"interval": {"nanoseconds": 30_000_000_000u64}}}}));
        assert_eq!(process_io(&beat), Ok(Io::Heartbeat));
        let stdout = wrap(json!({"type": "DATA", "data": {"type": "STDOUT", "data": ""}}));
        assert!(process_io(&stdout).is_err());
        // The bare AttachContainerInput is not a Call.
        assert!(process_io(&json!({"type": "PROCESS_IO", "process_io": {}})).is_err());
    }
}
