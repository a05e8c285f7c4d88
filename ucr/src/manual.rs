//! Operator packaging generated from the command line itself, so it never drifts from it: shell completions
//! (`ucr completions bash|zsh|fish|elvish|powershell`) and man pages (`ucr man`: `ucr.1` on stdout, or with
//! `--dir DIR` one page per command, `ucr.1` and `ucr-<command>.1`, as git and podman ship them).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write ucr.1 and one ucr-<command>.1 per command into DIR (created) instead of ucr.1 to stdout.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The command line as users see it: without hidden commands (the supervisor's `__supervise`), which clap's
/// generators would otherwise offer and document.
fn public(full: clap::Command) -> clap::Command {
    let mut cmd = clap::Command::new("ucr")
        .version(full.get_version().unwrap_or_default().to_string())
        .about(full.get_about().cloned().unwrap_or_default())
        .args(full.get_arguments().cloned())
        .subcommand_required(true);
    for sub in full.get_subcommands().filter(|s| !s.is_hide_set()) {
        cmd = cmd.subcommand(sub.clone());
    }
    cmd
}

/// `cli`: the whole command line (`args::whole()`).
pub fn completions(a: &CompletionsArgs, cli: clap::Command) -> anyhow::Result<i32> {
    let mut cmd = public(cli);
    // Into a buffer first: clap_complete panics on a write error (a closed pipe), we report it.
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "ucr", &mut buf);
    print(&buf)
}

fn print(buf: &[u8]) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    out.write_all(buf)
        .and_then(|()| out.flush())
        .context("writing to stdout")?;
    Ok(0)
}

pub fn man(a: &ManArgs, cli: clap::Command) -> anyhow::Result<i32> {
    let cmd = public(cli);
    match &a.dir {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut buf)?;
            print(&buf)
        }
        Some(dir) => write_pages(cmd, dir).map(|()| 0),
    }
}

fn write_pages(cmd: clap::Command, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let mut cmd = cmd;
    cmd.build();
    page(&cmd, "ucr", dir)?;
    // Not clap's own `help` command: `ucr help X` is `ucr X --help`, and `man ucr-X` is its page.
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        // The page's title is its file's name, as `man ucr-run` finds it.
        let name = format!("ucr-{}", sub.get_name());
        page(&sub.clone().name(name.clone()), &name, dir)?;
    }
    Ok(())
}

fn page(cmd: &clap::Command, name: &str, dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(format!("{name}.1"));
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut buf)
        .with_context(|| path.display().to_string())?;
    // Written whole or not at all: a packaging step never ships half a page.
    let tmp = dir.join(format!(".{name}.1.tmp"));
    std::fs::write(&tmp, &buf).with_context(|| tmp.display().to_string())?;
    std::fs::rename(&tmp, &path).with_context(|| path.display().to_string())?;
    Ok(())
}
