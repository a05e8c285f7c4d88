//! From a config and an image to the exact process: argv by the Mesos (or Docker) command rules, the merged
//! environment, the working directory (created in the rootfs when the image names one that is missing) and
//! the user (the request's, resolved on the host; else the image USER, resolved in the rootfs). The program is
//! looked for once the container's mounts are known and its URIs fetched ([`find_program`]), so "not found"
//! (127) and "not executable" (126) are told before anything starts, also for a program in a volume or the
//! sandbox. Without an image the rootfs is the host's `/` and nothing is created in it.

use std::path::Path;

use ucr_registry::confined::{self, Kind};
use ucr_registry::manifest::RunConfig;

use super::command::resolve_command;
use super::env::{build_env, working_dir, DEFAULT_PATH};
use super::error::{ProcessError, Result};
use super::lookup::lookup;
use super::user::{resolve_user, ResolvedUser};
use super::view::View;
use crate::spec::ContainerConfig;

/// The process to run, fully resolved (argv, env, cwd and ids are final here; the program once [`find_program`]
/// has looked for it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// The name the program is looked up by (Mesos: the command's value, else `args[0]`).
    pub executable: String,
    /// The program to exec when it is not `args[0]` (Mesos `shell: false` with a value and its own `argv[0]`).
    pub program: Option<String>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
}

pub struct ResolvedProcess {
    pub process: Process,
    /// Set when the image USER was applied (no user in the request): shown by `inspect`.
    pub user_note: Option<String>,
}

pub fn resolve_process(
    cfg: &ContainerConfig,
    image: Option<&RunConfig>,
    rootfs: Option<&Path>,
    sandbox_dir: &str,
    extra_env: &[(String, String)],
) -> Result<ResolvedProcess> {
    let command = resolve_command(cfg, image)?;
    let args = command.argv;
    let env = build_env(cfg, image, sandbox_dir, extra_env);
    let cwd = working_dir(cfg, image, sandbox_dir);
    let workdir = |source| ProcessError::Workdir {
        dir: cwd.clone(),
        source,
    };
    match rootfs {
        Some(r) => ensure_dir_in_rootfs(r, &cwd).map_err(workdir)?,
        // Nothing is made on the host for a task without an image: its working directory must be there.
        None if !Path::new(&cwd).is_dir() => {
            return Err(workdir(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such directory on the host (a task without an image runs on the host's root)",
            )))
        }
        None => {}
    }
    let rootfs = rootfs.unwrap_or(Path::new("/"));
    let image_user = image.and_then(|i| i.user.as_deref());
    let (user, user_note) = match (&cfg.command.user, image_user) {
        (Some(u), _) => (resolve_user(u, Path::new("/"))?, None),
        (None, Some(u)) if !u.is_empty() => {
            let mut user = resolve_user(&super::user::owners_in_rootfs(u, rootfs)?, rootfs)?;
            for g in image.map(|i| &i.supplementary_gids).into_iter().flatten() {
                if !user.additional_gids.contains(g) {
                    user.additional_gids.push(*g);
                }
            }
            (user, Some(format!("image USER {u}")))
        }
        _ => (ResolvedUser::root(), None),
    };
    if args.is_empty() {
        return Err(ProcessError::EmptyCommand);
    }
    Ok(ResolvedProcess {
        process: Process {
            executable: command.executable,
            program: None,
            args,
            env,
            cwd,
            uid: user.uid,
            gid: user.gid,
            additional_gids: user.additional_gids,
        },
        user_note,
    })
}

/// Finds `p`'s program where its task will see it (`lookup.rs`: working directory, then PATH, in `view`).
/// `args[0]` is what the task sees, as given (like runc); the program is the path found (Mesos' relative
/// lookup). When they differ, the launcher execs the program with this argv.
pub fn find_program(p: &mut Process, view: &View) -> Result<()> {
    let path_env = p
        .env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    let found = lookup(view, &p.cwd, path_env, &p.executable)?;
    p.program = (p.args.first() != Some(&found)).then_some(found);
    Ok(())
}

/// mkdir -p of an in-container path, confined to the rootfs ([`confined::ensure`]), so an image symlink
/// (absolute or `..`) resolves inside the image, never on the host. The path is first cleaned lexically, as
/// docker cleans a WORKDIR.
fn ensure_dir_in_rootfs(rootfs: &Path, dir: &str) -> std::io::Result<()> {
    let root = confined::open_root(rootfs)?;
    confined::ensure(&root, Path::new(&confined::clean(dir)), Kind::Dir).map(drop)
}
