//! `ucr top ID [--json]`: what a running container's processes are doing (`docker top`, `podman top`, `ctr
//! task ps`), a pod's members included: host pid, pid in the container, parent, user, state, CPU time,
//! resident memory, age, command line. `--json` prints one object per process.

use clap::Args;

use ucr_runtime::process::top::Row;

use crate::context;
use crate::globals::Globals;

#[derive(Args, Debug)]
pub struct TopArgs {
    /// The container (a pod, with its members' processes; a member by its dotted name).
    pub id: String,
    /// One JSON object per process, one per line.
    #[arg(long)]
    pub json: bool,
}

pub fn top(g: &Globals, a: &TopArgs) -> anyhow::Result<i32> {
    let c = context::existing(g)?;
    let rows = c.processes(&c.resolve(&a.id))?;
    if a.json {
        for r in &rows {
            println!("{}", serde_json::to_string(r)?);
        }
        return Ok(0);
    }
    println!(
        "{:<8} {:<6} {:<8} {:<10} {:<2} {:>9} {:>7} {:>11}  COMMAND",
        "PID", "NSPID", "PPID", "USER", "S", "TIME", "RSS", "ELAPSED"
    );
    for r in &rows {
        println!("{}", line(r));
    }
    Ok(0)
}

fn line(r: &Row) -> String {
    let ns = r
        .ns_pid
        .map(|p| p.to_string())
        .unwrap_or_else(|| "-".into());
    let user = r.user.clone().unwrap_or_else(|| r.uid.to_string());
    format!(
        "{:<8} {:<6} {:<8} {:<10} {:<2} {:>9} {:>7} {:>11}  {}",
        r.pid,
        ns,
        r.ppid,
        user,
        r.state,
        clock(r.cpu_seconds),
        size(r.rss_kib),
        age(r.elapsed_seconds),
        r.command
    )
}

/// CPU time as `ps` shows it: `[h:]mm:ss`.
fn clock(secs: f64) -> String {
    let s = secs as u64;
    match s / 3600 {
        0 => format!("{:02}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", s / 60 % 60, s % 60),
    }
}

/// Elapsed time as `ps -o etime`: `[[d-]hh:]mm:ss`.
fn age(secs: f64) -> String {
    let s = secs as u64;
    let (d, h, m, s) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
    match (d, h) {
        (0, 0) => format!("{m:02}:{s:02}"),
        (0, h) => format!("{h:02}:{m:02}:{s:02}"),
        (d, h) => format!("{d}-{h:02}:{m:02}:{s:02}"),
    }
}

/// KiB in the largest unit that keeps a number above 1 (`812K`, `3.4M`, `1.2G`).
fn size(kib: u64) -> String {
    match kib {
        k if k < 1024 => format!("{k}K"),
        k if k < 1024 * 1024 => format!("{:.1}M", k as f64 / 1024.0),
        k => format!("{:.1}G", k as f64 / (1024.0 * 1024.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_sizes_as_ps_shows_them() {
        assert_eq!(clock(5.9), "00:05");
        assert_eq!(clock(3725.0), "1:02:05");
        assert_eq!(age(65.0), "01:05");
        assert_eq!(age(3.0 * 3600.0 + 7.0), "03:00:07");
        assert_eq!(age(2.0 * 86400.0 + 3600.0), "2-01:00:00");
        assert_eq!(size(812), "812K");
        assert_eq!(size(3482), "3.4M");
        assert_eq!(size(1258291), "1.2G");
    }
}
