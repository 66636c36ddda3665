//! The transfer saga (docs/architecture.md): one provider step at a time, each result
//! recorded by compare-and-set before the next step starts.
//!
//! References derive from the transfer id (`<id>:debit`, `<id>:credit`,
//! `<id>:refund`), so any driver — the request that created the transfer, or
//! recovery after a crash — can repeat a step without applying it twice.

use anyhow::Context;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

use super::reservations::release_reservation;
use super::time::to_delta;
use crate::model::{
    DeclineReason, LeaseOwner, Legs, Memo, MovementKind, ProviderAccountId, ProviderReference, ProviderTransaction,
    ReviewReason, Transfer, TransferState,
};
use crate::ports::{
    BalanceCache, CachedBalance, Clock, DailyTotals, Deadline, Movement, PointsProvider, ProviderError, Rejection,
    TakeOverError, TransferStore, Transition, TransitionError,
};

/// Whether drivers guard against their own staleness (docs/architecture.md,
/// "Fencing"). Always `On` in a service; `Off` exists only with the cargo
/// feature `unfenced`, which the simulation alone enables, to show that what
/// it finds without these guards it no longer finds with them (scripts/test
/// checks the server is built without it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fencing {
    /// Calls only while the lease holds, refunds under the credit's
    /// reference, rejections confirmed once earlier calls can no longer land.
    On,
    /// The saga as it was before fencing: trusts its lease, refunds under
    /// `<id>:refund`, trusts every rejection at once.
    #[cfg(feature = "unfenced")]
    Off,
}

impl Fencing {
    const fn is_off(self) -> bool {
        #[cfg(feature = "unfenced")]
        if matches!(self, Fencing::Off) {
            return true;
        }
        false
    }
}

#[derive(Debug, Clone, Copy)]
pub struct SagaSettings {
    /// How long a balance learnt from a movement is served from the cache.
    pub balance_ttl: Duration,
    /// The most replicas' clocks may differ: calls stop this long before a lease ends.
    pub clock_skew: Duration,
    /// The longest the provider may take to apply a call after it was sent.
    /// A driver that takes a transfer over trusts a rejection only once every
    /// call of earlier holders has landed or never will.
    pub in_flight_window: Duration,
    pub fencing: Fencing,
}

impl Default for SagaSettings {
    fn default() -> Self {
        SagaSettings {
            balance_ttl: Duration::from_secs(5),
            clock_skew: Duration::from_secs(1),
            in_flight_window: Duration::from_secs(10),
            fencing: Fencing::On,
        }
    }
}

#[derive(Debug)]
pub struct SagaDriver {
    transfers: TransferStore,
    /// Given back what a transfer reserved when it ends having moved nothing.
    totals: Arc<dyn DailyTotals>,
    provider: Arc<dyn PointsProvider>,
    cache: Arc<dyn BalanceCache>,
    clock: Arc<dyn Clock>,
    settings: SagaSettings,
}

/// How the driver came to hold the transfer.
#[derive(Debug, Clone, Copy)]
pub enum Holding {
    /// It created the transfer: nobody called the provider for it before.
    Created,
    /// It took the transfer over at this time, once the last holder's lease
    /// had ended; that holder's calls may still be landing.
    TakenOver { at: DateTime<Utc> },
}

/// The provider call a transfer's state calls for.
#[derive(Debug)]
struct Step {
    kind: MovementKind,
    movement: Movement,
    on_applied: TransferState,
}

/// How recording a step went: moved by this driver, or found moved by another.
enum Recorded {
    Moved(Transfer),
    Lost(Transfer),
}

/// What a step's answer leads to.
enum Next {
    Move {
        to: TransferState,
        decline: Option<DeclineReason>,
        review: Option<ReviewReason>,
    },
    /// Nothing to record now; the transfer waits for its next driver.
    Stop,
}

impl Next {
    fn to(to: TransferState) -> Self {
        Next::Move { to, decline: None, review: None }
    }

    fn decline(to: TransferState, reason: DeclineReason) -> Self {
        Next::Move { to, decline: Some(reason), review: None }
    }

    fn review(reason: ReviewReason) -> Self {
        Next::Move { to: TransferState::NeedsReview, decline: None, review: Some(reason) }
    }
}

impl SagaDriver {
    pub fn new(
        transfers: TransferStore,
        totals: Arc<dyn DailyTotals>,
        provider: Arc<dyn PointsProvider>,
        cache: Arc<dyn BalanceCache>,
        clock: Arc<dyn Clock>,
        settings: SagaSettings,
    ) -> Self {
        SagaDriver { transfers, totals, provider, cache, clock, settings }
    }

