//! `update`: new limits from `--resources FILE|-` (a runtime-spec `LinuxResources`, as containerd sends it on
//! stdin) or from runc's flags, which override the file's values.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use ucr_runtime::oci::{self, OciError, Root};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// LinuxResources JSON; `-` reads stdin.
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    #[arg(long)]
    pub cpu_period: Option<u64>,
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    #[arg(long)]
    pub cpu_share: Option<u64>,
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Bytes, or with a unit (k, m, g); -1 for no limit.
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    pub id: String,
}

pub fn run(root: &Root, a: &UpdateArgs) -> oci::Result<()> {
    let mut r = match &a.resources {
        Some(p) => read(p)?,
        None => LinuxResources::default(),
    };
    let mut cpu = r.cpu().clone().unwrap_or_default();
    let cpu_given = set_cpu(&mut cpu, a);
    if cpu_given {
        r.set_cpu(Some(cpu));
    }
    let mut mem = r.memory().unwrap_or_default();
    let mut mem_given = false;
    for (flag, value, set) in [
        (
            "--memory",
            &a.memory,
            LinuxMemory::set_limit as fn(&mut LinuxMemory, Option<i64>) -> &mut LinuxMemory,
        ),
        (
            "--memory-reservation",
            &a.memory_reservation,
            LinuxMemory::set_reservation,
        ),
        ("--memory-swap", &a.memory_swap, LinuxMemory::set_swap),
    ] {
        if let Some(v) = value {
            set(&mut mem, Some(bytes(flag, v)?));
            mem_given = true;
        }
    }
    if mem_given {
        r.set_memory(Some(mem));
    }
    if let Some(n) = a.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(n);
        r.set_pids(Some(p));
    }
    if let Some(w) = a.blkio_weight {
        let mut b = r.block_io().clone().unwrap_or_else(LinuxBlockIo::default);
        b.set_weight(Some(w));
        r.set_block_io(Some(b));
    }
    oci::update(root, &a.id, &r)
}

fn set_cpu(cpu: &mut LinuxCpu, a: &UpdateArgs) -> bool {
    let before = cpu.clone();
    if a.cpu_period.is_some() {
        cpu.set_period(a.cpu_period);
    }
    if a.cpu_quota.is_some() {
        cpu.set_quota(a.cpu_quota);
    }
    if a.cpu_share.is_some() {
        cpu.set_shares(a.cpu_share);
    }
    if a.cpu_rt_period.is_some() {
        cpu.set_realtime_period(a.cpu_rt_period);
    }
    if a.cpu_rt_runtime.is_some() {
        cpu.set_realtime_runtime(a.cpu_rt_runtime);
    }
    if a.cpuset_cpus.is_some() {
        cpu.set_cpus(a.cpuset_cpus.clone());
    }
    if a.cpuset_mems.is_some() {
        cpu.set_mems(a.cpuset_mems.clone());
    }
    *cpu != before
}

fn read(p: &PathBuf) -> oci::Result<LinuxResources> {
    let mut text = Vec::new();
    let got = match p.as_os_str() == "-" {
        true => std::io::stdin().read_to_end(&mut text),
        false => std::fs::File::open(p).and_then(|mut f| f.read_to_end(&mut text)),
    };
    got.map_err(|e| OciError::Io {
        path: p.clone(),
        why: e,
    })?;
    serde_json::from_slice(&text).map_err(|e| OciError::Config {
        path: p.clone(),
        why: format!("LinuxResources: {e}"),
    })
}

fn bytes(flag: &str, v: &str) -> oci::Result<i64> {
    if v == "-1" {
        return Ok(-1);
    }
    let n =
        super::units::ram_bytes(v).map_err(|e| OciError::Refused(format!("{flag} {v:?}: {e}")))?;
    i64::try_from(n).map_err(|_| OciError::Refused(format!("{flag} {v:?}: too large")))
}
