//! `ManualClock`: wall-clock time that moves only when a test moves it.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use parking_lot::Mutex;

use pointshare_domain::ports::Clock;

#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    pub fn at(now: DateTime<Utc>) -> Self {
        ManualClock { now: Mutex::new(now) }
    }

    pub fn advance(&self, by: TimeDelta) {
        *self.now.lock() += by;
    }
}

impl Default for ManualClock {
    /// 2026-01-01T12:00:00Z: midday, so a test can move hours either way within one day.
    fn default() -> Self {
        ManualClock::at(Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).single().expect("a valid date"))
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock()
    }
}