    /// Drives `transfer`, whose lease `owner` holds, until it is terminal or
    /// needs review, the deadline leaves no room for another attempt, or
    /// another driver takes it over. Returns the transfer as it then stands;
    /// one still in the saga is "processing" and recovery will finish it.
    pub async fn drive(
        &self,
        transfer: Transfer,
        owner: &LeaseOwner,
        holding: Holding,
        deadline: Deadline,
    ) -> anyhow::Result<Transfer> {
        self.drive_reporting(transfer, owner, holding, deadline, None, |_| {}).await
    }

    /// `drive`, telling `report` the transfer as it stands after each step
    /// it records or finds recorded by another driver. With `renew`, the
    /// lease `owner` still holds is renewed before a call (see `renewal`), so
    /// calls run to `deadline` rather than stop short at the lease: how a
    /// follow-up drives past its request.
    pub async fn drive_reporting(
        &self,
        mut transfer: Transfer,
        owner: &LeaseOwner,
        holding: Holding,
        deadline: Deadline,
        renew: Option<Duration>,
        report: impl Fn(&Transfer),
    ) -> anyhow::Result<Transfer> {
        // Whether this driver applied the debit of a transfer the store still
        // holds as accepted. Recording it would cost a write that crash safety
        // does not need: the next holder of an accepted transfer sends the
        // debit again under its reference, which applies nothing twice, so
        // the credit's outcome is recorded straight from `accepted`.
        let mut debited = false;
        while let Some(step) = self.next_step(&transfer, debited)? {
            if let Some(until) = renew.and_then(|lease| self.renewal(&transfer, owner, lease, deadline)) {
                transfer = match self.transfers.leases.take_over(transfer.id, owner, self.clock.now(), until).await {
                    // Still as we left it: ours alone held it meanwhile.
                    Ok(renewed) if renewed.state == transfer.state => renewed,
                    Ok(changed) => {
                        tracing::info!(transfer = %transfer.id, "the transfer moved on while its lease lapsed; leaving it to recovery");
                        report(&changed);
                        return Ok(changed);
                    }
                    Err(TakeOverError::Leased(current)) => {
                        tracing::info!(transfer = %transfer.id, "another driver holds the transfer now; leaving it to them");
                        report(&current);
                        return Ok(*current);
                    }
                    Err(error) => return Err(error).with_context(|| format!("renewing the lease of {}", transfer.id)),
                };
            }
            let deadline = match self.within_lease(&transfer, owner, deadline) {
                Some(deadline) => deadline,
                None => {
                    tracing::warn!(transfer = %transfer.id, "the lease ran out before the next provider call; leaving it to its next holder");
                    return Ok(transfer);
                }
            };
            let answer = self.call(&step, deadline).await;
            if let Ok(transaction) = &answer {
                self.remember_balance(transaction).await;
            }
            let next = match answer {
                Ok(_) if step.on_applied == TransferState::Debited => {
                    debited = true;
                    continue;
                }
                Ok(_) => Next::to(step.on_applied),
                Err(ProviderError::Rejected(rejection)) => {
                    let position = if debited { TransferState::Debited } else { transfer.state };
                    self.after_rejection(&transfer, position, &step, rejection, holding, deadline).await
                }
                Err(ProviderError::Unexpected(error)) => {
                    tracing::error!(transfer = %transfer.id, error = format!("{error:#}"), "the provider refused a call no repeat will change");
                    Next::review(ReviewReason::ProviderRefused)
                }
                Err(error) => {
                    tracing::warn!(transfer = %transfer.id, %error, "saga step unfinished; leaving it to recovery");
                    Next::Stop
                }
            };
            let Next::Move { to, decline, review } = next else { return Ok(transfer) };
            debited = false;
            transfer = match self.record(&transfer, owner, to, decline, review).await? {
                Recorded::Moved(moved) => moved,
                Recorded::Lost(current) => {
                    report(&current);
                    return Ok(current);
                }
            };
            report(&transfer);
        }
        Ok(transfer)
    }

    /// Parks a transfer its holder will not drive further (recovery, after
    /// its attempts) in `needs_review`. Returns it as it then stands.
    pub async fn park(
        &self,
        transfer: &Transfer,
        owner: &LeaseOwner,
        reason: ReviewReason,
    ) -> anyhow::Result<Transfer> {
        match self.record(transfer, owner, TransferState::NeedsReview, None, Some(reason)).await? {
            Recorded::Moved(parked) | Recorded::Lost(parked) => Ok(parked),
        }
    }

