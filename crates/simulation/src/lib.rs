//! A deterministic simulation of the transfer saga. One seed draws a whole
//! run: members and their balances, shares, grants and the support desk's
//! corrections (reversals, adjustments both ways, a second admin approving
//! or rejecting the large ones) sent to three replicas
//! (each with its own clock, off by up to the allowed skew), a provider with
//! latency, 503s, lost answers and calls applied late within the in-flight
//! window, accounts frozen and thawed, replicas crashed mid-step and
//! restarted, and replicas stalled for longer than any lease. Time is the
//! runtime's paused clock, so a minute of chaos runs in milliseconds and the
//! same seed replays the same run.
//!
//! When the run has drained (faults off, everything thawed, recovery given
//! time) the invariants of docs/reliability.md are checked: points
//! conserved (only grants add, only withdrawals take), every reference
//! applied at most once with the right account and amount, every transfer
//! terminal or in `needs_review` (an unapproved correction expired), no
//! transfer reversed beyond its amount, and no sender past the daily limit.
//! No balance goes below zero: the provider refuses an overdraft, as the
//! real one does, and conservation would show a debit it applied twice.
//!
//! A test tool: it may use the test kit, and nothing depends on it.

mod invariants;
mod provider;
mod replica;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use pointshare_domain::ports::{
    Clock, DailyTotals, Deadline, MemberRepository, Movement, TransferReads, TransferRepository,
};
use pointshare_domain::services::{
    AdjustCommand, AdjustDirection, ApprovalPolicy, DecideCommand, Decision, Fencing, GrantCommand, HANDLE_HOLD,
    MemberService, RecoverySettings, ReverseCommand, SagaSettings, ShareCommand, SignupCommand, TransferLimits,
};
use pointshare_domain::{
    AccountStatus, DisplayName, Email, Handle, IdempotencyKey, Member, MovementKind, Origin, Password, Points,
    ProviderReference, Reason, TransferState,
};
use pointshare_embedded::{InMemoryDailyTotals, InMemoryMembers, InMemoryTransfers};
use pointshare_testkit::Ledger;

use provider::SimProvider;
use replica::{Replica, Shared, SimClock};

/// The time a request gives its share; its lease is twice that.
const REQUEST_DEADLINE: Duration = Duration::from_secs(3);
const RECOVERY_LEASE: Duration = Duration::from_secs(20);
/// The longest between a call's sending and its application at the provider.
const IN_FLIGHT: Duration = Duration::from_secs(8);
const CLOCK_SKEW: Duration = Duration::from_secs(1);
const REPLICAS: usize = 3;
const MEMBERS: usize = 6;
const SHARES: usize = 40;
/// How long shares keep coming and faults keep happening.
const CHAOS: Duration = Duration::from_secs(60);
/// How long recovery gets, faults off, to finish what chaos left.
const DRAIN: Duration = Duration::from_secs(300);

/// What one seed's run did and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub seed: u64,
    pub transfers: usize,
    /// Transfers by kind and end state (and why declined), such as
    /// `withdrawal rejected (approval_expired)`.
    pub by_outcome: BTreeMap<String, usize>,
    /// Movements the provider applied, in order, without the run's random
    /// ids: what two runs of one seed must agree on.
    pub movements: Vec<String>,
    pub violations: Vec<String>,
}

/// Runs one seed on a fresh single-threaded runtime with paused time.
pub fn run(seed: u64, fencing: Fencing) -> Outcome {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    runtime.block_on(simulate(seed, fencing))
}

