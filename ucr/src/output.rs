//! Following a container's output from its sandbox's `stdout` and `stderr` files, as `ucr run`, `ucr launch`
//! and `ucr attach` show it in the foreground, and the signals such a front end catches meanwhile.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::sync::atomic::{AtomicI32, Ordering};

use anyhow::Context;

static SIGNALLED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    SIGNALLED.store(sig, Ordering::SeqCst);
}

/// From now on SIGINT, SIGTERM and SIGHUP are only noted, for [`signalled`] to tell (without SA_RESTART, so a
/// poll or sleep they interrupt returns at once).
pub fn catch_signals() {
    for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
}

/// The last signal caught since the previous call, if any.
pub fn signalled() -> Option<i32> {
    match SIGNALLED.swap(0, Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// One container's output being followed: its sandbox's stdout and stderr, and for a pod's member the prefix
/// of each of its lines (`web | `), as `docker compose up` shows several containers.
pub struct Output {
    out: File,
    err: File,
    prefix: Option<String>,
    /// An unfinished last line of each, held until its end arrives (prefixed output only).
    partial: [Vec<u8>; 2],
}

impl Output {
    pub fn open(sandbox: &std::path::Path, prefix: Option<String>) -> anyhow::Result<Output> {
        Ok(Output {
            out: File::open(sandbox.join("stdout")).context("sandbox stdout")?,
            err: File::open(sandbox.join("stderr")).context("sandbox stderr")?,
            prefix,
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// [`open`](Self::open) without a prefix, past what was written so far: only what comes from now on (`ucr
    /// attach`, as `docker attach` shows it).
    pub fn from_now(sandbox: &std::path::Path) -> anyhow::Result<Output> {
        let mut o = Output::open(sandbox, None)?;
        o.out.seek(std::io::SeekFrom::End(0))?;
        o.err.seek(std::io::SeekFrom::End(0))?;
        Ok(o)
    }

    /// Copies what is new; whether there was anything.
    pub fn pump(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        let a = Self::copy(
            &mut self.out,
            &mut self.partial[0],
            &self.prefix,
            buf,
            &mut std::io::stdout(),
        )?;
        let b = Self::copy(
            &mut self.err,
            &mut self.partial[1],
            &self.prefix,
            buf,
            &mut std::io::stderr(),
        )?;
        Ok(a || b)
    }

    fn copy(
        f: &mut File,
        partial: &mut Vec<u8>,
        prefix: &Option<String>,
        buf: &mut [u8],
        to: &mut dyn Write,
    ) -> std::io::Result<bool> {
        let mut any = false;
        loop {
            let n = f.read(buf)?;
            if n == 0 {
                return Ok(any);
            }
            any = true;
            match prefix {
                None => to.write_all(&buf[..n])?,
                Some(p) => {
                    partial.extend_from_slice(&buf[..n]);
                    while let Some(end) = partial.iter().position(|b| *b == b'\n') {
                        let line: Vec<u8> = partial.drain(..=end).collect();
                        to.write_all(p.as_bytes())?;
                        to.write_all(&line)?;
                    }
                }
            }
            to.flush()?;
        }
    }

    /// At the end: an unfinished last line, with its prefix and a newline.
    pub fn flush_partial(&mut self) -> std::io::Result<()> {
        if let Some(p) = &self.prefix {
            for (i, part) in self.partial.iter_mut().enumerate() {
                if part.is_empty() {
                    continue;
                }
                let mut to: Box<dyn Write> = if i == 0 {
                    Box::new(std::io::stdout())
                } else {
                    Box::new(std::io::stderr())
                };
                to.write_all(p.as_bytes())?;
                to.write_all(part)?;
                to.write_all(b"\n")?;
                part.clear();
            }
        }
        Ok(())
    }
}