    /// Records one step's outcome by compare-and-set. `Lost` if another
    /// driver moved the transfer first (it is left to them).
    async fn record(
        &self,
        transfer: &Transfer,
        owner: &LeaseOwner,
        to: TransferState,
        decline: Option<DeclineReason>,
        review: Option<ReviewReason>,
    ) -> anyhow::Result<Recorded> {
        // The store refuses any other edge; the saga must never ask for one.
        debug_assert!(
            transfer.state.can_become(to, transfer.kind),
            "the saga recorded {:?} -> {to:?} for a {:?}",
            transfer.state,
            transfer.kind
        );
        let transition = Transition {
            id: transfer.id,
            kind: transfer.kind,
            from: transfer.state,
            to,
            decline: to.decline_kept(decline.or(transfer.decline)),
            review,
            resolution: None,
            owner: owner.clone(),
            at: self.clock.now(),
        };
        match self.transfers.records.transition(&transition).await {
            Ok(moved) => {
                if matches!(moved.state, TransferState::Rejected | TransferState::Reversed) {
                    release_reservation(self.totals.as_ref(), self.transfers.holds.as_ref(), &moved).await;
                }
                if let Some(reason) = moved.review {
                    tracing::error!(transfer = %moved.id, reason = reason.as_str(), "transfer needs review");
                }
                Ok(Recorded::Moved(moved))
            }
            Err(TransitionError::Conflict(current)) => {
                tracing::info!(transfer = %transfer.id, state = current.state.as_str(), "transfer moved by another driver");
                Ok(Recorded::Lost(*current))
            }
            Err(error) => Err(error).with_context(|| format!("recording step of transfer {}", transfer.id)),
        }
    }

    /// Where a refusal leads, from where the saga stands (`position`: the
    /// transfer's state, or `debited` when this driver applied its debit
    /// unrecorded). The provider checks a reference before anything else, so
    /// a refusal means this call applied nothing; what it cannot say is
    /// whether an earlier holder's call is still on its way.
    async fn after_rejection(
        &self,
        transfer: &Transfer,
        position: TransferState,
        step: &Step,
        rejection: Rejection,
        holding: Holding,
        deadline: Deadline,
    ) -> Next {
        use TransferState::*;
        tracing::info!(transfer = %transfer.id, state = position.as_str(), %rejection, "provider refused a saga step");
        let payer_side = step.kind == MovementKind::Debit || position == Refunding;
        match (position, rejection) {
            // Our reference holds a movement we did not make this way.
            (_, Rejection::ReferenceConflict) if position != Refunding => Next::review(ReviewReason::ReferenceConflict),
            // The credit under the same reference landed after all (a late
            // call of an earlier holder): the recipient has the points.
            (Refunding, Rejection::ReferenceConflict) => self.credit_landed_instead(transfer, deadline).await,
            // Frozen accounts thaw: try the refund again on a later pass.
            (Refunding, Rejection::AccountInactive) => Next::Stop,
            (Refunding, Rejection::AccountNotFound) => Next::review(ReviewReason::RefundRefused),
            (_, Rejection::InsufficientFunds) if step.kind == MovementKind::Credit => {
                Next::review(ReviewReason::ProviderRefused)
            }
            // Refunding is safe even if a late credit is on its way: the
            // refund uses the credit's reference, so only one of them applies.
            (Debited, rejection) => Next::decline(Refunding, decline_reason(rejection, payer_side)),
            (_, rejection) => {
                let reason = decline_reason(rejection, payer_side);
                match self.confirm_nothing_landed(transfer, step, holding, deadline).await {
                    Some(true) => Next::decline(Rejected, reason),
                    Some(false) => Next::to(step.on_applied),
                    None => Next::Stop,
                }
            }
        }
    }

