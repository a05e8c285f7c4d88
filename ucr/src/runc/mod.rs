//! `ucr-runc`: the OCI runtime mode's command line, a thin layer over `ucr_runtime::oci`. The `ucr` binary
//! runs it when invoked under the name `ucr-runc` (the README's install makes the symlink): one binary to
//! install and upgrade, and containerd's `BinaryName`/`--runc-binary` and podman's `--runtime` take a path, so
//! a name is all the dispatch needs. It runs before anything else in `main`: no thread may exist when `create`
//! and `exec` fork.
//!
//! Errors go to the log (`--log`, as containerd reads it) and to stderr, and exit 1, as runc's do.

mod args;
mod commands;
mod exec;
mod log;
mod units;
mod update;

use args::RuncCli;

/// Whether this process was started as the OCI runtime (its `argv[0]`'s file name).
pub fn invoked() -> bool {
    std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n == "ucr-runc"))
        .unwrap_or(false)
}

pub fn main() -> i32 {
    let cli = match crate::args::parse::<RuncCli>(std::env::args_os().collect()) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    let to_file = cli.log.is_some();
    if let Err(e) = log::init(cli.log.as_deref(), &cli.log_format, cli.debug) {
        eprintln!("ucr-runc: {e}");
        return 1;
    }
    tracing::debug!("{:?}", std::env::args().collect::<Vec<_>>());
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e}");
            // With a log file the error is also on stderr, where a person running the command looks.
            if to_file {
                eprintln!("ucr-runc: {e}");
            }
            1
        }
    }
}
