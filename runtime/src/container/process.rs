//! From a config and an image to the exact process: argv by the Mesos (or Docker) command rules, the merged
//! environment, the working directory (created in the rootfs when the image names one that is missing), the
//! user (the request's, resolved on the host; else the image USER, resolved in the rootfs), and the executable
//! checked inside the rootfs so "not found" (127) and "not executable" (126) are told before anything starts.

use std::path::Path;

use ucr_registry::manifest::RunConfig;

use super::error::Result;
use super::launch::launch_err;
use super::oci::Process;
use crate::spec::{self, ContainerConfig};

pub struct ResolvedProcess {
    pub process: Process,
    /// Set when the image USER was applied (no user in the request): shown by `inspect`.
    pub user_note: Option<String>,
}

pub fn resolve_process(
    cfg: &ContainerConfig,
    image: &RunConfig,
    rootfs: &Path,
    sandbox_dir: &str,
    extra_env: &[(String, String)],
) -> Result<ResolvedProcess> {
    let id = cfg.id.as_str();
    let command = spec::resolve_command(cfg, Some(image))?;
    let args = command.argv;
    let env = spec::build_env(cfg, Some(image), sandbox_dir, extra_env);
    let cwd = spec::working_dir(cfg, Some(image), sandbox_dir);
    ensure_dir_in_rootfs(rootfs, &cwd).map_err(|e| {
        launch_err(
            id,
            "preparing",
            format!("working directory {cwd}: {e}"),
            125,
        )
    })?;
    let (user, user_note) = match (&cfg.command.user, image.user.as_deref()) {
        (Some(u), _) => (spec::resolve_user(u, Path::new("/"))?, None),
        (None, Some(u)) if !u.is_empty() => (
            spec::resolve_user(u, rootfs)?,
            Some(format!("image USER {u}")),
        ),
        _ => (spec::ResolvedUser::root(), None),
    };
    let path_env = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(spec::DEFAULT_PATH)
        .to_string();
    let resolved = spec::lookup(rootfs, &cwd, &path_env, &command.executable).map_err(|e| {
        let code = if e.is_not_found() { 127 } else { 126 };
        launch_err(id, "preparing", e.to_string(), code)
    })?;
    // args[0] is what the task sees, as given (like runc); the program is the path found in the rootfs (Mesos'
    // relative lookup: cwd, then PATH). When they differ, the executor execs the program with this argv.
    if args.is_empty() {
        return Err(launch_err(id, "preparing", "empty command".into(), 127));
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

/// mkdir -p of an in-container path, confined to the rootfs: every prefix is resolved with RESOLVE_IN_ROOT from
/// the rootfs, so an image symlink (absolute or `..`) resolves inside the image, never on the host.
fn ensure_dir_in_rootfs(rootfs: &Path, dir: &str) -> std::io::Result<()> {
    use rustix::fs::{openat2, Mode, OFlags, ResolveFlags};
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let root = rustix::fs::open(rootfs, flags, Mode::empty())?;
    let mut prefix = String::from(".");
    for comp in dir.split('/').filter(|c| !c.is_empty() && *c != ".") {
        let parent = openat2(
            &root,
            prefix.as_str(),
            flags,
            Mode::empty(),
            ResolveFlags::IN_ROOT,
        )?;
        match rustix::fs::mkdirat(&parent, comp, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        prefix.push('/');
        prefix.push_str(comp);
    }
    openat2(
        &root,
        prefix.as_str(),
        flags,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    )?;
    Ok(())
}
