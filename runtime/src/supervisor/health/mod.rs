//! The container's health checks, run by its supervisor inside the same single-threaded wait as the task: each
//! check is due at a time, a due check's probe is a short-lived process (`probe.rs`) whose pidfd joins the
//! wait's poll, and its result goes through the check's counter (`policy.rs`) into `health.json`. A check whose
//! failures reach its limit asks the wait to kill the task through the kill policy.
//!
//! Timing follows Mesos's checker: the first probe `delay` after the start, the next `interval` after the
//! previous one ended; a probe past its timeout is killed and counts as a failure.

mod net;
mod policy;
mod probe;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use self::net::NetProbe;
use self::policy::{Counter, Effect};
use self::probe::{Job, Running};
use crate::container::checkpoint::write_json;
use crate::container::health::{CheckReport, HealthReport, HealthStatus, Outcome, ProbeResult};
use crate::container::paths::Paths;
use crate::container::state::ContainerState;
use crate::launcher::{Entry, Plan};
use crate::spec::health::{CheckPort, HealthCheck, Probe, Side};

pub struct Checker<'a> {
    paths: &'a Paths,
    id: String,
    plan: &'a Plan,
    init_pid: i32,
    checks: Vec<Check>,
    killed: Option<String>,
}

struct Check {
    spec: HealthCheck,
    target: Target,
    next: Instant,
    running: Option<Running>,
    counter: Counter,
    report: CheckReport,
}

enum Target {
    Net {
        addr: SocketAddr,
        in_container: bool,
    },
    Command(Entry),
    /// A check that can never run (its port index names no port): every probe fails with this.
    Broken(String),
}

