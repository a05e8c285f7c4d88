//! `POST /api/v1`: the checks Mesos's agent runs, in its order and with its status codes (MESOS-AGENT-API.md
//! §1.1), then the call. Before any of them, authentication when it is on (401, realm
//! `mesos-agent-readwrite`), as libprocess authenticates a route before its handler runs.
//!
//! 503 while recovering; 405 for another method; 400 without `Content-Type`; 415 for a type that is not JSON
//! (protobuf is understood by Mesos, not by ucr: its 415 says JSON is required); a RecordIO request body
//! (400 without `Message-Content-Type`, 415 unless it is JSON) is read record by record and is only for
//! ATTACH_CONTAINER_INPUT (`input`; any other call so sent is 415, and ATTACH_CONTAINER_INPUT sent as plain
//! JSON is 415 too); 406 when the client accepts no JSON, or a RecordIO stream for a call that has none
//! (only ATTACH_CONTAINER_OUTPUT and LAUNCH_NESTED_CONTAINER_SESSION stream their answer, and they need it);
//! 400 for a body that is not a valid call, naming the field; 501 for a Mesos call ucr does not serve. Calls
//! about a session are answered from the agent's memory of it (`session_calls`) before `calls`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;

use super::auth::REALM;
use super::calls;
use super::input;
use super::metrics::CallLabels;
use super::negotiate::{accepts_encoding, accepts_media, names_media};
use super::reply::Reply;
use super::session_calls;
use super::state::Agent;

/// The largest JSON call taken (axum's default body limit, as before calls could stream).
const MAX_BODY: usize = 2 << 20;

/// The calls whose answer is a RecordIO stream.
const STREAMING: [&str; 2] = ["ATTACH_CONTAINER_OUTPUT", "LAUNCH_NESTED_CONTAINER_SESSION"];

/// Every call type of mesos.v1.agent.Call: known to Mesos, so a type outside this list is a malformed call (400)
/// and one inside it that ucr does not serve is 501.
const MESOS_CALLS: &[&str] = &[
    "UNKNOWN",
    "GET_HEALTH",
    "GET_FLAGS",
    "SET_LOGGING_LEVEL",
    "LIST_FILES",
    "READ_FILE",
    "GET_STATE",
    "GET_CONTAINERS",
    "GET_FRAMEWORKS",
    "GET_EXECUTORS",
    "GET_OPERATIONS",
    "GET_TASKS",
    "GET_AGENT",
    "GET_RESOURCE_PROVIDERS",
    "LAUNCH_NESTED_CONTAINER",
    "WAIT_NESTED_CONTAINER",
    "KILL_NESTED_CONTAINER",
    "REMOVE_NESTED_CONTAINER",
    "LAUNCH_NESTED_CONTAINER_SESSION",
    "ATTACH_CONTAINER_INPUT",
    "ATTACH_CONTAINER_OUTPUT",
    "LAUNCH_CONTAINER",
    "WAIT_CONTAINER",
    "KILL_CONTAINER",
    "REMOVE_CONTAINER",
    "ADD_RESOURCE_PROVIDER_CONFIG",
    "UPDATE_RESOURCE_PROVIDER_CONFIG",
    "REMOVE_RESOURCE_PROVIDER_CONFIG",
    "MARK_RESOURCE_PROVIDER_GONE",
    "PRUNE_IMAGES",
    "GET_VERSION",
    "GET_METRICS",
];

