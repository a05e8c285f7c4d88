//! The agent's nested container sessions (LAUNCH_NESTED_CONTAINER_SESSION), by their ucr id
//! (`<target>/<session>`): what the other calls need of one while it runs and for a while after — its stdin
//! (ATTACH_CONTAINER_INPUT), its output (further ATTACH_CONTAINER_OUTPUTs), its end (WAIT_CONTAINER, as
//! `dcos task exec` asks once the stream has ended), and how to kill it. Kept in memory only: a session is
//! tied to its connection, which an agent restart breaks, so there is nothing to recover (Mesos destroys such
//! DEBUG containers on recovery).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::io::unix::AsyncFd;
use tokio::io::AsyncWriteExt;
use tokio::sync::{broadcast, watch};
use ucr_runtime::Termination;

/// How long an ended session's termination is kept for a WAIT_CONTAINER.
const KEEP_ENDED: Duration = Duration::from_secs(600);

#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Arc<Session>>>,
}

impl Sessions {
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        self.lock().get(id).cloned()
    }

    /// Take `id` for `s`; false when a running session has it. An ended one's record gives way.
    pub fn claim(&self, s: Arc<Session>) -> bool {
        let mut map = self.lock();
        map.retain(|_, v| !v.ended_before(Instant::now() - KEEP_ENDED));
        if map.get(&s.id).is_some_and(|old| !old.has_ended()) {
            return false;
        }
        map.insert(s.id.clone(), s);
        true
    }

    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// The sessions still running, by id.
    pub fn running(&self) -> Vec<Arc<Session>> {
        let mut v: Vec<Arc<Session>> = self
            .lock()
            .values()
            .filter(|s| !s.has_ended())
            .cloned()
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Session>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Where a session's stdin goes: the pty master the agent holds, or the pipe to `ucr exec`.
pub enum Sink {
    Tty(Arc<AsyncFd<OwnedFd>>),
    Pipe(tokio::net::unix::pipe::Sender),
}

impl Sink {
    /// Write all of `data`; an error means the command's side is gone.
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Sink::Pipe(p) => p.write_all(data).await,
            Sink::Tty(master) => {
                let mut rest = data;
                while !rest.is_empty() {
                    let mut guard = master.writable().await?;
                    match guard.try_io(|fd| Ok(rustix::io::write(fd.get_ref(), rest)?)) {
                        Ok(Ok(n)) => rest = &rest[n..],
                        Ok(Err(e)) => return Err(e),
                        Err(_would_block) => continue,
                    }
                }
                Ok(())
            }
        }
    }
}

enum Phase {
    /// `ucr exec` runs as this pid, our unreaped child (so the number is still its own).
    Running(i32),
    Ended(Instant),
}

pub struct Session {
    /// The ucr id: `<target>/<session>`.
    pub id: String,
    pub tty: bool,
    phase: Mutex<Phase>,
    /// The raw wait status once it has ended.
    ended: watch::Sender<Option<i32>>,
    /// Set when the agent killed it (a dropped connection, KILL_CONTAINER): its end is TASK_KILLED.
    killed: AtomicBool,
    /// Its stdin, until EOF was sent or it ended.
    pub input: tokio::sync::Mutex<Option<Sink>>,
    /// One ATTACH_CONTAINER_INPUT at a time.
    input_attached: AtomicBool,
    /// Its output records for further ATTACH_CONTAINER_OUTPUTs; dropped at the end, which ends theirs.
    output: Mutex<Option<broadcast::Sender<Bytes>>>,
    /// The pty master (tty sessions): TTY_INFO resizes it.
    pub master: Option<Arc<AsyncFd<OwnedFd>>>,
}

impl Session {
    pub fn new(
        id: String,
        pid: i32,
        sink: Sink,
        master: Option<Arc<AsyncFd<OwnedFd>>>,
    ) -> Arc<Session> {
        Arc::new(Session {
            id,
            tty: master.is_some(),
            phase: Mutex::new(Phase::Running(pid)),
            ended: watch::channel(None).0,
            killed: AtomicBool::new(false),
            input: tokio::sync::Mutex::new(Some(sink)),
            input_attached: AtomicBool::new(false),
            output: Mutex::new(Some(broadcast::channel(1024).0)),
            master,
        })
    }

    fn phase(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn has_ended(&self) -> bool {
        matches!(*self.phase(), Phase::Ended(_))
    }

    fn ended_before(&self, t: Instant) -> bool {
        matches!(*self.phase(), Phase::Ended(at) if at < t)
    }

    /// Kill everything the session runs, in the container and on the host (blocking: it reads /proc). Under
    /// the phase lock, so the pid cannot be reaped (and reused) meanwhile.
    pub fn kill(&self) {
        let phase = self.phase();
        if let Phase::Running(pid) = *phase {
            self.killed.store(true, Ordering::Release);
            match ucr_runtime::process::tree::kill(pid) {
                Ok(n) => tracing::info!(session = %self.id, processes = n, "session killed"),
                Err(e) => tracing::warn!(session = %self.id, "killing the session: {e}"),
            }
        }
    }

    /// Send `signal` to the session's processes in the container (blocking).
    pub fn signal(&self, signal: i32) -> std::io::Result<usize> {
        let phase = self.phase();
        match *phase {
            Phase::Running(pid) => ucr_runtime::process::tree::signal_inside(pid, signal),
            Phase::Ended(_) => Ok(0),
        }
    }

    /// The session's `ucr exec` has exited (not reaped yet): from now on nothing is killed by its pid. Then
    /// `reap` reaps it and gives its raw wait status, which is recorded.
    pub async fn finish(&self, reap: impl FnOnce() -> i32) {
        *self.phase() = Phase::Ended(Instant::now());
        let status = reap();
        // Killed by the agent: its end is the kill's, whatever `ucr exec` made of it.
        let status = match self.killed.load(Ordering::Acquire) {
            true => libc::SIGKILL,
            false => status,
        };
        *self.input.lock().await = None;
        self.output.lock().unwrap_or_else(|e| e.into_inner()).take();
        self.ended.send_replace(Some(status));
    }

    /// Its termination, once it has ended.
    pub async fn wait(&self) -> Termination {
        let mut rx = self.ended.subscribe();
        let status = match rx.wait_for(|s| s.is_some()).await {
            Ok(s) => s.unwrap_or(libc::SIGKILL),
            Err(_) => libc::SIGKILL,
        };
        Termination::from_wait_status(status, self.killed.load(Ordering::Acquire))
    }

    /// Resolves when it has ended.
    pub async fn ended(&self) {
        let mut rx = self.ended.subscribe();
        let _ = rx.wait_for(|s| s.is_some()).await;
    }

    /// Output records from now on, for another ATTACH_CONTAINER_OUTPUT; None once it has ended.
    pub fn subscribe(&self) -> Option<broadcast::Receiver<Bytes>> {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|tx| tx.subscribe())
    }

    /// Give an output record to the other attached clients (none: dropped).
    pub fn publish(&self, record: &Bytes) {
        if let Some(tx) = self
            .output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            let _ = tx.send(record.clone());
        }
    }

    /// Take the one input attachment; false when another holds it.
    pub fn attach_input(&self) -> bool {
        !self.input_attached.swap(true, Ordering::AcqRel)
    }

    pub fn detach_input(&self) {
        self.input_attached.store(false, Ordering::Release);
    }
}
