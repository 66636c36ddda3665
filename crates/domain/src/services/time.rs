//! The settings' durations (std) as chrono's, for arithmetic on the clock's
//! times; one past chrono's range saturates instead of panicking.

use std::time::Duration;

use chrono::TimeDelta;

pub(crate) fn to_delta(duration: Duration) -> TimeDelta {
    TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX)
}
