//! `ucr` — the daemonless CLI. Thin: flags in, library calls, one-line errors out.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
