//! `exec`: the process from `--process FILE` (containerd, conmon), or the container's own `process` with the
//! command line's args, `--tty`, `--cwd`, `--env`, `--user`, `--additional-gids`, `--cap` and
//! `--no-new-privs` laid over it, as runc builds it.

use std::path::PathBuf;
use std::str::FromStr;

use clap::Args;
use oci_spec::runtime::{Capability, Process};
use ucr_runtime::oci::{self, ExecOptions, OciError, Root};

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A runtime-spec `process` JSON file; the other process flags are then ignored.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    #[arg(short, long)]
    pub tty: bool,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID]
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_NAME) to the process's sets.
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long)]
    pub no_new_privs: bool,
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

pub fn run(root: &Root, a: ExecArgs) -> oci::Result<i32> {
    let process = match &a.process {
        Some(path) => {
            let text = std::fs::read(path).map_err(|e| OciError::Io {
                path: path.clone(),
                why: e,
            })?;
            serde_json::from_slice::<Process>(&text).map_err(|e| OciError::Config {
                path: path.clone(),
                why: e.to_string(),
            })?
        }
        None => from_flags(root, &a)?,
    };
    oci::exec(
        root,
        &a.id,
        ExecOptions {
            process,
            detach: a.detach,
            pid_file: a.pid_file,
            console_socket: a.console_socket,
            preserve_fds: a.preserve_fds,
        },
    )
}

fn from_flags(root: &Root, a: &ExecArgs) -> oci::Result<Process> {
    root.load(&a.id)?;
    if a.args.is_empty() {
        return Err(OciError::Refused(
            "exec: give the process's args after the container id, or --process".into(),
        ));
    }
    let config = root.container_dir(&a.id).join("config.json");
    let spec = oci::create::read_spec(&config)?;
    let mut p = spec.process().clone().unwrap_or_default();
    p.set_args(Some(a.args.clone()));
    p.set_terminal(Some(a.tty));
    if let Some(cwd) = &a.cwd {
        p.set_cwd(cwd.clone());
    }
    if !a.env.is_empty() {
        let mut env = p.env().clone().unwrap_or_default();
        env.extend(a.env.iter().cloned());
        p.set_env(Some(env));
    }
    let mut user = p.user().clone();
    if let Some(u) = &a.user {
        let (uid, gid) = u.split_once(':').unwrap_or((u, ""));
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| OciError::Refused(format!("--user {u:?}: use UID[:GID] as numbers")))
        };
        user.set_uid(num(uid)?);
        if !gid.is_empty() {
            user.set_gid(num(gid)?);
        }
    }
    if !a.additional_gids.is_empty() {
        user.set_additional_gids(Some(a.additional_gids.clone()));
    }
    p.set_user(user);
    if a.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if !a.cap.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &a.cap {
            let c = Capability::from_str(name)
                .map_err(|_| OciError::Refused(format!("--cap {name:?}: unknown capability")))?;
            let add = |set: Option<&oci_spec::runtime::Capabilities>| {
                let mut s = set.cloned().unwrap_or_default();
                s.insert(c);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding().as_ref()));
            caps.set_effective(add(caps.effective().as_ref()));
            caps.set_permitted(add(caps.permitted().as_ref()));
        }
        p.set_capabilities(Some(caps));
    }
    Ok(p)
}