    /// Before a rejection ends a transfer: whether the step's reference is
    /// still unapplied once no earlier holder's call can land any more.
    /// `None` if that moment is past this driver's deadline or the provider
    /// cannot say; the next holder asks again.
    async fn confirm_nothing_landed(
        &self,
        transfer: &Transfer,
        step: &Step,
        holding: Holding,
        deadline: Deadline,
    ) -> Option<bool> {
        let Holding::TakenOver { at } = holding else { return Some(true) };
        if self.settings.fencing.is_off() {
            return Some(true);
        }
        let settled = at + to_delta(self.settings.in_flight_window);
        let wait = (settled - self.clock.now()).to_std().unwrap_or_default();
        if wait.is_zero() {
            // Every earlier call had landed before this one was refused, and
            // the provider answers a landed reference with its transaction.
            return Some(true);
        }
        if wait >= deadline.remaining() {
            tracing::info!(transfer = %transfer.id, "a rejection waits for earlier calls to land; leaving it to the next holder");
            return None;
        }
        tokio::time::sleep(wait).await;
        match self.provider.transaction_by_reference(&step.movement.reference, deadline).await {
            Ok(None) => Some(true),
            Ok(Some(found)) if is_movement(&found, step) => {
                tracing::warn!(transfer = %transfer.id, reference = %found.reference, "an earlier holder's call landed after a rejection");
                Some(false)
            }
            Ok(Some(found)) => {
                tracing::error!(transfer = %transfer.id, ?found, "the reference holds another movement");
                None
            }
            Err(error) => {
                tracing::warn!(transfer = %transfer.id, %error, "could not confirm a rejection");
                None
            }
        }
    }

    /// The refund found the credit's reference taken: completed if that is
    /// the recipient's credit, for review if it is anything else.
    async fn credit_landed_instead(&self, transfer: &Transfer, deadline: Deadline) -> Next {
        let reference = transfer.credit_reference();
        match self.provider.transaction_by_reference(&reference, deadline).await {
            Ok(Some(found))
                if found.kind == MovementKind::Credit
                    && Some(&found.account_id) == transfer.recipient_account.as_ref()
                    && found.amount == transfer.amount =>
            {
                tracing::warn!(transfer = %transfer.id, "the credit landed before the refund; the transfer completed after all");
                Next::Move { to: TransferState::Completed, decline: None, review: None }
            }
            Ok(_) => Next::review(ReviewReason::ReferenceConflict),
            Err(error) => {
                tracing::warn!(transfer = %transfer.id, %error, "could not look up the credit the refund collided with");
                Next::Stop
            }
        }
    }

    /// The deadline of `owner`'s next provider call for this transfer: no
    /// later than its lease ends by this process's clock, less the clock skew
    /// allowed between replicas (another replica's clock may see the lease
    /// end that much sooner). `None` once that has passed. The store's
    /// compare-and-set refuses a stale driver's *record*; this keeps a driver
    /// that stalled past its lease (a pause, a slow call) from sending another
    /// provider *call*, and no call it sends outlives its lease.
    fn within_lease(&self, transfer: &Transfer, owner: &LeaseOwner, deadline: Deadline) -> Option<Deadline> {
        if self.settings.fencing.is_off() {
            return Some(deadline);
        }
        let left = self.time_for_calls(transfer, owner)?;
        (!left.is_zero()).then(|| deadline.capped(left))
    }

    /// When to renew the lease `owner` still holds to, before the next call:
    /// once less than half of `lease` is left for calls (so a share that
    /// finishes quickly costs no extra write), to `lease` from now but no
    /// later than `deadline` needs (calls stop there), and only if that is
    /// later than now. `None`: no renewal, also when the lease is no longer
    /// ours or has ended, which a renewal must never resurrect.
    fn renewal(
        &self,
        transfer: &Transfer,
        owner: &LeaseOwner,
        lease: Duration,
        deadline: Deadline,
    ) -> Option<DateTime<Utc>> {
        let now = self.clock.now();
        let held = transfer.lease.as_ref().filter(|held| &held.owner == owner && held.until > now)?;
        let left_for_calls = (held.until - now).to_std().ok()?.saturating_sub(self.settings.clock_skew);
        let until = now + to_delta(lease.min(deadline.remaining() + self.settings.clock_skew));
        (left_for_calls < lease / 2 && until > held.until).then_some(until)
    }

    /// How long `owner` may still call the provider for `transfer`: until its
    /// lease ends, less the clock skew. `None` if it holds no lease or that
    /// time has passed.
    fn time_for_calls(&self, transfer: &Transfer, owner: &LeaseOwner) -> Option<Duration> {
        let lease = transfer.lease.as_ref().filter(|lease| &lease.owner == owner)?;
        (lease.until - self.clock.now()).to_std().ok()?.checked_sub(self.settings.clock_skew)
    }

    /// One call per step: retrying within the deadline is the provider
    /// adapter's (with its budget and breaker); what is still unfinished after
    /// it is recovery's.
    async fn call(&self, step: &Step, deadline: Deadline) -> Result<ProviderTransaction, ProviderError> {
        self.provider.apply(step.kind, &step.movement, deadline).await
    }

