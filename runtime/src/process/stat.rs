//! `/proc/<pid>/stat`, parsed in one place for every reader (a process's liveness and start time, the process
//! tree an exec'd session is found in, the pause's argument area). The command name, field 2, is in parentheses
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
    /// Field 22: when the process started, in clock ticks after boot; with the pid it names one process.
    pub start_time: u64,
}

impl Stat {
    /// The stat of process `pid`; None once it is gone (or unreadable).
    pub fn of(pid: i32) -> Option<Stat> {
        Stat::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// The fields of one stat line; None for a line that is not one.
    pub fn parse(line: &str) -> Option<Stat> {
        let mut f = fields(line)?;
        let state = f.next()?.chars().next()?;
        let ppid = f.next()?.parse().ok()?;
        let session = f.nth(1)?.parse().ok()?;
        let start_time = f.nth(15)?.parse().ok()?;
        Some(Stat {
            state,
            ppid,
            session,
            start_time,
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
        let tail = (7..=22)
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        let line = format!("42 (a b) c)) S 7 42 40 {tail} 23");
        let s = Stat::parse(&line).expect("a stat line");
        assert_eq!(
            s,
            Stat {
                state: 'S',
                ppid: 7,
                session: 40,
                start_time: 22
            }
        );
        assert!(!s.exited());
        assert_eq!(fields(&line).and_then(|mut f| f.nth(19)), Some("22"));
        assert_eq!(Stat::parse("garbage"), None);
        assert_eq!(Stat::parse("1 (short) S 0"), None);
        assert_eq!(Stat::parse("1 (x)"), None);
    }

    #[test]
    fn this_process_and_its_parent() {
        let me = Stat::of(std::process::id() as i32).expect("own stat");
        assert_eq!(me.ppid, std::os::unix::process::parent_id() as i32);
        assert!(me.start_time > 0 && !me.exited());
    }
}
