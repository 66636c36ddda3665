//! The point in time by which a caller needs an answer, passed down every
//! port call so retries and timeouts below never outlive the request.

use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn after(budget: Duration) -> Self {
        Deadline(Instant::now() + budget)
    }

    pub fn instant(self) -> Instant {
        self.0
    }

    /// Time left; zero once passed.
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn is_past(self) -> bool {
        self.remaining().is_zero()
    }

    /// The earlier of this deadline and `budget` from now.
    pub fn capped(self, budget: Duration) -> Self {
        self.min(Deadline::after(budget))
    }
}
