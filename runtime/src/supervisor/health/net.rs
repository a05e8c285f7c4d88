//! The network probes, run in a probe process (already in the container's network namespace when the check asks
//! for it): a TCP connect, or an HTTP/1.1 GET whose status decides (200–399 pass, as Marathon and Mesos's
//! `curl` judge it). HTTPS does not verify the certificate, as both do (`curl -k`): a health check asks "does it
//! answer", and the task's own certificate is often self-signed. A GET and one status line need no HTTP client
//! crate; std's sockets with timeouts and rustls for TLS are all of it.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};

use crate::container::health::Outcome;

pub enum NetProbe {
    Tcp {
        addr: SocketAddr,
    },
    Http {
        addr: SocketAddr,
        https: bool,
        path: String,
        ignore_1xx: bool,
    },
}

/// Longest response head read (status line and headers).
const MAX_HEAD: usize = 16 * 1024;

/// Runs the probe; `timeout` bounds the connect and each read and write (None: Mesos's "0 = no timeout").
pub fn run(p: &NetProbe, timeout: Option<Duration>) -> (Outcome, String) {
    match p {
        NetProbe::Tcp { addr } => match connect(addr, timeout) {
            Ok(_) => (Outcome::Passed, format!("connected to {addr}")),
            Err(e) => (Outcome::Failed, format!("connect to {addr}: {e}")),
        },
        NetProbe::Http {
            addr,
            https,
            path,
            ignore_1xx,
        } => {
            let url = format!("{}://{addr}{path}", if *https { "https" } else { "http" });
            match get(addr, *https, path, timeout) {
                Ok(code) => (judge(code, *ignore_1xx), format!("HTTP {code} from {url}")),
                Err(e) => (Outcome::Failed, format!("GET {url}: {e}")),
            }
        }
    }
}

fn judge(code: u16, ignore_1xx: bool) -> Outcome {
    match code {
        200..=399 => Outcome::Passed,
        100..=199 if ignore_1xx => Outcome::Ignored,
        _ => Outcome::Failed,
    }
}

fn connect(addr: &SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let s = match timeout {
        Some(t) => TcpStream::connect_timeout(addr, t)?,
        None => TcpStream::connect(addr)?,
    };
    s.set_read_timeout(timeout)?;
    s.set_write_timeout(timeout)?;
    Ok(s)
}

fn get(addr: &SocketAddr, https: bool, path: &str, timeout: Option<Duration>) -> io::Result<u16> {
    let tcp = connect(addr, timeout)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: ucr-health-check/{}\r\nAccept: */*\r\n\
         Connection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if https {
        let conn = ClientConnection::new(tls_config(), ServerName::IpAddress(addr.ip().into()))
            .map_err(io::Error::other)?;
        exchange(StreamOwned::new(conn, tcp), &request)
    } else {
        exchange(tcp, &request)
    }
}

/// Send the request and return the final status code, skipping interim 1xx responses (100 Continue, 103)
/// that come before it on the same connection.
fn exchange(mut s: impl Read + Write, request: &str) -> io::Result<u16> {
    s.write_all(request.as_bytes())?;
    s.flush()?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        match head_end(&buf) {
            Some(end) => {
                let code = status_code(&buf[..end])?;
                let interim = (100..200).contains(&code) && code != 101 && buf.len() > end;
                if !interim {
                    return Ok(code);
                }
                buf.drain(..end);
                continue;
            }
            None if buf.len() > MAX_HEAD => return Err(io::Error::other("response head too long")),
            None => {}
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return match head_end(&buf) {
                Some(end) => status_code(&buf[..end]),
                None if buf.is_empty() => {
                    Err(io::Error::other("connection closed without a response"))
                }
                None => status_code(&buf),
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The length of the first response head (through its blank line).
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn status_code(head: &[u8]) -> io::Result<u16> {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_whitespace();
    let bad = || io::Error::other(format!("not an HTTP status line: {:?}", text.trim()));
    if !words.next().is_some_and(|v| v.starts_with("HTTP/")) {
        return Err(bad());
    }
    words
        .next()
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|c| (100..600).contains(c))
        .ok_or_else(bad)
}

fn tls_config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map(|b| {
            b.dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider.clone())))
                .with_no_client_auth()
        });
    Arc::new(config.unwrap_or_else(|_| {
        // The ring provider supports the default versions; this is only reached if that changed.
        ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    }))
}

/// Accepts any certificate (the check is `curl -k`), still checking the handshake's signatures so the
/// connection is real TLS.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(bytes: &'static [u8]) -> io::Result<u16> {
        struct Fake(io::Cursor<&'static [u8]>);
        impl Read for Fake {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                self.0.read(b)
            }
        }
        impl Write for Fake {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        exchange(Fake(io::Cursor::new(bytes)), "GET / HTTP/1.1\r\n\r\n")
    }

    #[test]
    fn reads_the_final_status_past_interim_answers() {
        assert_eq!(
            answer(b"HTTP/1.1 204 No Content\r\n\r\n").expect("status"),
            204
        );
        assert_eq!(
            answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Busy\r\nA: b\r\n\r\nbody")
                .expect("status"),
            503
        );
        assert_eq!(answer(b"HTTP/1.0 302 Found\r\n").expect("status"), 302);
        assert!(answer(b"").is_err());
        assert!(answer(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }

    #[test]
    fn judges_as_marathon_does() {
        assert_eq!(judge(200, false), Outcome::Passed);
        assert_eq!(judge(399, false), Outcome::Passed);
        assert_eq!(judge(404, false), Outcome::Failed);
        assert_eq!(judge(100, false), Outcome::Failed);
        assert_eq!(judge(100, true), Outcome::Ignored);
    }
}
