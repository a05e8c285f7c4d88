//! What one probe's result means for its check (TASK-SEMANTICS.md §4.3), with no clock or process of its own so
//! it is tested directly: a pass clears the failures and ends the grace period; a failure within the grace
//! period before the first pass is not counted; a counted failure makes the check unhealthy and, once the count
//! reaches the check's limit, kills the task; an ignored answer (Marathon `ignoreHttp1xx`) changes nothing.

use std::time::Instant;

use crate::container::health::{HealthStatus, Outcome};

pub struct Counter {
    grace_until: Instant,
    passed_once: bool,
    pub failures: u32,
    kill_after: Option<u32>,
    pub status: HealthStatus,
}

/// What a result did.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    /// Recorded; `counted` is false for a failure in the grace period or an ignored answer.
    Recorded { counted: bool },
    /// The failure that reached the limit: the task is to be killed.
    Kill,
}

impl Counter {
    pub fn new(grace_until: Instant, kill_after: Option<u32>) -> Counter {
        Counter {
            grace_until,
            passed_once: false,
            failures: 0,
            kill_after,
            status: HealthStatus::Starting,
        }
    }

    pub fn record(&mut self, now: Instant, outcome: Outcome) -> Effect {
        match outcome {
            Outcome::Ignored => Effect::Recorded { counted: false },
            Outcome::Passed => {
                self.passed_once = true;
                self.failures = 0;
                self.status = HealthStatus::Healthy;
                Effect::Recorded { counted: true }
            }
            Outcome::Failed if !self.passed_once && now < self.grace_until => {
                Effect::Recorded { counted: false }
            }
            Outcome::Failed => {
                self.failures += 1;
                self.status = HealthStatus::Unhealthy;
                if self.kill_after.is_some_and(|k| self.failures >= k) {
                    Effect::Kill
                } else {
                    Effect::Recorded { counted: true }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const FAIL: Outcome = Outcome::Failed;
    const PASS: Outcome = Outcome::Passed;

    #[test]
    fn failures_in_the_grace_period_do_not_count_until_the_first_pass() {
        let t0 = Instant::now();
        let mut c = Counter::new(t0 + Duration::from_secs(10), Some(1));
        assert_eq!(c.record(t0, FAIL), Effect::Recorded { counted: false });
        assert_eq!(c.status, HealthStatus::Starting);
        assert_eq!(
            c.record(t0 + Duration::from_secs(1), PASS),
            Effect::Recorded { counted: true }
        );
        // Passed once: the grace period is over even though its time is not.
        assert_eq!(c.record(t0 + Duration::from_secs(2), FAIL), Effect::Kill);
    }

    #[test]
    fn the_limit_kills_on_exactly_that_many_consecutive_failures() {
        let t0 = Instant::now();
        let mut c = Counter::new(t0, Some(3));
        assert_eq!(c.record(t0, FAIL), Effect::Recorded { counted: true });
        assert_eq!(c.status, HealthStatus::Unhealthy);
        assert_eq!(c.record(t0, FAIL), Effect::Recorded { counted: true });
        assert_eq!(c.record(t0, PASS), Effect::Recorded { counted: true });
        assert_eq!((c.failures, c.status), (0, HealthStatus::Healthy));
        assert_eq!(c.record(t0, FAIL), Effect::Recorded { counted: true });
        assert_eq!(c.record(t0, FAIL), Effect::Recorded { counted: true });
        assert_eq!(c.record(t0, FAIL), Effect::Kill);
        assert_eq!(c.failures, 3);
    }

    #[test]
    fn no_limit_never_kills_and_ignored_answers_change_nothing() {
        let t0 = Instant::now();
        let mut c = Counter::new(t0, None);
        for _ in 0..100 {
            assert_eq!(c.record(t0, FAIL), Effect::Recorded { counted: true });
        }
        let before = c.failures;
        assert_eq!(
            c.record(t0, Outcome::Ignored),
            Effect::Recorded { counted: false }
        );
        assert_eq!((c.failures, c.status), (before, HealthStatus::Unhealthy));
    }
}