    /// Every applied movement tells us the account's new balance; keep it, so
    /// the next read is fresh without another provider call. The cache keeps
    /// the newest by `as_of`, so an older answer arriving late changes nothing.
    async fn remember_balance(&self, transaction: &ProviderTransaction) {
        let balance = CachedBalance { balance: transaction.balance_after, as_of: transaction.created_at };
        if let Err(error) = self.cache.put(&transaction.account_id, balance, self.settings.balance_ttl).await {
            tracing::warn!(%error, account = %transaction.account_id, "could not cache a balance");
        }
    }

    /// The call `transfer` needs next; `debited`: its debit is applied though
    /// the store still says accepted.
    fn next_step(&self, transfer: &Transfer, debited: bool) -> anyhow::Result<Option<Step>> {
        let movement = |account: &ProviderAccountId, reference: ProviderReference, memo: Option<Memo>| Movement {
            account: account.clone(),
            reference,
            amount: transfer.amount,
            memo,
        };
        let sender_account = || {
            let kind = transfer.kind.as_str();
            transfer.sender_account.as_ref().with_context(|| format!("{kind} {} has no sender account", transfer.id))
        };
        let recipient_account = || {
            let kind = transfer.kind.as_str();
            transfer
                .recipient_account
                .as_ref()
                .with_context(|| format!("{kind} {} has no recipient account", transfer.id))
        };
        let memo = transfer.memo.clone();
        let position = match transfer.state {
            TransferState::Accepted if debited => TransferState::Debited,
            state => state,
        };
        let step = match (transfer.kind.legs(), position) {
            (_, state) if !state.is_in_saga() => return Ok(None),
            (Legs::DebitThenCredit, TransferState::Accepted) => Step {
                kind: MovementKind::Debit,
                movement: movement(sender_account()?, transfer.debit_reference(), memo),
                on_applied: TransferState::Debited,
            },
            (Legs::DebitThenCredit, TransferState::Debited) | (Legs::CreditOnly, TransferState::Accepted) => Step {
                kind: MovementKind::Credit,
                movement: movement(recipient_account()?, transfer.credit_reference(), memo),
                on_applied: TransferState::Completed,
            },
            (Legs::DebitThenCredit, TransferState::Refunding) => {
                let reference = if self.settings.fencing.is_off() {
                    ProviderReference::parse(format!("{}:refund", transfer.id))?
                } else {
                    transfer.credit_reference()
                };
                Step {
                    kind: MovementKind::Credit,
                    movement: movement(sender_account()?, reference, None),
                    on_applied: TransferState::Reversed,
                }
            }
            (Legs::DebitOnly, TransferState::Accepted) => Step {
                kind: MovementKind::Debit,
                movement: movement(sender_account()?, transfer.debit_reference(), memo),
                on_applied: TransferState::Completed,
            },
            (legs, state) => {
                let kind = transfer.kind;
                anyhow::bail!(
                    "transfer {} is a {kind:?} ({legs:?}) in state {state:?}, which the saga never reaches",
                    transfer.id
                )
            }
        };
        // Every call's reference is derived from its transfer: what makes a
        // repeat by any driver idempotent, and what reconcile asks about.
        debug_assert!(
            self.settings.fencing.is_off()
                || [transfer.debit_reference(), transfer.credit_reference()].contains(&step.movement.reference),
            "a step of transfer {} under the reference {}",
            transfer.id,
            step.movement.reference
        );
        Ok(Some(step))
    }
}

/// Whether `found` is the movement `step` asked for.
fn is_movement(found: &ProviderTransaction, step: &Step) -> bool {
    found.kind == step.kind && found.account_id == step.movement.account && found.amount == step.movement.amount
}

fn decline_reason(rejection: Rejection, payer_side: bool) -> DeclineReason {
    match (rejection, payer_side) {
        // A conflict never reaches here: it is for review, not the member.
        (Rejection::InsufficientFunds | Rejection::ReferenceConflict, _) => DeclineReason::InsufficientFunds,
        (Rejection::AccountInactive, true) => DeclineReason::SenderAccountInactive,
        (Rejection::AccountInactive, false) => DeclineReason::RecipientAccountInactive,
        (Rejection::AccountNotFound, true) => DeclineReason::SenderAccountNotFound,
        (Rejection::AccountNotFound, false) => DeclineReason::RecipientAccountNotFound,
    }
}
