//! The intermediate process, for a container with a user namespace or a pid or mount namespace given by path
//! (why: `namespaces.rs`). The caller clones it into the container's cgroup with no new namespaces; it
//!
//! 1. joins the v1 cgroups and sets `oom_score_adj`, both inherited by the init, while it still has the host's
//!    rights (in a new user namespace the init could do neither);
//! 2. joins the namespaces given by path, a user namespace last, and makes a new time namespace with its
//!    clock offsets (in the container's user namespace when it joined one);
//! 3. clones the init with `CLONE_PARENT`, so the init is the caller's child (the supervisor's, or the OCI
//!    `create` caller's) exactly as without an intermediate, into the new namespaces;
//! 4. writes the init's uid and gid maps, tells the caller the init's pid (`P` and four bytes, little-endian,
//!    on the report pipe), lets the init go on (one byte on the stage pipe), and exits.
//!
//! On a failure after the clone it kills the init first, so only one of them reports it.

use std::fs::File;
use std::io::{Read, Write};
use std::path::PathBuf;

use super::clone::{clone3, pipe, Forked};
use super::error::{Failure, LaunchError};
use super::init::{placement, step};
use super::namespaces::IdMaps;
use super::os::Launcher;
use super::plan::Plan;

/// Where a process is after [`intermediate`].
pub enum Role {
    /// The init, with the read side of the stage pipe (see `init::await_release`).
    Init(File),
    /// The intermediate, done: it exits 0.
    Done,
}

/// Steps 1 and 2 (see the module docs).
pub fn prepare(os: &dyn Launcher, plan: &Plan) -> Result<(), Failure> {
    placement(os, plan)?;
    for (path, nstype) in &plan.pre_join {
        step(
            &format!("namespace {}", path.display()),
            os.join_namespace(path, *nstype),
        )?;
    }
    if let Some(offsets) = &plan.time_offsets {
        step("time namespace", os.new_time_namespace(offsets))?;
    }
    Ok(())
}

/// Step 4 up to the release: the maps of the init `pid`'s new user namespace.
pub fn map_ids(os: &dyn Launcher, plan: &Plan, pid: i32) -> Result<(), Failure> {
    match &plan.id_maps {
        Some(maps) => write_maps(os, maps, pid),
        None => Ok(()),
    }
}

/// Write `maps` as the uid and gid maps of process `pid`'s user namespace.
pub fn write_maps(os: &dyn Launcher, maps: &IdMaps, pid: i32) -> Result<(), Failure> {
    for (file, map) in [("uid_map", &maps.uid_map), ("gid_map", &maps.gid_map)] {
        let path = PathBuf::from(format!("/proc/{pid}/{file}"));
        step(&format!("user namespace {file}"), os.write_file(&path, map))?;
    }
    Ok(())
}

/// Run the intermediate's steps in this process (a child of the caller). The init returns with
/// [`Role::Init`]; the intermediate with [`Role::Done`] once the init may go on.
///
/// # Safety
/// Single-threaded, as for `clone3`.
pub unsafe fn intermediate(
    os: &dyn Launcher,
    plan: &Plan,
    report: &mut File,
) -> Result<Role, Failure> {
    prepare(os, plan)?;
    let (stage_r, mut stage_w) = pipe()?;
    let flags = plan.clone_flags | libc::CLONE_PARENT as u64;
    // SAFETY: passed on from the caller.
    let pid = match unsafe { clone3(flags, None) }.map_err(|e| Failure::new("clone3".into(), e))? {
        Forked::Child => {
            drop(stage_w);
            return Ok(Role::Init(stage_r));
        }
        Forked::Parent { pid } => pid,
    };
    drop(stage_r);
    let mut word = vec![b'P'];
    word.extend_from_slice(&pid.to_le_bytes());
    let released = report
        .write_all(&word)
        .map_err(|e| Failure::new("report".into(), e))
        .and_then(|()| map_ids(os, plan, pid))
        .and_then(|()| step("release the init", stage_w.write_all(b"U")));
    if let Err(f) = released {
        // SAFETY: kill of the init we cloned (the caller reaps it).
        unsafe { libc::kill(pid, libc::SIGKILL) };
        return Err(f);
    }
    Ok(Role::Done)
}

