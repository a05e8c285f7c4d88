//! From a config and an image to the exact process: argv by the Mesos (or Docker) command rules, the merged
//! environment, the working directory (created in the rootfs when the image names one that is missing), the
//! user (the request's, resolved on the host; else the image USER, resolved in the rootfs), and the executable
//! checked inside the rootfs so "not found" (127) and "not executable" (126) are told before anything starts.
//! Without an image the rootfs is the host's `/` and nothing is created in it.

use std::path::Path;

use ucr_registry::confined::{self, Kind};
use ucr_registry::manifest::RunConfig;

use super::command::resolve_command;
use super::env::{build_env, working_dir, DEFAULT_PATH};
use super::error::{ProcessError, Result};
use super::lookup::lookup;
use super::user::{resolve_user, ResolvedUser};
use crate::spec::ContainerConfig;

/// The process to run, fully resolved (argv, env, cwd and ids are final here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
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
    let path_env = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH)
        .to_string();
    let resolved = lookup(rootfs, &cwd, &path_env, &command.executable)?;
    // args[0] is what the task sees, as given (like runc); the program is the path found in the rootfs (Mesos'
    // relative lookup: cwd, then PATH). When they differ, the executor execs the program with this argv.
    if args.is_empty() {
        return Err(ProcessError::EmptyCommand);
    }
    let program = (args[0] != resolved).then_some(resolved);
    Ok(ResolvedProcess {
        process: Process {
            program,
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

/// mkdir -p of an in-container path, confined to the rootfs ([`confined::ensure`]), so an image symlink
/// (absolute or `..`) resolves inside the image, never on the host. The path is first cleaned lexically, as
/// docker cleans a WORKDIR.
fn ensure_dir_in_rootfs(rootfs: &Path, dir: &str) -> std::io::Result<()> {
    let root = confined::open_root(rootfs)?;
    confined::ensure(&root, Path::new(&confined::clean(dir)), Kind::Dir).map(drop)
}
