//! Waiters on a container that removes itself when it ends (`run -d --rm`). A `ucr wait` or `ucr attach` in
//! progress holds a shared lock on `<runtime dir>/waiters` ([`hold`]); the supervisor, once the termination is
//! written, takes it exclusively before it removes the record ([`let_waiters_read`]), so every waiter has read
//! the end first, as Docker's daemon answers its waiters before the removal. A waiter that never lets go (a
//! stopped process) delays the removal by [`PATIENCE`] at most. A wait that starts after the removal finds no
//! container, as with Docker.
//!
//! The file is made by the supervisor before the task starts, and never by a waiter: a waiter creating it in
//! a directory being removed would leave the directory behind.

use std::fs::File;
use std::time::{Duration, Instant};

use rustix::fs::{flock, FlockOperation};

use super::error::{ContainerError, Result};
use super::paths::Paths;

/// The longest a waiter holds up the removal.
pub const PATIENCE: Duration = Duration::from_secs(2);

/// A shared hold on the container's end, released when dropped.
pub struct Hold(#[allow(dead_code)] File);

/// Make the waiters' file of container `id` (one that removes itself when it ends).
pub fn make(paths: &Paths, id: &str) -> Result<()> {
    let p = paths.runtime(id).join("waiters");
    File::create(&p).map_err(|e| ContainerError::io(&p, e))?;
    Ok(())
}

/// Hold container `id`'s end while waiting for it; None when it removes nothing at its end (or is gone).
pub fn hold(paths: &Paths, id: &str) -> Option<Hold> {
    let f = File::open(paths.runtime(id).join("waiters")).ok()?;
    // Blocks only while the supervisor removes the record: the wait then finds it gone.
    flock(&f, FlockOperation::LockShared).ok()?;
    Some(Hold(f))
}

/// The supervisor's side, with the termination written: wait until no waiter holds the end (at most
/// [`PATIENCE`]); the record may then go.
pub fn let_waiters_read(paths: &Paths, id: &str) {
    let Ok(f) = File::open(paths.runtime(id).join("waiters")) else {
        return;
    };
    let deadline = Instant::now() + PATIENCE;
    while flock(&f, FlockOperation::NonBlockingLockExclusive).is_err() && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}
