//! `ucr stats ID [--json]` (Mesos `ResourceStatistics` of a running container, from its isolators' `usage`) and
//! `ucr update ID [--cpus N] [--mem MB]` (the isolators' `update`, then the new values recorded in the
//! checkpointed config so `inspect` shows what the container now has).
//!
//! Both use the isolators the container was made with (its checkpoint), never this process's `--isolation`.

use anyhow::bail;
use clap::Args;

use ucr_runtime::containerizer::Update;
use ucr_runtime::isolators::ResourceStatistics;

use crate::context;
use crate::globals::Globals;

#[derive(Args, Debug)]
pub struct StatsArgs {
    pub id: String,
    /// One JSON object with Mesos's field names.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    pub id: String,
    /// CPU shares (1024 per cpu; cpu.weight 100 per cpu on cgroup v2), and the CFS quota with
    /// --cgroups_enable_cfs when the container has no CPU limit.
    #[arg(long, allow_negative_numbers = true, value_parser = crate::run_flags::positive)]
    pub cpus: Option<f64>,
    /// Memory in MB: the soft limit, and the hard limit unless the container has a memory limit.
    #[arg(long, allow_negative_numbers = true, value_parser = crate::run_flags::positive)]
    pub mem: Option<f64>,
}

pub fn stats(g: &Globals, a: &StatsArgs) -> anyhow::Result<i32> {
    // A pod's (a parent's) usage is its envelope's: its cgroup holds its nested containers' too.
    let c = context::existing(g)?;
    let s = c.usage(&c.resolve(&a.id))?;
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        for (k, v) in rows(&s) {
            println!("{k:<26} {v}");
        }
    }
    Ok(0)
}

/// The measured fields, in Mesos's order, with their values as text (times in seconds, sizes in bytes); each
/// persistent volume's after the `disk` resource's, named by its id.
fn rows(s: &ResourceStatistics) -> Vec<(String, String)> {
    let mut out = Vec::new();
    macro_rules! row {
        ($($f:ident),* $(,)?) => {$(
            if let Some(v) = s.$f {
                out.push((stringify!($f).to_string(), v.to_string()));
            }
        )*};
    }
    row!(processes, threads);
    let secs = [
        ("cpus_user_time_secs", s.cpus_user_time_secs),
        ("cpus_system_time_secs", s.cpus_system_time_secs),
        ("cpus_limit", s.cpus_limit),
    ];
    out.extend(
        secs.iter()
            .filter_map(|(k, v)| Some((k.to_string(), format!("{:.3}", (*v)?)))),
    );
    row!(cpus_nr_periods, cpus_nr_throttled);
    if let Some(v) = s.cpus_throttled_time_secs {
        out.push(("cpus_throttled_time_secs".into(), format!("{v:.3}")));
    }
    row!(
        mem_total_bytes,
        mem_total_memsw_bytes,
        mem_limit_bytes,
        mem_soft_limit_bytes,
        mem_rss_bytes,
        mem_cache_bytes,
        mem_swap_bytes,
        mem_mapped_file_bytes,
        mem_file_bytes,
        mem_anon_bytes,
        disk_limit_bytes,
        disk_used_bytes,
    );
    for d in &s.disk_statistics {
        let Some(p) = &d.persistence else { continue };
        out.push((
            format!("volume {} limit_bytes", p.id),
            d.limit_bytes.to_string(),
        ));
        if let Some(u) = d.used_bytes {
            out.push((format!("volume {} used_bytes", p.id), u.to_string()));
        }
    }
    row!(
        net_rx_packets,
        net_rx_bytes,
        net_rx_errors,
        net_rx_dropped,
        net_tx_packets,
        net_tx_bytes,
        net_tx_errors,
        net_tx_dropped,
    );
    out
}

pub fn update(g: &Globals, a: &UpdateArgs) -> anyhow::Result<i32> {
    // The flags are checked here so the message names them; the library checks the values again.
    if a.cpus.is_none() && a.mem.is_none() {
        bail!(
            "container {}: nothing to update (give --cpus and/or --mem)",
            a.id
        );
    }
    for (name, v) in [("--cpus", a.cpus), ("--mem", a.mem)] {
        if let Some(v) = v.filter(|v| !v.is_finite() || *v <= 0.0) {
            bail!(
                "container {}: {name} must be a positive number, not {v}",
                a.id
            );
        }
    }
    let update = Update {
        cpus: a.cpus,
        mem_mb: a.mem,
    };
    let c = context::existing(g)?;
    c.update(&c.resolve(&a.id), &update)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_in_mesos_order_with_units() {
        use ucr_runtime::isolators::stats::{DiskStatistics, Persistence};
        let s = ResourceStatistics {
            processes: Some(2),
            cpus_user_time_secs: Some(1.23456),
            cpus_limit: Some(0.5),
            mem_total_bytes: Some(1024),
            disk_limit_bytes: Some(4096),
            disk_statistics: vec![
                DiskStatistics {
                    persistence: Some(Persistence { id: "kv".into() }),
                    limit_bytes: 2048,
                    used_bytes: Some(10),
                },
                DiskStatistics {
                    persistence: None,
                    limit_bytes: 4096,
                    used_bytes: None,
                },
            ],
            net_rx_bytes: Some(7),
            ..Default::default()
        };
        let r = rows(&s);
        let keys: Vec<&str> = r.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "processes",
                "cpus_user_time_secs",
                "cpus_limit",
                "mem_total_bytes",
                "disk_limit_bytes",
                "volume kv limit_bytes",
                "volume kv used_bytes",
                "net_rx_bytes"
            ]
        );
        assert_eq!(r[1].1, "1.235");
        assert_eq!(r[3].1, "1024");
        assert_eq!((r[5].1.as_str(), r[6].1.as_str()), ("2048", "10"));
    }
}
