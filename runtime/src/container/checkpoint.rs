//! Checkpoint files: every write is atomic (temp file, fsync, rename), and an empty or missing file reads as
//! absent, so any later process (`ucr ps`, `wait`, `rm`, a restarted agent) sees either the old state or the
//! new one, never half of one.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::error::{ContainerError, Result};

/// Atomically replace `path` with `bytes`: write a sibling temp file, fsync it, rename over.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per call, not per process: the agent's threads write the same file at once (a container's kill
    // marker by its own KILL and by its parent's), and a shared name let one rename the other's half-written
    // file, or fail on a name already renamed away.
    let tmp = dir.join(format!(".{name}.{}.tmp", unique()));
    let io = |e| ContainerError::io(path, e);
    // Truncated if a process that had this pid before left it behind.
    let mut f = fs::File::create(&tmp).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)?;
    drop(f);
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        ContainerError::io(path, e)
    })
}

/// `<pid>.<n>`, n counting this process's calls: a name no other call of any live process makes at once, for
/// temporary files and directories made beside others of their kind.
pub fn unique() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    format!("{}.{n}", std::process::id())
}

pub fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| ContainerError::Corrupt {
        path: path.to_path_buf(),
        why: e.to_string(),
    })?;
    write_atomic(path, &bytes)
}

/// Ok(None) when the file is missing or empty (a crash before the first rename leaves no file at all; an empty
/// one is treated the same way, as the agent contract says).
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ContainerError::io(path, e)),
    };
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| ContainerError::Corrupt {
            path: path.to_path_buf(),
            why: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::termination::Termination;

    #[test]
    fn threads_writing_one_file_at_once_each_succeed_and_leave_one_whole_write() {
        let d = tempfile::tempdir().expect("tempdir");
        let path = d.path().join("killed");
        // Each thread's payload has its own length and byte, so a mix of two writes shows.
        let payload = |t: usize| vec![b'a' + t as u8; 1000 + 997 * t];
        std::thread::scope(|s| {
            for t in 0..8 {
                let (path, bytes) = (&path, payload(t));
                s.spawn(move || {
                    for _ in 0..200 {
                        write_atomic(path, &bytes).expect("every write succeeds");
                    }
                });
            }
        });
        let got = fs::read(&path).expect("read");
        assert!((0..8).any(|t| got == payload(t)), "a mix of writes");
        let left: Vec<_> = fs::read_dir(d.path()).expect("dir").flatten().collect();
        assert_eq!(left.len(), 1, "temp files left: {left:?}");
    }

    #[test]
    fn empty_checkpoint_is_absent_and_writes_are_whole() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("state.json");
        assert!(read_json::<Termination>(&p).expect("read").is_none());
        fs::write(&p, b"").expect("write");
        assert!(read_json::<Termination>(&p).expect("read").is_none());
        let t = Termination::launch_failed("x".into(), 125);
        write_json(&p, &t).expect("write");
        assert_eq!(read_json::<Termination>(&p).expect("read"), Some(t));
        assert_eq!(
            fs::read_dir(d.path()).expect("ls").count(),
            1,
            "no temp files left"
        );
    }
}
