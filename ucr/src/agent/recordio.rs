//! Reading a RecordIO request body as it arrives (ATTACH_CONTAINER_INPUT streams one): records of
//! `<decimal length>\n<bytes>`, each a JSON `Call` here; chunk boundaries mean nothing (mesos:docs/recordio.md).
//! The writing side is `reply::record`.

use axum::body::{Body, BodyDataStream};
use futures_util::StreamExt;
use serde_json::Value;

/// The largest record taken: a stdin chunk is small; this only bounds what a broken client makes us buffer.
pub const MAX_RECORD: usize = 16 << 20;

pub struct Records {
    body: BodyDataStream,
    buf: Vec<u8>,
}

impl Records {
    pub fn new(body: Body) -> Records {
        Records {
            body: body.into_data_stream(),
            buf: Vec::new(),
        }
    }

    /// The next record as JSON; None at the end of the body. Cancel-safe: what was read stays buffered.
    pub async fn next(&mut self) -> Result<Option<Value>, String> {
        loop {
            if let Some(record) = self.take()? {
                return serde_json::from_slice(&record)
                    .map(Some)
                    .map_err(|e| format!("Failed to parse a record into JSON: {e}"));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buf.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(format!("Failed to read the request body: {e}")),
                None if self.buf.is_empty() => return Ok(None),
                None => return Err("The request body ended inside a record".into()),
            }
        }
    }

    /// A whole record out of the buffer, if there is one.
    fn take(&mut self) -> Result<Option<Vec<u8>>, String> {
        let Some(nl) = self.buf.iter().position(|b| *b == b'\n') else {
            return match self.buf.len() > 20 {
                true => Err("Malformed RecordIO: no record length".into()),
                false => Ok(None),
            };
        };
        let len = std::str::from_utf8(&self.buf[..nl])
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| "Malformed RecordIO: bad record length".to_string())?;
        if len > MAX_RECORD {
            return Err(format!(
                "RecordIO record of {len} bytes: {MAX_RECORD} at most"
            ));
        }
        if self.buf.len() < nl + 1 + len {
            return Ok(None);
        }
        let record = self.buf[nl + 1..nl + 1 + len].to_vec();
        self.buf.drain(..nl + 1 + len);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: &[&'static [u8]]) -> Body {
        let parts: Vec<Result<axum::body::Bytes, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(axum::body::Bytes::from_static(c)))
            .collect();
        Body::from_stream(futures_util::stream::iter(parts))
    }

    #[test]
    fn records_across_chunk_boundaries() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        rt.block_on(async {
            let mut r = Records::new(body(&[b"7\n{\"a\"", b":1}2\n{}", b"3\n[1]"]));
            assert_eq!(r.next().await, Ok(Some(serde_json::json!({"a": 1}))));
            assert_eq!(r.next().await, Ok(Some(serde_json::json!({}))));
            assert_eq!(r.next().await, Ok(Some(serde_json::json!([1]))));
            assert_eq!(r.next().await, Ok(None));
            let mut bad = Records::new(body(&[b"x\n{}"]));
            assert!(bad.next().await.is_err());
            let mut cut = Records::new(body(&[b"10\n{}"]));
            assert!(cut.next().await.is_err());
        });
    }
}
