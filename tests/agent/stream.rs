//! A small HTTP/1.1 client over the agent's unix socket for the streaming calls, which curl cannot drive as a
//! test needs (a request body written record by record while its answer is read, a response read record by
//! record and dropped mid-way): requests with a whole body or a chunked one, responses with a length or
//! chunked, and Mesos's RecordIO on both sides.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

/// How long a read waits for what a test expects.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// One RecordIO record.
pub fn record(v: &Value) -> Vec<u8> {
    let body = v.to_string();
    let mut out = format!("{}\n", body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// A Mesos `ContainerID` for `<parent>/<child>`, or a top-level one.
pub fn container_id(id: &str) -> Value {
    match id.rsplit_once('/') {
        Some((parent, child)) => json!({"value": child, "parent": container_id(parent)}),
        None => json!({"value": id}),
    }
}

/// An ATTACH_CONTAINER_INPUT record carrying `process_io`.
pub fn input(process_io: Value) -> Value {
    json!({"type": "ATTACH_CONTAINER_INPUT",
           "attach_container_input": {"type": "PROCESS_IO", "process_io": process_io}})
}

pub fn stdin(bytes: &[u8]) -> Value {
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    input(json!({"type": "DATA", "data": {"type": "STDIN", "data": data}}))
}

pub fn resize(rows: u16, columns: u16) -> Value {
    input(json!({"type": "CONTROL", "control": {"type": "TTY_INFO",
        "tty_info": {"window_size": {"rows": rows, "columns": columns}}}}))
}

pub fn heartbeat() -> Value {
    input(json!({"type": "CONTROL", "control": {"type": "HEARTBEAT",
        "heartbeat": {"interval": {"nanoseconds": 30_000_000_000u64}}}}))
}

/// A connection with its unread bytes.
struct Conn {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Conn {
    fn open(socket: &Path) -> Conn {
        let stream = UnixStream::connect(socket).expect("connect to the agent's socket");
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Read more, waiting until `deadline`; false at EOF.
    fn fill(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "the agent sent nothing in time");
        self.stream
            .set_read_timeout(Some(left.min(Duration::from_millis(200))))
            .expect("timeout");
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => false,
            Err(e) => panic!("reading from the agent: {e}"),
        }
    }

    /// Bytes up to and without `delim`, waiting for them.
    fn until(&mut self, delim: &[u8], deadline: Instant) -> Option<Vec<u8>> {
        loop {
            if let Some(at) = self.buf.windows(delim.len()).position(|w| w == delim) {
                let out = self.buf[..at].to_vec();
                self.buf.drain(..at + delim.len());
                return Some(out);
            }
            if !self.fill(deadline) {
                return None;
            }
        }
    }

    fn exactly(&mut self, n: usize, deadline: Instant) -> Option<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill(deadline) {
                return None;
            }
        }
        Some(self.buf.drain(..n).collect())
    }

    fn head(socket: &Path, headers: &[(&str, &str)], framing: &str) -> Conn {
        let mut c = Conn::open(socket);
        let mut req = String::from("POST /api/v1 HTTP/1.1\r\nHost: agent\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(framing);
        req.push_str("\r\n");
        c.stream
            .write_all(req.as_bytes())
            .expect("send the request head");
        c
    }
}

/// An answer whose body is read as it comes.
pub struct Response {
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    conn: Conn,
    body: Body,
    /// Body bytes not yet taken as records.
    records: Vec<u8>,
}

enum Body {
    Length(usize),
    /// In a chunked body; `Some(n)` bytes left of the current chunk.
    Chunked(Option<usize>),
    Done,
}

impl Response {
    fn read(mut conn: Conn) -> Response {
        let deadline = Instant::now() + PATIENCE;
        let head = conn
            .until(b"\r\n\r\n", deadline)
            .expect("the agent closed before answering");
        let head = String::from_utf8_lossy(&head).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status line");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let body = if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            Body::Chunked(None)
        } else {
            Body::Length(
                get("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
            )
        };
        Response {
            status,
            headers,
            conn,
            body,
            records: Vec::new(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// More of the body; None at its end.
    fn chunk(&mut self, deadline: Instant) -> Option<Vec<u8>> {
        match self.body {
            Body::Done => None,
            Body::Length(n) => {
                self.body = Body::Done;
                let got = self.conn.exactly(n, deadline).unwrap_or_default();
                (!got.is_empty()).then_some(got)
            }
            Body::Chunked(None) => {
                let size = self.conn.until(b"\r\n", deadline)?;
                let size = String::from_utf8_lossy(&size);
                let n = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                    .expect("a chunk size");
                if n == 0 {
                    self.body = Body::Done;
                    return None;
                }
                self.body = Body::Chunked(Some(n));
                self.chunk(deadline)
            }
            Body::Chunked(Some(n)) => {
                let data = self.conn.exactly(n, deadline)?;
                self.conn.exactly(2, deadline)?;
                self.body = Body::Chunked(None);
                Some(data)
            }
        }
    }

    /// The whole body as text.
    pub fn text(mut self) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut out = Vec::new();
        while let Some(c) = self.chunk(deadline) {
            out.extend(c);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The next RecordIO record of the body, as JSON; None at the end of the body.
    pub fn next_record(&mut self) -> Option<Value> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(nl) = self.records.iter().position(|b| *b == b'\n') {
                let len: usize = String::from_utf8_lossy(&self.records[..nl])
                    .parse()
                    .expect("a record length");
                if self.records.len() > nl + len {
                    let rec: Vec<u8> = self.records.drain(..nl + 1 + len).skip(nl + 1).collect();
                    return Some(serde_json::from_slice(&rec).expect("a JSON record"));
                }
            }
            match self.chunk(deadline) {
                Some(c) => self.records.extend(c),
                None => {
                    assert!(self.records.is_empty(), "the stream ended inside a record");
                    return None;
                }
            }
        }
    }
}

/// The output of a session or an attach, record by record: what was seen, and whether the stream ended.
pub struct Output {
    pub response: Response,
    /// The STDOUT and STDERR bytes seen and not yet consumed by [`expect`](Self::expect).
    pub stdout: String,
    pub stderr: String,
    pub ended: bool,
}

impl Output {
    pub fn new(response: Response) -> Output {
        Output {
            response,
            stdout: String::new(),
            stderr: String::new(),
            ended: false,
        }
    }

    /// Take one more record; false at the end of the stream.
    fn step(&mut self) -> bool {
        let Some(r) = self.response.next_record() else {
            self.ended = true;
            return false;
        };
        if r["type"] == "DATA" {
            let data = base64::engine::general_purpose::STANDARD
                .decode(r["data"]["data"].as_str().unwrap_or(""))
                .expect("base64 data");
            let text = String::from_utf8_lossy(&data).into_owned();
            match r["data"]["type"].as_str() {
                Some("STDOUT") => self.stdout.push_str(&text),
                Some("STDERR") => self.stderr.push_str(&text),
                other => panic!("a DATA record of type {other:?}"),
            }
        } else {
            assert_eq!(r["type"], "CONTROL", "{r}");
        }
        true
    }

    /// Read until `want` is in the stdout, and consume it and what came before.
    #[track_caller]
    pub fn expect(&mut self, want: &str) {
        while !self.stdout.contains(want) {
            assert!(
                self.step(),
                "the stream ended without {want:?}: {:?}",
                self.stdout
            );
        }
        let at = self.stdout.find(want).unwrap_or(0) + want.len();
        self.stdout.drain(..at);
    }

    /// Read to the end of the stream.
    pub fn read_to_end(&mut self) {
        while self.step() {}
    }
}

/// A POST with a whole JSON body.
pub fn post(socket: &Path, headers: &[(&str, &str)], body: &str) -> Response {
    let framing = format!("Content-Length: {}\r\n", body.len());
    let mut c = Conn::head(socket, headers, &framing);
    c.stream.write_all(body.as_bytes()).expect("send the body");
    Response::read(c)
}

/// A call whose answer streams (`Accept: application/recordio`).
pub fn streaming_call(socket: &Path, call: &Value) -> Response {
    post(
        socket,
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/recordio"),
            ("Message-Accept", "application/json"),
        ],
        &call.to_string(),
    )
}

/// A request whose body is written as the test goes (chunked).
pub struct Upload {
    conn: Conn,
}

impl Upload {
    pub fn open(socket: &Path, headers: &[(&str, &str)]) -> Upload {
        Upload {
            conn: Conn::head(socket, headers, "Transfer-Encoding: chunked\r\n"),
        }
    }

    /// ATTACH_CONTAINER_INPUT to container `id` (`<parent>/<child>` for a session): the first record sent.
    pub fn attach_input(socket: &Path, id: &str) -> Upload {
        let mut u = Upload::open(
            socket,
            &[
                ("Content-Type", "application/recordio"),
                ("Message-Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
        );
        u.send(
            &json!({"type": "ATTACH_CONTAINER_INPUT", "attach_container_input": {
            "type": "CONTAINER_ID", "container_id": container_id(id)}}),
        );
        u
    }

    /// One record, as a chunk of its own; false when the agent has closed the connection.
    pub fn send(&mut self, v: &Value) -> bool {
        let rec = record(v);
        let mut chunk = format!("{:x}\r\n", rec.len()).into_bytes();
        chunk.extend(rec);
        chunk.extend(b"\r\n");
        self.conn.stream.write_all(&chunk).is_ok()
    }

    /// The answer, read without ending the body (the agent answers when the target ends, or at once when it
    /// refuses).
    pub fn response(self) -> Response {
        Response::read(self.conn)
    }

    /// End the body, then read the answer.
    pub fn finish(mut self) -> Response {
        let _ = self.conn.stream.write_all(b"0\r\n\r\n");
        Response::read(self.conn)
    }
}
