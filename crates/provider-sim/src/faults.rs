//! Faults a provider double suffers: scripted for the next N calls of one
//! operation, or drawn at random from a seed (for property tests and the
//! simulator's fault rates). The fake provider and the simulator share it, so
//! a fault means the same thing in-process and over HTTP.

use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use pointshare_domain::ports::Rejection;
pub use pointshare_provider_http::contract::Operation;

/// What goes wrong with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A 503: nothing applied.
    Transient,
    /// A 429 asking to wait this long.
    RateLimited(Duration),
    /// Applied, but the answer never arrives: outcome unknown.
    ApplyThenTimeout,
    /// Lost on the way: nothing applied, and the caller cannot tell.
    TimeoutWithoutApply,
    /// The provider refuses our credentials (a 401): nothing applied, and no
    /// retry helps until an operator fixes the configuration.
    Unauthorized,
    /// A final refusal, nothing applied.
    Reject(Rejection),
    /// The answer comes this much later. Past the caller's deadline it
    /// behaves as the real provider would: applied, outcome unknown.
    Delay(Duration),
}

/// Chances, per call, of each random fault.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomFaults {
    pub transient: f64,
    pub apply_then_timeout: f64,
    pub timeout_without_apply: f64,
    /// Every call is delayed by a random duration up to this.
    pub max_delay: Duration,
}

#[derive(Debug, Default)]
pub struct FaultPlan {
    state: Mutex<PlanState>,
}

#[derive(Debug, Default)]
struct PlanState {
    scripted: HashMap<Operation, VecDeque<Fault>>,
    random: Option<(RandomFaults, StdRng)>,
    calls: HashMap<Operation, u64>,
}

impl FaultPlan {
    /// The next `times` calls of `operation` suffer `fault`, after any already scripted.
    pub fn fail_next(&self, operation: Operation, times: usize, fault: Fault) {
        let mut state = self.state.lock();
        state.scripted.entry(operation).or_default().extend(std::iter::repeat_n(fault, times));
    }

    /// From now on, unscripted calls draw faults at random, reproducibly from `seed`.
    pub fn randomize(&self, seed: u64, chances: RandomFaults) {
        self.state.lock().random = Some((chances, StdRng::seed_from_u64(seed)));
    }

    /// Stops scripted and random faults.
    pub fn heal(&self) {
        let mut state = self.state.lock();
        state.scripted.clear();
        state.random = None;
    }

    /// How many calls of `operation` arrived, faulty or not.
    pub fn calls(&self, operation: Operation) -> u64 {
        self.state.lock().calls.get(&operation).copied().unwrap_or(0)
    }

    /// Counts a call of `operation` and says what goes wrong with it, if anything.
    pub fn next(&self, operation: Operation) -> Option<Fault> {
        let mut state = self.state.lock();
        *state.calls.entry(operation).or_default() += 1;
        if let Some(fault) = state.scripted.get_mut(&operation).and_then(VecDeque::pop_front) {
            return Some(fault);
        }
        let (chances, rng) = state.random.as_mut()?;
        let roll: f64 = rng.random();
        let delay = rng.random_range(Duration::ZERO..=chances.max_delay);
        if roll < chances.transient {
            Some(Fault::Transient)
        } else if roll < chances.transient + chances.apply_then_timeout && operation.mutates() {
            Some(Fault::ApplyThenTimeout)
        } else if roll < chances.transient + chances.apply_then_timeout + chances.timeout_without_apply {
            Some(Fault::TimeoutWithoutApply)
        } else if delay > Duration::ZERO {
            Some(Fault::Delay(delay))
        } else {
            None
        }
    }
}
