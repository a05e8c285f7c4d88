//! The hidden `__supervise` command: the per-container supervisor the CLI (or agent) starts for each launch.
//!
//! Its argv is the one `context::supervisor_command` writes, so it is read here without clap (`fast`): clap builds
//! the parser of every command before it looks at the first argument, most of a millisecond that each container
//! start would pay again. Anything unexpected falls back to the clap path, which accepts every spelling.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;
use ucr_runtime::supervisor::{supervise, SuperviseArgs};
use ucr_runtime::Paths;

use crate::context::paths;
use crate::globals::Globals;
use crate::logging;

#[derive(Args, Debug)]
pub struct SuperviseCmd {
    /// Inherited pipe to report to.
    #[arg(long = "notify-fd")]
    pub notify_fd: Option<i32>,
    pub id: String,
}

pub fn supervise_cmd(g: &Globals, a: &SuperviseCmd) -> i32 {
    let p = paths(g);
    supervise(
        &SuperviseArgs {
            paths: &p,
            store_dir: &g.store_dir(),
            id: &a.id,
            notify_fd: a.notify_fd,
        },
        None,
    )
}

/// What the fast path read from `ucr <globals> __supervise [--notify-fd N] -- ID`.
#[derive(Debug, PartialEq)]
struct Fast {
    root: PathBuf,
    runtime_dir: PathBuf,
    store_dir: PathBuf,
    log_level: String,
    notify_fd: Option<i32>,
    id: String,
}

fn parse(args: &[OsString]) -> Option<Fast> {
    let at = args.iter().position(|a| a == "__supervise")?;
    let (mut root, mut runtime_dir, mut store_dir, mut log_level) = (None, None, None, None);
    let mut globals = args.get(1..at)?.iter();
    while let Some(k) = globals.next() {
        let v = globals.next()?;
        match k.to_str()? {
            "--root" => root = Some(PathBuf::from(v)),
            "--runtime-dir" => runtime_dir = Some(PathBuf::from(v)),
            "--docker-store-dir" => store_dir = Some(PathBuf::from(v)),
            "--log-level" => log_level = Some(v.to_str()?.to_string()),
            // Read by the provisioner from the container's checkpoint, not by the supervisor.
            "--image_provisioner_backend" => {}
            _ => return None,
        }
    }
    let (notify_fd, id) = match args.get(at + 1..)? {
        [flag, fd, dash, id] if flag == "--notify-fd" && dash == "--" => {
            (Some(fd.to_str()?.parse().ok()?), id)
        }
        [dash, id] if dash == "--" => (None, id),
        _ => return None,
    };
    let root = root?;
    Some(Fast {
        store_dir: store_dir.unwrap_or_else(|| root.join("store/docker")),
        runtime_dir: runtime_dir?,
        log_level: log_level.unwrap_or_else(|| "warn".into()),
        notify_fd,
        id: id.to_str()?.to_string(),
        root,
    })
}

/// Run the supervisor if this process was started as one with the launcher's argv; None otherwise.
pub fn fast() -> Option<i32> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let f = parse(&args)?;
    logging::init(&f.log_level, false);
    let p = Paths::new(&f.root, &f.runtime_dir);
    Some(supervise(
        &SuperviseArgs {
            paths: &p,
            store_dir: &f.store_dir,
            id: &f.id,
            notify_fd: f.notify_fd,
        },
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn reads_the_launchers_argv_and_nothing_else() {
        let f = parse(&os(&[
            "ucr",
            "--root",
            "/r",
            "--runtime-dir",
            "/run/u",
            "--docker-store-dir",
            "/s",
            "--log-level",
            "debug",
            "--image_provisioner_backend",
            "copy",
            "__supervise",
            "--notify-fd",
            "3",
            "--",
            "web-1",
        ]))
        .expect("the launcher argv parses");
        assert_eq!(
            f,
            Fast {
                root: "/r".into(),
                runtime_dir: "/run/u".into(),
                store_dir: "/s".into(),
                log_level: "debug".into(),
                notify_fd: Some(3),
                id: "web-1".into(),
            }
        );
        // Other commands, unknown options or a different shape go to clap.
        assert!(parse(&os(&["ucr", "--root", "/r", "ps"])).is_none());
        assert!(parse(&os(&[
            "ucr",
            "--root",
            "/r",
            "--runtime-dir",
            "/d",
            "--odd",
            "x",
            "__supervise",
            "--",
            "a"
        ]))
        .is_none());
        assert!(parse(&os(&[
            "ucr",
            "--root",
            "/r",
            "--runtime-dir",
            "/d",
            "__supervise",
            "a"
        ]))
        .is_none());
    }
}