/// One thing that happens at a point of the run.
#[derive(Debug, Clone)]
enum Event {
    Share {
        replica: usize,
        from: usize,
        to: usize,
        amount: u64,
        key: String,
    },
    Grant {
        replica: usize,
        to: usize,
        amount: u64,
        key: String,
    },
    /// Undo (part of) the share `share-<share>` made, if it completed.
    Reverse {
        replica: usize,
        share: usize,
        amount: Option<u64>,
        key: String,
    },
    Adjust {
        replica: usize,
        member: usize,
        amount: u64,
        direction: AdjustDirection,
        key: String,
    },
    /// The second admin decides every correction waiting for approval.
    Decide {
        replica: usize,
        decision: Decision,
    },
    Crash {
        replica: usize,
        down_for: Duration,
    },
    Stall {
        replica: usize,
        stalled_for: Duration,
    },
    Freeze {
        member: usize,
        frozen_for: Duration,
    },
    Restart {
        replica: usize,
    },
    Thaw {
        replica: usize,
    },
    Unfreeze {
        member: usize,
    },
}

/// The whole run's events, drawn from the seed up front.
fn plan(rng: &mut StdRng) -> Vec<(Duration, Event)> {
    let at = |rng: &mut StdRng| Duration::from_millis(rng.random_range(0..CHAOS.as_millis() as u64));
    let mut events = Vec::new();
    for n in 0..SHARES {
        let from = rng.random_range(0..MEMBERS);
        let to = (from + rng.random_range(1..MEMBERS)) % MEMBERS;
        let share = Event::Share {
            replica: rng.random_range(0..REPLICAS),
            from,
            to,
            amount: rng.random_range(1..=200),
            key: format!("share-{n}"),
        };
        let when = at(rng);
        // Some clients repeat their request, as after a timeout.
        if rng.random_bool(0.2) {
            let again = when + Duration::from_millis(rng.random_range(100..5_000));
            let replica = rng.random_range(0..REPLICAS);
            let Event::Share { from, to, amount, ref key, .. } = share else { unreachable!("just built") };
            events.push((again, Event::Share { replica, from, to, amount, key: key.clone() }));
        }
        events.push((when, share));
    }
    for n in 0..3 {
        let grant = Event::Grant {
            replica: rng.random_range(0..REPLICAS),
            to: rng.random_range(0..MEMBERS),
            amount: rng.random_range(1..=100),
            key: format!("grant-{n}"),
        };
        events.push((at(rng), grant));
    }
    // Corrections come once there is something to correct.
    let later_half = |rng: &mut StdRng| CHAOS / 2 + at(rng) / 2;
    for n in 0..8 {
        let amount = rng.random_bool(0.7).then(|| rng.random_range(1..=120));
        let reverse = Event::Reverse {
            replica: rng.random_range(0..REPLICAS),
            share: rng.random_range(0..SHARES),
            amount,
            key: format!("reversal-{n}"),
        };
        events.push((later_half(rng), reverse));
    }
    for n in 0..4 {
        let direction = if rng.random_bool(0.5) { AdjustDirection::Credit } else { AdjustDirection::Debit };
        let adjust = Event::Adjust {
            replica: rng.random_range(0..REPLICAS),
            member: rng.random_range(0..MEMBERS),
            amount: rng.random_range(1..=100),
            direction,
            key: format!("adjustment-{n}"),
        };
        events.push((later_half(rng), adjust));
    }
    for _ in 0..4 {
        let decision = if rng.random_bool(0.7) { Decision::Approve } else { Decision::Reject };
        events.push((later_half(rng), Event::Decide { replica: rng.random_range(0..REPLICAS), decision }));
    }
    for _ in 0..2 {
        let replica = rng.random_range(0..REPLICAS);
        events
            .push((at(rng), Event::Crash { replica, down_for: Duration::from_millis(rng.random_range(500..10_000)) }));
        let replica = rng.random_range(0..REPLICAS);
        let stalled_for = RECOVERY_LEASE + Duration::from_millis(rng.random_range(0..10_000));
        events.push((at(rng), Event::Stall { replica, stalled_for }));
    }
    for _ in 0..4 {
        let member = rng.random_range(0..MEMBERS);
        events.push((
            at(rng),
            Event::Freeze { member, frozen_for: Duration::from_millis(rng.random_range(500..15_000)) },
        ));
    }
    events.sort_by_key(|(when, _)| *when);
    events
}