/// The caller's side: the init's pid from the intermediate `pid`'s report, which is then reaped.
pub fn init_pid(pid: i32, report: &mut File) -> Result<i32, LaunchError> {
    let mut first = [0u8; 1];
    let got = report.read_exact(&mut first).and_then(|()| match first {
        [b'P'] => {
            let mut n = [0u8; 4];
            report
                .read_exact(&mut n)
                .map(|()| Ok(i32::from_le_bytes(n)))
        }
        _ => {
            // Its failure: the rest of the pipe, which closes when it exits (there is no init).
            let mut msg = Vec::new();
            report.read_to_end(&mut msg).map(|_| Err(msg))
        }
    });
    let mut status = 0;
    // SAFETY: waitpid on our own child, the intermediate, which exits after its report.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    match got {
        Ok(Ok(init)) => Ok(init),
        Ok(Err(msg)) => Err(LaunchError::Init(
            String::from_utf8_lossy(&msg).into_owned(),
        )),
        Err(e) => Err(Failure::new("intermediate".into(), e).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launcher::init::await_release;
    use crate::launcher::recording::tests::{planned, spec};
    use crate::launcher::recording::Recording;

    #[test]
    fn cgroups_and_oom_before_the_namespaces_and_maps_to_the_inits_proc() {
        let os = Recording::default();
        let mut p = planned(&spec(false, false));
        p.cgroups.join = vec![PathBuf::from("/sys/fs/cgroup/memory/x/tasks")];
        p.oom_score_adj = Some(-500);
        p.time_offsets = Some("boottime 60 0\n".into());
        p.pre_join = vec![
            (PathBuf::from("/proc/9/ns/net"), libc::CLONE_NEWNET),
            (PathBuf::from("/proc/9/ns/user"), libc::CLONE_NEWUSER),
        ];
        prepare(&os, &p)
            .map_err(|f| f.to_string())
            .expect("prepare");
        p.id_maps = Some(IdMaps {
            uid_map: "0 100000 65536\n".into(),
            gid_map: "0 200000 65536\n".into(),
        });
        map_ids(&os, &p, 42)
            .map_err(|f| f.to_string())
            .expect("maps");
        let calls = os.calls.borrow().clone();
        assert_eq!(
            calls,
            vec![
                "write /sys/fs/cgroup/memory/x/tasks 0".to_string(),
                "write /proc/self/oom_score_adj -500".into(),
                format!("setns /proc/9/ns/net {:#x}", libc::CLONE_NEWNET),
                format!("setns /proc/9/ns/user {:#x}", libc::CLONE_NEWUSER),
                "unshare time boottime 60 0\n".into(),
                "write /proc/42/uid_map 0 100000 65536\n".into(),
                "write /proc/42/gid_map 0 200000 65536\n".into(),
            ]
        );
    }

    #[test]
    fn the_init_becomes_root_of_its_user_namespace_only_after_the_release() {
        let os = Recording::default();
        let mut p = planned(&spec(false, false));
        p.user_ns = true;
        let (r, w) = std::io::pipe().expect("pipe");
        drop(w);
        let f = await_release(&os, &p, &mut File::from(std::os::fd::OwnedFd::from(r)))
            .expect_err("EOF is no release");
        assert!(f.to_string().contains("intermediate went away"), "{f}");
        assert!(os.calls.borrow().is_empty());
        let (r, mut w) = std::io::pipe().expect("pipe");
        w.write_all(b"U").expect("write");
        await_release(&os, &p, &mut File::from(std::os::fd::OwnedFd::from(r)))
            .map_err(|f| f.to_string())
            .expect("released");
        assert_eq!(os.calls.borrow().clone(), vec!["setids 0 0".to_string()]);
    }
}
