//! The one conversion the supervisor's two poll loops (the task's watch and a probe's wait) share: a remaining
//! duration as the `Timespec` that `ppoll` takes. Its own file so that neither loop imports the other.

use std::time::Duration;

pub(super) fn timespec(d: Duration) -> rustix::event::Timespec {
    rustix::event::Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}
