//! The circuit breaker in front of the provider (failsafe's state machine),
//! with its state kept where readiness checks and metrics can read it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use failsafe::failure_policy::{ConsecutiveFailures, consecutive_failures};
use failsafe::{Instrument, StateMachine, backoff};

use crate::settings::BreakerSettings;
use crate::telemetry;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BreakerState {
    /// Calls go through.
    Closed = 0,
    /// The cool-down passed: calls go through, and the next answer decides.
    HalfOpen = 1,
    /// Calls fail fast without reaching the provider.
    Open = 2,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::HalfOpen => "half_open",
            Self::Open => "open",
        }
    }

    /// The value of the `pointshare_provider_breaker_state` gauge.
    pub fn as_gauge(self) -> f64 {
        f64::from(self as u8)
    }

    fn from_u8(value: u8) -> Self {
        match value {
            1 => Self::HalfOpen,
            2 => Self::Open,
            _ => Self::Closed,
        }
    }
}

/// Hears failsafe's transitions and records them.
#[derive(Debug, Clone, Default)]
struct Recorder(Arc<AtomicU8>);

impl Recorder {
    fn enter(&self, state: BreakerState) {
        self.0.store(state as u8, Ordering::Relaxed);
        telemetry::breaker_entered(state.as_gauge(), state.as_str());
    }
}

impl Instrument for Recorder {
    // Rejections are counted per operation where they happen, not here.
    fn on_call_rejected(&self) {}

    fn on_open(&self) {
        tracing::warn!("provider circuit breaker opened: calls fail fast until the cool-down passes");
        self.enter(BreakerState::Open);
    }

    fn on_half_open(&self) {
        tracing::info!("provider circuit breaker half-open: trying the provider again");
        self.enter(BreakerState::HalfOpen);
    }

    fn on_closed(&self) {
        self.enter(BreakerState::Closed);
    }
}

type Machine = StateMachine<ConsecutiveFailures<backoff::Constant>, Recorder>;

#[derive(Clone)]
pub(crate) struct Breaker {
    machine: Machine,
    state: Recorder,
}

impl std::fmt::Debug for Breaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Breaker").field("state", &self.state()).finish()
    }
}

impl Breaker {
    pub(crate) fn new(settings: BreakerSettings) -> Self {
        let state = Recorder::default();
        let policy = consecutive_failures(settings.consecutive_failures, backoff::constant(settings.cool_down));
        let machine = failsafe::Config::new().failure_policy(policy).instrument(state.clone()).build();
        Breaker { machine, state }
    }

    /// Whether a call may go to the provider now.
    pub(crate) fn permits(&self) -> bool {
        self.machine.is_call_permitted()
    }

    pub(crate) fn succeeded(&self) {
        self.machine.on_success();
    }

    pub(crate) fn failed(&self) {
        self.machine.on_error();
    }

    pub(crate) fn state(&self) -> BreakerState {
        let state = BreakerState::from_u8(self.state.0.load(Ordering::Relaxed));
        if state == BreakerState::Open {
            // failsafe leaves `Open` only when asked; ask, so a breaker whose
            // cool-down passed while no call came reads half-open, not open.
            self.machine.is_call_permitted();
            return BreakerState::from_u8(self.state.0.load(Ordering::Relaxed));
        }
        state
    }
}