async fn simulate(seed: u64, fencing: Fencing) -> Outcome {
    let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
    let start = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).single().expect("a valid date");
    let true_clock = Arc::new(SimClock::new(start, TimeDelta::zero()));
    let ledger = Arc::new(Ledger::new(true_clock.clone()));
    let provider = Arc::new(SimProvider::new(ledger.clone(), rng.clone(), IN_FLIGHT));
    let transfers = Arc::new(InMemoryTransfers::default());
    let members_store = Arc::new(InMemoryMembers::default());
    let limits = TransferLimits {
        max_per_transfer: Points::new(200).expect("in range"),
        max_per_day: 400,
        max_per_grant: Points::new(100).expect("in range"),
        grant_budget_per_day: 150,
        require_verified_email: false,
    };
    let shared = Shared {
        members: members_store.clone() as Arc<dyn MemberRepository>,
        transfers: transfers.clone() as Arc<dyn TransferRepository>,
        totals: Arc::new(InMemoryDailyTotals::default()) as Arc<dyn DailyTotals>,
        provider: provider.clone(),
        limits,
        // Small enough that some corrections wait for a second admin.
        approvals: ApprovalPolicy { threshold: 40, expires_after: Duration::from_secs(30) },
        saga: SagaSettings { clock_skew: CLOCK_SKEW, in_flight_window: IN_FLIGHT, fencing, ..SagaSettings::default() },
        recovery: RecoverySettings {
            batch: 20,
            lease_for: RECOVERY_LEASE,
            step_budget: RECOVERY_LEASE / 2,
            concurrency: 4,
            max_attempts: 30,
            ..RecoverySettings::default()
        },
        request_deadline: REQUEST_DEADLINE,
        recovery_interval: Duration::from_secs(1),
    };

    let balances: Vec<u64> = (0..MEMBERS).map(|_| rng.lock().random_range(50..=500)).collect();
    let (members, [admin, second_admin], funded) = sign_up(&shared, &ledger, &balances, start).await;
    let events = plan(&mut rng.lock());
    let clock_errors: Vec<TimeDelta> = (0..REPLICAS)
        .map(|_| {
            let half = CLOCK_SKEW.as_millis() as i64 / 2;
            TimeDelta::milliseconds(rng.lock().random_range(-half..=half))
        })
        .collect();
    let began = tokio::time::Instant::now();
    // A replica's clock starts from the true time of its start, plus its error.
    let boot = |r: usize| Replica::start(&format!("replica-{r}"), &shared, true_clock.now(), clock_errors[r]);
    let mut replicas: Vec<Option<Replica>> = (0..REPLICAS).map(|r| Some(boot(r))).collect();

    provider.set_faulty(true);
    let mut timeline: Vec<(Duration, Event)> = events;
    while !timeline.is_empty() {
        let (when, event) = timeline.remove(0);
        tokio::time::sleep_until(began + when).await;
        let mut later = |after: Duration, event: Event| {
            let at = when + after;
            let slot = timeline.partition_point(|(w, _)| *w <= at);
            timeline.insert(slot, (at, event));
        };
        match event {
            Event::Share { replica, from, to, amount, key } => {
                let command = ShareCommand {
                    sender: members[from].clone(),
                    to: members[to].handle.clone(),
                    amount: Points::new(amount).expect("in range"),
                    memo: None,
                    idempotency_key: IdempotencyKey::parse(key).expect("valid"),
                };
                if let Some(replica) = running(&mut replicas, replica) {
                    let service = replica.transfers.clone();
                    replica.spawn(async move {
                        let _answer = service.share(command, Deadline::after(REQUEST_DEADLINE)).await;
                    });
                }
            }
            Event::Grant { replica, to, amount, key } => {
                let command = GrantCommand {
                    admin: admin.id,
                    to: members[to].handle.clone(),
                    amount: Points::new(amount).expect("in range"),
                    reason: None,
                    idempotency_key: IdempotencyKey::parse(key).expect("valid"),
                    origin: Origin::default(),
                };
                if let Some(replica) = running(&mut replicas, replica) {
                    let service = replica.transfers.clone();
                    replica.spawn(async move {
                        let _answer = service.grant(command, Deadline::after(REQUEST_DEADLINE)).await;
                    });
                }
            }
            Event::Reverse { replica, share, amount, key } => {
                // Whichever share `share-<n>` was: its sender is found by trying each.
                let mut original = None;
                for member in &members {
                    let made = IdempotencyKey::parse(format!("share-{share}")).expect("valid");
                    original = original.or(transfers.by_idempotency_key(member.id, &made).await.expect("in memory"));
                }
                let Some(original) = original else { continue };
                let command = ReverseCommand {
                    admin: admin.id,
                    transfer: original.id,
                    amount: amount.map(|n| Points::new(n).expect("in range")),
                    reason: Reason::parse("simulated mistake").expect("valid"),
                    idempotency_key: IdempotencyKey::parse(key).expect("valid"),
                    origin: Origin::default(),
                };
                if let Some(replica) = running(&mut replicas, replica) {
                    let service = replica.corrections.clone();
                    replica.spawn(async move {
                        let _answer = service.reverse(command, Deadline::after(REQUEST_DEADLINE)).await;
                    });
                }
            }
            Event::Adjust { replica, member, amount, direction, key } => {
                let command = AdjustCommand {
                    admin: admin.id,
                    member: members[member].handle.clone(),
                    amount: Points::new(amount).expect("in range"),
                    direction,
                    reason: Reason::parse("simulated clean-up").expect("valid"),
                    idempotency_key: IdempotencyKey::parse(key).expect("valid"),
                    origin: Origin::default(),
                };
                if let Some(replica) = running(&mut replicas, replica) {
                    let service = replica.corrections.clone();
                    replica.spawn(async move {
                        let _answer = service.adjust(command, Deadline::after(REQUEST_DEADLINE)).await;
                    });
                }
            }
            Event::Decide { replica, decision } => {
                let waiting = transfers.waiting(TransferState::AwaitingApproval, None, 100).await.expect("in memory");
                if let Some(replica) = running(&mut replicas, replica) {
                    for transfer in waiting.items {
                        let command = DecideCommand {
                            admin: second_admin.id,
                            transfer: transfer.id,
                            decision,
                            reason: Reason::parse("simulated second look").expect("valid"),
                            origin: Origin::default(),
                        };
                        let service = replica.corrections.clone();
                        replica.spawn(async move {
                            let _answer = service.decide(command, Deadline::after(REQUEST_DEADLINE)).await;
                        });
                    }
                }
            }
            Event::Crash { replica, down_for } => {
                if let Some(crashed) = replicas[replica].take() {
                    crashed.crash();
                    later(down_for, Event::Restart { replica });
                }
            }
            Event::Restart { replica } => {
                if replicas[replica].is_none() {
                    replicas[replica] = Some(boot(replica));
                }
            }
            Event::Stall { replica, stalled_for } => {
                if let Some(stalled) = &replicas[replica] {
                    stalled.gate.set_open(false);
                    later(stalled_for, Event::Thaw { replica });
                }
            }
            Event::Thaw { replica } => {
                if let Some(thawed) = &replicas[replica] {
                    thawed.gate.set_open(true);
                }
            }
            Event::Freeze { member, frozen_for } => {
                let account = members[member].provider_account.as_ref().expect("an account");
                ledger.set_status(account, AccountStatus::Frozen).expect("exists");
                later(frozen_for, Event::Unfreeze { member });
            }
            Event::Unfreeze { member } => {
                let account = members[member].provider_account.as_ref().expect("an account");
                ledger.set_status(account, AccountStatus::Active).expect("exists");
            }
        }
    }

    // Drain: the provider heals, every replica runs, recovery finishes.
    provider.set_faulty(false);
    for member in &members {
        let account = member.provider_account.as_ref().expect("an account");
        ledger.set_status(account, AccountStatus::Active).expect("exists");
    }
    for (r, slot) in replicas.iter_mut().enumerate() {
        match slot {
            Some(replica) => replica.gate.set_open(true),
            None => *slot = Some(boot(r)),
        }
    }
    tokio::time::sleep(DRAIN).await;
    for replica in replicas.into_iter().flatten() {
        replica.crash();
    }
    // Whatever is still in flight lands (or never will).
    tokio::time::sleep(IN_FLIGHT + Duration::from_secs(1)).await;

    let all = transfers.all();
    let mut by_outcome = BTreeMap::new();
    for transfer in &all {
        let mut outcome = format!("{} {}", transfer.kind.as_str(), transfer.state.as_str());
        if let Some(decline) = transfer.decline {
            outcome = format!("{outcome} ({})", decline.as_str());
        }
        *by_outcome.entry(outcome).or_default() += 1;
    }
    let account_owner = |account: &pointshare_domain::ProviderAccountId| {
        members.iter().chain([&admin, &second_admin]).position(|m| m.provider_account.as_ref() == Some(account))
    };
    let movements = ledger
        .transactions()
        .iter()
        .map(|t| {
            let step = t.reference.as_str().rsplit(':').next().unwrap_or_default();
            format!("{} {} to member {:?} under :{step}", t.kind.as_str(), t.amount, account_owner(&t.account_id))
        })
        .collect();
    let violations = invariants::check(&ledger, &all, funded, &limits);
    Outcome { seed, transfers: all.len(), by_outcome, movements, violations }
}

