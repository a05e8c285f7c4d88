//! `ucr exec [-i] [-t] [-u USER] [-w DIR] ID CMD...`: one more process in a running container (the runtime's `containerizer::exec`),
//! exiting with its exit code, as `docker exec` does.

use clap::Args;

use crate::context;
use crate::globals::Globals;
use crate::run_flags::env_pair;
use ucr_runtime::containerizer::exec::ExecRequest;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Attach stdin.
    #[arg(long, short)]
    pub interactive: bool,
    /// A terminal (raw mode on the caller's, window size followed).
    #[arg(long, short)]
    pub tty: bool,
    /// Set a variable over the task's environment (repeatable; NAME alone passes the caller's value).
    #[arg(long, short)]
    pub env: Vec<String>,
    /// Run as USER[:GROUP] (names or ids, names looked up in the container's /etc/passwd and /etc/group)
    /// instead of the task's user.
    #[arg(long, short, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Working directory in the container instead of the task's.
    #[arg(long, short, value_name = "DIR")]
    pub workdir: Option<String>,
    /// The container.
    pub id: String,
    /// The agent's LAUNCH_NESTED_CONTAINER_SESSION: stdio is the session's own (with -t, stdin is the pty
    /// given to the command), and the command dies with this process.
    #[arg(long, hide = true)]
    pub session: bool,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

pub fn exec(g: &Globals, a: &ExecArgs) -> anyhow::Result<i32> {
    let c = context::existing(g)?;
    let req = ExecRequest {
        argv: a.cmd.clone(),
        env: a.env.iter().filter_map(|e| env_pair(e)).collect(),
        user: a.user.clone(),
        workdir: a.workdir.clone(),
        stdin: a.interactive,
        tty: a.tty,
        session: a.session,
    };
    Ok(c.exec(&c.resolve(&a.id), &req)?)
}
