//! `ucr volume ls|rm`: the local persistent volumes under `<root>/volumes` (they outlive their containers and
//! `ucr rm`; only `ucr volume rm` deletes one, and not while a live container uses it).

use clap::Subcommand;
use serde_json::json;

use crate::context;
use crate::globals::Globals;

#[derive(Subcommand, Debug)]
pub enum VolumeCmd {
    /// List persistent volumes: name, size asked and what it became, the containers that use it.
    Ls {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Delete persistent volumes and their data.
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

pub fn volume(g: &Globals, cmd: &VolumeCmd) -> anyhow::Result<i32> {
    let c = context::existing(g)?;
    match cmd {
        VolumeCmd::Ls { json } => {
            let all = c.volumes()?;
            if !*json {
                println!("{:<40} {:<10} {:<12} USED BY", "NAME", "SIZE", "QUOTA");
            }
            for (r, by) in all {
                let quota = r
                    .enforcement
                    .as_ref()
                    .and_then(|e| e["quota"].as_str().map(str::to_string));
                if *json {
                    let line = json!({
                        "name": r.name, "path": r.path, "size_mb": r.size_mb,
                        "enforcement": r.enforcement, "used_by": by,
                    });
                    println!("{line}");
                } else {
                    let size = r.size_mb.map_or("-".into(), |m| format!("{m}MiB"));
                    let by = if by.is_empty() {
                        "-".into()
                    } else {
                        by.join(",")
                    };
                    let quota = quota.unwrap_or_else(|| "-".into());
                    println!("{:<40} {size:<10} {quota:<12} {by}", r.name);
                }
            }
            Ok(0)
        }
        VolumeCmd::Rm { names } => {
            let mut code = 0;
            for n in names {
                match c.remove_volume(n) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("ucr: {e}");
                        code = 1;
                    }
                }
            }
            Ok(code)
        }
    }
}