/// The replica at `index` if it runs, else the next one that does.
fn running(replicas: &mut [Option<Replica>], index: usize) -> Option<&mut Replica> {
    let count = replicas.len();
    let up = (0..count).map(|n| (index + n) % count).find(|&n| replicas[n].is_some())?;
    replicas[up].as_mut()
}

/// Signs up the members and two admins, funds the members at the
/// provider, and returns them with the total funded.
async fn sign_up(
    shared: &Shared,
    ledger: &Ledger,
    balances: &[u64],
    start: chrono::DateTime<Utc>,
) -> (Vec<Member>, [Member; 2], u128) {
    let clock = Arc::new(SimClock::new(start, TimeDelta::zero()));
    let passwords = Arc::new(pointshare_testkit::FakePasswords::default());
    let service = MemberService::new(shared.members.clone(), shared.provider.clone(), passwords, clock, HANDLE_HOLD);
    let signup = |handle: String| SignupCommand {
        email: Email::parse(format!("{handle}@example.com")).expect("valid"),
        handle: Handle::parse(handle.as_str()).expect("valid"),
        display_name: DisplayName::parse(handle.as_str()).expect("valid"),
        password: Password::parse("simulated password").expect("valid"),
    };
    let deadline = || Deadline::after(Duration::from_secs(60));
    let mut members = Vec::new();
    let mut funded = 0;
    for (n, &balance) in balances.iter().enumerate() {
        let member = service.signup(signup(format!("member{n}")), deadline()).await.expect("signs up");
        let funding = Movement {
            account: member.provider_account.clone().expect("an account"),
            reference: ProviderReference::parse(format!("funding:{n}")).expect("valid"),
            amount: Points::new(balance).expect("in range"),
            memo: None,
        };
        ledger.apply(MovementKind::Credit, &funding).expect("funding applies");
        funded += u128::from(balance);
        members.push(member);
    }
    let admin = service.enrol_admin(signup("admin".into()), deadline()).await.expect("signs up");
    let second = service.enrol_admin(signup("second".into()), deadline()).await.expect("signs up");
    (members, [admin, second], funded)
}