impl<'a> Checker<'a> {
    /// None when the container has no health checks.
    pub fn new(
        paths: &'a Paths,
        st: &ContainerState,
        checks: &[HealthCheck],
        plan: &'a Plan,
        init_pid: i32,
    ) -> Option<Checker<'a>> {
        if checks.is_empty() {
            return None;
        }
        let start = Instant::now();
        // A pod member's endpoints are its pod's port mappings: its parent holds them.
        let parent_ports = crate::container::paths::parent_id(&st.id)
            .filter(|_| st.ports.is_empty())
            .and_then(|p| crate::container::records::load(paths, p).ok())
            .map(|p| p.ports);
        let ports = parent_ports.as_deref().unwrap_or(&st.ports);
        let checks = checks
            .iter()
            .map(|c| {
                let target = target(c, ports);
                Check {
                    next: start + secs(c.delay_secs),
                    counter: Counter::new(start + secs(c.grace_secs), c.kill_after),
                    report: CheckReport {
                        protocol: c.protocol().to_string(),
                        target: describe(c, &target),
                        status: HealthStatus::Starting,
                        consecutive_failures: 0,
                        kill_after: c.kill_after,
                        probes: 0,
                        last: None,
                        last_failure: None,
                    },
                    spec: c.clone(),
                    target,
                    running: None,
                }
            })
            .collect();
        let c = Checker {
            paths,
            id: st.id.clone(),
            plan,
            init_pid,
            checks,
            killed: None,
        };
        c.write();
        Some(c)
    }

    /// The pidfds of the probes in flight, with their check's index.
    pub fn fds(&self) -> Vec<(usize, BorrowedFd<'_>)> {
        self.checks
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.running.as_ref().map(|r| (i, r.fd())))
            .collect()
    }

    /// When the wait must wake up for a probe that is due or overdue.
    pub fn wakeup(&self) -> Option<Instant> {
        if self.killed.is_some() {
            return None;
        }
        self.checks
            .iter()
            .filter_map(|c| match &c.running {
                Some(r) => r.deadline,
                None => Some(c.next),
            })
            .min()
    }

    /// Collect the probes in `ended` (indexes of checks whose probe process ended), kill overdue ones, start due
    /// ones. Returns why the task is to be killed, the first time a check reaches its limit.
    pub fn service(&mut self, ended: &[usize]) -> Option<String> {
        let now = Instant::now();
        for i in 0..self.checks.len() {
            if self.killed.is_some() {
                break;
            }
            let c = &mut self.checks[i];
            let result = match c.running.take() {
                Some(r) if ended.contains(&i) => Some(r.finish()),
                Some(r) if r.deadline.is_some_and(|d| now >= d) => Some(r.abort(format!(
                    "no result within the {}s timeout",
                    c.spec.timeout_secs
                ))),
                other => {
                    c.running = other;
                    None
                }
            };
            if let Some((outcome, message)) = result {
                self.record(i, outcome, message);
            }
        }
        if self.killed.is_none() {
            self.start_due(now);
        }
        self.killed.clone()
    }

    fn start_due(&mut self, now: Instant) {
        for i in 0..self.checks.len() {
            let c = &self.checks[i];
            if c.running.is_some() || c.next > now {
                continue;
            }
            let timeout = Some(secs(c.spec.timeout_secs)).filter(|t| !t.is_zero());
            let job = match &c.target {
                Target::Broken(why) => {
                    let why = why.clone();
                    self.record(i, Outcome::Failed, why);
                    continue;
                }
                Target::Net { addr, in_container } => Job::Net {
                    probe: net_probe(&c.spec.probe, *addr),
                    netns_of: in_container.then_some(self.init_pid),
                },
                Target::Command(entry) => Job::Command {
                    plan: self.plan,
                    init_pid: self.init_pid,
                    entry: entry.clone(),
                },
            };
            match probe::spawn(&job, timeout) {
                Ok(r) => self.checks[i].running = Some(r),
                Err(e) => self.record(i, Outcome::Failed, format!("starting the probe: {e}")),
            }
        }
    }

    fn record(&mut self, i: usize, outcome: Outcome, message: String) {
        let now = Instant::now();
        let c = &mut self.checks[i];
        c.next = now + secs(c.spec.interval_secs);
        let effect = c.counter.record(now, outcome);
        let result = ProbeResult {
            at_ms: unix_ms(),
            outcome,
            message,
            counted: effect != Effect::Recorded { counted: false },
        };
        tracing::debug!(check = i, ?outcome, "health probe: {}", result.message);
        let r = &mut c.report;
        r.probes += 1;
        r.status = c.counter.status;
        r.consecutive_failures = c.counter.failures;
        if outcome == Outcome::Failed {
            r.last_failure = Some(result.clone());
        }
        r.last = Some(result);
        if effect == Effect::Kill {
            let why = format!(
                "killed by its {} health check after {} consecutive failures: {}",
                r.protocol,
                r.consecutive_failures,
                r.last.as_ref().map(|l| l.message.as_str()).unwrap_or("")
            );
            tracing::info!("{why}");
            self.killed = Some(why);
            self.stop();
        }
        self.write();
    }

    /// Kill every probe in flight (the task is ending or being killed).
    pub fn stop(&mut self) {
        for c in &mut self.checks {
            if let Some(r) = c.running.take() {
                r.abort(String::new());
            }
        }
    }

    fn write(&self) {
        let checks: Vec<CheckReport> = self.checks.iter().map(|c| c.report.clone()).collect();
        let report = HealthReport {
            status: HealthReport::overall(&checks),
            checks,
            killed: self.killed.clone(),
        };
        if let Err(e) = write_json(&self.paths.health_file(&self.id), &report) {
            tracing::warn!("health record: {e}");
        }
    }
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX / 4)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where a check's probe goes, with the ports decided at launch: Marathon's checks the host port of the
/// mapping, Mesos's the container port (the host port where the mapping has none: host networking).
fn target(c: &HealthCheck, ports: &[crate::spec::PortMapping]) -> Target {
    let (port, ipv6) = match &c.probe {
        Probe::Command { command } => return Target::Command(probe::entry(command)),
        Probe::Http { port, ipv6, .. } | Probe::Tcp { port, ipv6 } => (port, *ipv6),
    };
    let port = match port {
        CheckPort::Number(n) => *n,
        CheckPort::Index(i) => match ports.get(*i) {
            None => return Target::Broken(format!("the container has no port at index {i}")),
            Some(m) if c.side == Side::Container && m.container_port != 0 => m.container_port,
            Some(m) => m.host_port,
        },
    };
    let ip = if ipv6 {
        IpAddr::V6(Ipv6Addr::LOCALHOST)
    } else {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    };
    Target::Net {
        addr: SocketAddr::new(ip, port),
        in_container: c.side == Side::Container,
    }
}

fn net_probe(p: &Probe, addr: SocketAddr) -> NetProbe {
    match p {
        Probe::Http {
            https,
            path,
            ignore_1xx,
            ..
        } => NetProbe::Http {
            addr,
            https: *https,
            path: path.clone(),
            ignore_1xx: *ignore_1xx,
        },
        _ => NetProbe::Tcp { addr },
    }
}

fn describe(c: &HealthCheck, t: &Target) -> String {
    match (t, &c.probe) {
        (Target::Net { addr, .. }, Probe::Http { https, path, .. }) => {
            format!("{}://{addr}{path}", if *https { "https" } else { "http" })
        }
        (Target::Net { addr, .. }, _) => addr.to_string(),
        (Target::Command(e), _) => e
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" "),
        (Target::Broken(why), _) => why.clone(),
    }
}
