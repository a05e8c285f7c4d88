//! What a call answers: a status and a JSON body (or a plain text reason, as Mesos's agent answers errors), or a
//! stream (ATTACH_CONTAINER_OUTPUT).

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub enum Reply {
    /// A JSON body (`{"type": ..., "<call>": {...}}`), or none (200 with an empty body, as Mesos answers
    /// LAUNCH/KILL/REMOVE).
    Json(StatusCode, Option<serde_json::Value>),
    /// An error: its status and a one-line reason, as text.
    Text(StatusCode, String),
    /// A RecordIO stream of JSON records.
    Stream(Body),
}

impl Reply {
    pub fn ok(v: serde_json::Value) -> Reply {
        Reply::Json(StatusCode::OK, Some(v))
    }

    pub fn empty(status: StatusCode) -> Reply {
        Reply::Json(status, None)
    }

    pub fn error(status: StatusCode, why: impl Into<String>) -> Reply {
        Reply::Text(status, why.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Reply::Json(s, _) | Reply::Text(s, _) => *s,
            Reply::Stream(_) => StatusCode::OK,
        }
    }
}

/// The smallest body worth gzipping (libprocess's `GZIP_MINIMUM_BODY_LENGTH`).
const GZIP_MINIMUM_BODY_LENGTH: usize = 1024;

impl Reply {
    /// The response; with `gzip` (the client accepts it), a body of [`GZIP_MINIMUM_BODY_LENGTH`] bytes or more
    /// goes gzipped, as libprocess sends the agent's. Never a stream: its records must reach the client as they
    /// come.
    pub fn respond(self, gzip: bool) -> Response {
        let (status, ctype, body) = match self {
            Reply::Json(status, Some(v)) => (status, "application/json", v.to_string()),
            Reply::Text(status, why) => {
                (status, "text/plain; charset=utf-8", why.replace('\n', " "))
            }
            Reply::Json(status, None) => return status.into_response(),
            Reply::Stream(body) => return stream(body),
        };
        let ctype = (header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        if gzip && body.len() >= GZIP_MINIMUM_BODY_LENGTH {
            match gzipped(body.as_bytes()) {
                Ok(z) => {
                    let coding = (header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    return (status, [ctype, coding], z).into_response();
                }
                Err(e) => tracing::warn!("gzipping an answer: {e}"),
            }
        }
        (status, [ctype], body).into_response()
    }
}

fn gzipped(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write;
    let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(bytes)?;
    z.finish()
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        self.respond(false)
    }
}

/// A RecordIO stream of JSON records.
fn stream(body: Body) -> Response {
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/recordio"),
            ),
            (
                header::HeaderName::from_static("message-content-type"),
                HeaderValue::from_static("application/json"),
            ),
        ],
        body,
    )
        .into_response()
}

/// One RecordIO record: `<decimal length>\n<bytes>`.
pub fn record(json: &serde_json::Value) -> Vec<u8> {
    let body = json.to_string();
    let mut out = format!("{}\n", body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

pub fn not_found(id: &str) -> Reply {
    Reply::error(
        StatusCode::NOT_FOUND,
        format!("Container {id} cannot be found"),
    )
}

/// Runs blocking containerizer work off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Reply> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("agent task failed: {e}"),
        )
    })
}
