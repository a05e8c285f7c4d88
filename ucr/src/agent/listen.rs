//! Where the agent serves: `unix:PATH` (a socket only root may open: mode 0600, in a directory it makes) and
//! `HOST:PORT` (TCP; Mesos's `--ip`/`--port` too). A stale socket left by a killed agent is replaced; one that
//! another agent still serves is an error.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

impl Listen {
    pub fn parse(v: &str) -> Result<Listen, String> {
        if let Some(p) = v.strip_prefix("unix:") {
            return Ok(Listen::Unix(PathBuf::from(p)));
        }
        if v.starts_with('/') {
            return Ok(Listen::Unix(PathBuf::from(v)));
        }
        v.parse::<SocketAddr>().map(Listen::Tcp).map_err(|_| {
            format!("--listen {v}: expected unix:PATH or HOST:PORT (an IP address and a port)")
        })
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Unix(p) => write!(f, "unix:{}", p.display()),
            Listen::Tcp(a) => write!(f, "{a}"),
        }
    }
}

pub enum Bound {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

/// Binds `l`. Must run inside the async runtime.
pub async fn bind(l: &Listen) -> Result<Bound, String> {
    match l {
        Listen::Tcp(a) => tokio::net::TcpListener::bind(a)
            .await
            .map(Bound::Tcp)
            .map_err(|e| format!("--listen {a}: {e}")),
        Listen::Unix(p) => bind_unix(p).map(Bound::Unix),
    }
}

fn bind_unix(p: &Path) -> Result<tokio::net::UnixListener, String> {
    let at = |e: std::io::Error| format!("--listen unix:{}: {e}", p.display());
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).map_err(at)?;
    }
    if std::fs::symlink_metadata(p).is_ok() {
        if std::os::unix::net::UnixStream::connect(p).is_ok() {
            return Err(format!(
                "--listen unix:{}: another agent serves this socket",
                p.display()
            ));
        }
        std::fs::remove_file(p).map_err(at)?;
    }
    // Created 0600 (the umask is the process's, and nothing else creates files while the agent starts): no
    // moment at which another user could connect.
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    let bound = tokio::net::UnixListener::bind(p);
    rustix::process::umask(old);
    bound.map_err(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_values() {
        assert_eq!(
            Listen::parse("unix:/run/ucr/ucr.sock"),
            Ok(Listen::Unix("/run/ucr/ucr.sock".into()))
        );
        assert_eq!(Listen::parse("/x.sock"), Ok(Listen::Unix("/x.sock".into())));
        assert!(matches!(
            Listen::parse("127.0.0.1:5051"),
            Ok(Listen::Tcp(_))
        ));
        assert!(Listen::parse("localhost:5051").is_err());
    }
}
