//! `/proc/<pid>/stat`, parsed in one place for every reader (a process's liveness and start time, the process
//! tree an exec'd session is found in, the pause's argument area, `top`'s CPU time and memory). The command name, field 2, is in parentheses
//! and may itself hold spaces and parentheses, so the fields are counted after its last `)`.

/// The fields of a stat line that ucr reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    /// Field 4.
    pub ppid: i32,
    /// Field 6: the session id.
    pub session: i32,
    /// Fields 14 and 15: CPU time in user and kernel mode, in clock ticks.
    pub cpu_ticks: u64,
    /// Field 22: when the process started, in clock ticks after boot; with the pid it names one process.
    pub start_time: u64,
    /// Field 24: resident set size, in pages.
    pub rss_pages: u64,
}

impl Stat {
    /// The stat of process `pid`; None once it is gone (or unreadable).
    pub fn of(pid: i32) -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// The fields of one stat line; None for a line that is not one.
    pub fn parse(line: &str) -> Option<Stat> {
        let f: Vec<&str> = fields(line)?.collect();
        // Field n of the line is f[n - 3].
        let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
        Some(Stat {
            state: f.first()?.chars().next()?,
            ppid: f.get(1)?.parse().ok()?,
            session: f.get(3)?.parse().ok()?,
            cpu_ticks: num(14)?.saturating_add(num(15)?),
            start_time: num(22)?,
            rss_pages: num(24)?,
        })
    }

    /// A zombie or a dead process: it has exited, whether reaped yet or not.
    pub fn exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// The fields of a stat line from field 3 (the state) on.
pub fn fields(line: &str) -> Option<std::str::SplitWhitespace<'_>> {
    line.get(line.rfind(')')? + 1..).map(str::split_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_count_from_after_the_last_parenthesis_of_the_name() {
        let tail = (7..=24)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let line = format!("42 (a b) c)) S 7 42 40 {tail} 25");
        let s = Stat::parse(&line).expect("a stat line");
        assert_eq!(
            s,
            Stat {
                state: 'S',
                ppid: 7,
                session: 40,
                cpu_ticks: 14 + 15,
                start_time: 22,
                rss_pages: 24,
            }
        );
        assert!(!s.exited());
        assert_eq!(fields(&line).and_then(|mut f| f.nth(19)), Some("22"));
        assert_eq!(Stat::parse("garbage"), None);
        assert_eq!(Stat::parse("1 (short) S 0"), None);
        assert_eq!(Stat::parse("1 (x)"), None);
        assert_eq!(
            Stat::parse(&format!("42 (a) S 7 42 40 {}", "1 ".repeat(10))),
            None
        );
    }

    #[test]
    fn this_process_and_its_parent() {
        let me = Stat::of(std::process::id() as i32).expect("own stat");
        assert_eq!(me.ppid, std::os::unix::process::parent_id() as i32);
        assert!(me.start_time > 0 && !me.exited());
    }
}
