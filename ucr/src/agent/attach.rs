//! ATTACH_CONTAINER_OUTPUT: the container's stdout and stderr as a RecordIO stream of `ProcessIO` DATA records
//! (`{"type":"DATA","data":{"type":"STDOUT","data":"<base64>"}}`), from the start of the sandbox files and then
//! following them, as `ucr logs -f` does, until the container has exited and both files are read to the end.
//! Any number of attaches at once: each reads the files on its own.

use std::fs::File;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use base64::Engine;
use serde_json::json;
use ucr_runtime::{ContainerError, Containerizer, State};

use super::reply::not_found;
use super::reply::{record, Reply};
use super::state::Agent;

struct Follow {
    c: Arc<Containerizer>,
    id: String,
    out: File,
    err: File,
    /// The container had ended when the files were last read empty: what follows is the end of the stream.
    ended: bool,
}

pub async fn output(agent: &Arc<Agent>, id: String) -> Reply {
    if let Err(e) = agent.c.container(&id) {
        return match e {
            ContainerError::NotFound(_) => not_found(&id),
            e => Reply::error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        };
    }
    let sandbox = agent.c.paths().sandbox(&id);
    let open = |name: &str| File::open(sandbox.join(name));
    let (out, err) = match (open("stdout"), open("stderr")) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => {
            return Reply::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{}: {e}", sandbox.display()),
            )
        }
    };
    let state = Follow {
        c: agent.c.clone(),
        id,
        out,
        err,
        ended: false,
    };
    let stream = futures_util::stream::unfold(state, |mut f| async move {
        loop {
            let mut chunk = Vec::new();
            for (file, kind) in [(&mut f.out, "STDOUT"), (&mut f.err, "STDERR")] {
                let mut buf = vec![0u8; 64 * 1024];
                match file.read(&mut buf) {
                    Ok(n) if n > 0 => {
                        let data = base64::engine::general_purpose::STANDARD.encode(&buf[..n]);
                        chunk.extend(record(
                            &json!({"type": "DATA", "data": {"type": kind, "data": data}}),
                        ));
                    }
                    _ => {}
                }
            }
            if !chunk.is_empty() {
                return Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), f));
            }
            if f.ended {
                return None;
            }
            // Read empty: if the container has ended, one more round reads what it wrote last.
            f.ended = match f.c.container(&f.id) {
                Ok(st) => st.state == State::Exited || st.is_lost(),
                Err(_) => true,
            };
            if !f.ended {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    Reply::Stream(Body::from_stream(stream))
}
