//! One tokio runtime per process. The registry client, the archive loader's pulls and the fetcher are async;
//! the containerizer's operations are plain blocking calls (a launch is a sequence of checkpointed steps, and
//! the supervisor must stay single-threaded). Blocking code reaches async code through [`block_on`] (or
//! [`block_on_here`] for one transfer that should stay on its thread):
//! inside a runtime's blocking thread (the agent's `spawn_blocking`) it runs on that runtime, anywhere else on
//! the process's own, built on first use and kept, so a pull and a later fetch share its threads and
//! connection pools instead of building a runtime each.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The process's runtime (multi-threaded, I/O and timers enabled), built on first use.
pub fn runtime() -> std::io::Result<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ucr-async")
        .build()?;
    // Two callers racing here build two; one is kept and the other dropped outside any async context.
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Runs `f` to completion from blocking code. Must not be called from an async task (tokio refuses to block
/// its worker threads); from a runtime's blocking thread it uses that runtime.
pub fn block_on<F: Future>(f: F) -> std::io::Result<F::Output> {
    match Handle::try_current() {
        Ok(h) => Ok(h.block_on(f)),
        Err(_) => Ok(runtime()?.block_on(f)),
    }
}

/// Runs `f` on a runtime of this thread alone, built for the call (a few microseconds): for one long transfer
/// whose connection and reader should not hand every chunk to another thread and wake it (the fetcher's
/// downloads). Must not be called from an async task.
pub fn block_on_here<F: Future>(f: F) -> std::io::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(f))
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_runtime_for_the_process() {
        let a = super::runtime().expect("runtime") as *const _;
        let b = super::runtime().expect("runtime") as *const _;
        assert_eq!(a, b);
        assert_eq!(super::block_on(async { 7 }).expect("block_on"), 7);
    }
}