pub async fn api(
    State(agent): State<Arc<Agent>>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let (call, id, reply) = handle(&agent, &method, &headers, body).await;
    let status = reply.status();
    agent
        .metrics
        .calls
        .get_or_create(&CallLabels {
            call: call.clone(),
            code: status.as_u16(),
        })
        .inc();
    tracing::info!(
        target: "ucr::agent",
        call = %call,
        container_id = %id,
        status = status.as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "api call"
    );
    // Bodies of 1 KiB and more are gzipped for a client that accepts it, as libprocess does for the agent.
    let gzip = accepts_encoding(header_str(&headers, "accept-encoding"), "gzip");
    let mut response = reply.respond(gzip);
    if status == StatusCode::UNAUTHORIZED {
        if let Ok(v) = format!("Basic realm=\"{REALM}\"").parse() {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    response
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The media type without parameters, lower case.
fn media(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The call's type, its container id (for the log line) and the reply.
async fn handle(
    agent: &Arc<Agent>,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
) -> (String, String, Reply) {
    let none = || ("-".to_string(), String::new());
    let fail = |status, why: &str| {
        let (c, i) = none();
        (c, i, Reply::error(status, why))
    };
    if let Some(creds) = &agent.auth {
        if creds.check(header_str(headers, "authorization")).is_none() {
            return fail(StatusCode::UNAUTHORIZED, "401 Unauthorized.");
        }
    }
    if !agent.is_ready() {
        return fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "Agent has not finished recovery",
        );
    }
    if method != Method::POST {
        return fail(
            StatusCode::METHOD_NOT_ALLOWED,
            "Expecting 'POST', received a different method",
        );
    }
    let Some(ctype) = header_str(headers, "content-type").map(media) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "Expecting 'Content-Type' to be present",
        );
    };
    match ctype.as_str() {
        "application/json" => {}
        "application/x-protobuf" => {
            return fail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "ucr's agent takes JSON only: send the call with Content-Type: application/json",
            )
        }
        "application/recordio" => {
            let Some(message) = header_str(headers, "message-content-type").map(media) else {
                return fail(StatusCode::BAD_REQUEST, "Expecting 'Message-Content-Type' to be present");
            };
            if message != "application/json" {
                return fail(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "ucr's agent takes JSON records only: send Message-Content-Type: application/json",
                );
            }
            // ATTACH_CONTAINER_INPUT's answer is plain: it needs JSON accepted, and no Message-Accept.
            if !accepts_media(header_str(headers, "accept"), "application/json") {
                return fail(
                    StatusCode::NOT_ACCEPTABLE,
                    "Expecting 'Accept' to allow application/json (ucr's agent answers JSON only)",
                );
            }
            if header_str(headers, "message-accept").is_some() {
                return fail(
                    StatusCode::NOT_ACCEPTABLE,
                    "Expecting 'Message-Accept' to not be set for non-streaming responses",
                );
            }
            return input::streaming(agent, body).await;
        }
        other => {
            return fail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                &format!("Expecting 'Content-Type' of application/json, application/x-protobuf or application/recordio, not '{other}'"),
            )
        }
    }
    if header_str(headers, "message-content-type").is_some() {
        return fail(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expecting 'Message-Content-Type' to be not set for non-streaming requests",
        );
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return fail(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("Failed to read the request body ({MAX_BODY} bytes at most): {e}"),
            )
        }
    };
    let body = &body;
    let accept = header_str(headers, "accept");
    let json_ok = accepts_media(accept, "application/json");
    let stream_ok = names_media(accept, "application/recordio");
    if !json_ok && !stream_ok {
        return fail(
            StatusCode::NOT_ACCEPTABLE,
            "Expecting 'Accept' to allow application/json (ucr's agent answers JSON only)",
        );
    }
    let call: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return fail(
                StatusCode::BAD_REQUEST,
                &format!("Failed to parse body into JSON: {e}"),
            )
        }
    };
    let kind = match call.get("type") {
        Some(serde_json::Value::String(t)) => t.clone(),
        None | Some(serde_json::Value::Null) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "Failed to validate agent::Call: Expecting 'type' to be present",
            )
        }
        Some(other) => {
            let why = format!("'type' must be a call name, not {other}");
            let why = format!("Failed to parse body into Call protobuf: {why}");
            return fail(StatusCode::BAD_REQUEST, &why);
        }
    };
    if !MESOS_CALLS.contains(&kind.as_str()) {
        return fail(
            StatusCode::BAD_REQUEST,
            &format!(
                "Failed to convert JSON into Call protobuf: 'type': unknown call type '{kind}'"
            ),
        );
    }
    if kind == "ATTACH_CONTAINER_INPUT" {
        return (
            kind,
            String::new(),
            Reply::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "ATTACH_CONTAINER_INPUT streams its request: send Content-Type: application/recordio",
            ),
        );
    }
    let streaming = STREAMING.contains(&kind.as_str());
    if streaming && !stream_ok {
        let why = format!("{kind} answers a stream: send 'Accept: application/recordio'");
        return (
            kind,
            String::new(),
            Reply::error(StatusCode::NOT_ACCEPTABLE, why),
        );
    }
    if !streaming && !json_ok {
        return (
            kind,
            String::new(),
            Reply::error(
                StatusCode::NOT_ACCEPTABLE,
                "Streaming responses are only for ATTACH_CONTAINER_OUTPUT and LAUNCH_NESTED_CONTAINER_SESSION",
            ),
        );
    }
    if !streaming && header_str(headers, "message-accept").is_some() {
        return (
            kind,
            String::new(),
            Reply::error(
                StatusCode::NOT_ACCEPTABLE,
                "Expecting 'Message-Accept' to not be set for non-streaming responses",
            ),
        );
    }
    if streaming {
        if let Some(m) = header_str(headers, "message-accept") {
            if !accepts_media(Some(m), "application/json") {
                return (
                    kind,
                    String::new(),
                    Reply::error(
                        StatusCode::NOT_ACCEPTABLE,
                        "Expecting 'Message-Accept' to allow application/json",
                    ),
                );
            }
        }
    }
    let id = calls::written_id(&call, &kind.to_ascii_lowercase());
    let reply = match session_calls::route(agent, &kind, &call).await {
        Some(r) => r,
        None => calls::dispatch(agent, &kind, &call, body).await,
    };
    let reply = session_calls::with_sessions(agent, &kind, &call, reply);
    (kind, id, reply)
}
