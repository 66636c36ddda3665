//! Transfers: a share between two members, or an admin's grant, with the state
//! of its saga (docs/architecture.md) and the lease of whoever is driving it.

use super::names::names;
use chrono::{DateTime, TimeZone, Utc};

use super::text::{check_chars, check_len, check_visible, validated_string};
use super::{InvalidValue, MemberId, Points, ProviderAccountId, ProviderReference, TransferId};

fn check_idempotency_key(value: String) -> Result<String, InvalidValue> {
    check_len(&value, "idempotency key", 1, 64)?;
    check_chars(&value, "idempotency key", |c| c.is_ascii() && !c.is_ascii_control(), "only printable ASCII")?;
    Ok(value)
}

fn check_memo(value: String) -> Result<String, InvalidValue> {
    check_len(&value, "memo", 0, 140)?;
    check_visible(&value, "memo")?;
    Ok(value)
}

fn check_lease_owner(value: String) -> Result<String, InvalidValue> {
    check_len(&value, "lease owner", 1, 128)?;
    Ok(value)
}

validated_string!(
    /// The client's key that makes a create request safe to repeat: 1–64 printable ASCII.
    IdempotencyKey,
    check_idempotency_key
);
validated_string!(
    /// A note from sender to recipient, at most 140 characters.
    Memo,
    check_memo
);
validated_string!(
    /// Who holds a transfer's lease. Unique per claim, so a driver whose lease
    /// was taken over can no longer move the transfer (a fencing token).
    LeaseOwner,
    check_lease_owner
);

impl LeaseOwner {
    /// A fresh owner token, prefixed with a label (e.g. the replica name) for logs.
    pub fn unique(label: &str) -> Self {
        let label: String = label.chars().take(64).collect();
        LeaseOwner(format!("{label}/{}", uuid::Uuid::new_v4().simple()))
    }

    /// The request that creates a transfer on `replica` (and its follow-up).
    pub fn request(replica: &str) -> Self {
        Self::unique(&format!("{REQUEST}{replica}"))
    }

    /// A recovery pass on `replica`.
    pub fn recovery(replica: &str) -> Self {
        Self::unique(&format!("{RECOVERY}{replica}"))
    }

    /// A person deciding by hand (`member:<id>`, `operator:<name>`): the
    /// same owner each time, so a decider may take the transfer up again at
    /// once after a refused attempt, and nobody else may meanwhile.
    pub fn person(actor: &super::Actor) -> Self {
        LeaseOwner(actor.to_string())
    }

    /// Who this owner is, for the people reading a transfer's timeline.
    pub fn driver(&self) -> Driver {
        let label = self.0.split_once('/').map_or(self.0.as_str(), |(label, _)| label);
        if let Some(replica) = label.strip_prefix(REQUEST) {
            Driver::Request { replica: replica.to_owned() }
        } else if let Some(replica) = label.strip_prefix(RECOVERY) {
            Driver::Recovery { replica: replica.to_owned() }
        } else if let Ok(actor) = label.parse::<super::Actor>() {
            Driver::Person(actor)
        } else {
            Driver::Unknown(self.0.clone())
        }
    }
}

const REQUEST: &str = "request@";
const RECOVERY: &str = "recovery@";

/// Who moved a transfer, as its lease owner says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    /// The request that created it, or the follow-up that drives on once
    /// the request answered (under the same lease).
    Request { replica: String },
    /// A recovery pass, after its earlier driver stopped.
    Recovery { replica: String },
    /// An admin or operator: an approval, a resolution, or an expiry.
    Person(super::Actor),
    /// Recorded before drivers were named.
    Unknown(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferKind {
    /// A member shares points with another: debit the sender, credit the recipient.
    Share,
    /// An admin grants points: credit the recipient only.
    Grant,
    /// An admin undoes (part of) a share: debit its recipient (this
    /// transfer's sender), credit its sender (this transfer's recipient).
    Reversal,
    /// An admin takes points from a member, giving them to nobody: debit the
    /// sender only. Undoes (part of) a grant, or corrects a balance.
    Withdrawal,
    /// A member closing their account gives what is left on it to the
    /// house account: debit the sender, credit the house.
    Forfeit,
}

/// Which movements a kind of transfer makes at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legs {
    /// Debit the sender, then credit the recipient (or refund the sender).
    DebitThenCredit,
    /// Credit the recipient; nobody pays.
    CreditOnly,
    /// Debit the sender; nobody is paid.
    DebitOnly,
}

impl TransferKind {
    pub const fn legs(self) -> Legs {
        match self {
            Self::Share | Self::Reversal | Self::Forfeit => Legs::DebitThenCredit,
            Self::Grant => Legs::CreditOnly,
            Self::Withdrawal => Legs::DebitOnly,
        }
    }

    /// Whether an admin's daily budget pays for it: points made or taken
    /// by an admin's decision, not moved between members.
    pub const fn spends_admin_budget(self) -> bool {
        matches!(self, Self::Grant | Self::Withdrawal)
    }
}

names!(TransferKind {
    Share => "share",
    Grant => "grant",
    Reversal => "reversal",
    Withdrawal => "withdrawal",
    Forfeit => "forfeit",
});

/// Where a transfer stands in its saga:
///
/// ```text
/// accepted ──debit ok──▶ debited ──credit ok──▶ completed
///    │                      │                       ▲
///    └─debit rejected─▶ rejected   └─credit rejected─▶ refunding ──refund ok──▶ reversed
///                                                     └─the credit had landed after all─┘
/// ```
///
/// A grant has no debit: `accepted ──credit ok──▶ completed`, or `rejected`.
/// A correction above the approval threshold starts `awaiting_approval` and
/// becomes `accepted` when a second admin approves it, `rejected` otherwise.
/// Any unfinished state may become `needs_review` when automation cannot
/// finish it (a permanent error, too many attempts); an operator resolves it
/// to `completed`, `reversed` or `rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferState {
    Accepted,
    Debited,
    Completed,
    Rejected,
    Refunding,
    Reversed,
    /// Parked for a person: recovery leaves it alone until it is resolved.
    NeedsReview,
    /// A large correction waiting for a second admin: nothing moves until one
    /// approves it; rejected, or expired, it ends `rejected`.
    AwaitingApproval,
}

impl TransferState {
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Rejected | Self::Reversed)
    }

    /// Whether the saga still has a step to take: what recovery claims.
    pub const fn is_in_saga(self) -> bool {
        matches!(self, Self::Accepted | Self::Debited | Self::Refunding)
    }

    /// Why a transfer entering this state did not complete, from what it
    /// said before: a completed transfer says nothing of the kind (a refund
    /// that found the credit landed after all ends `completed`).
    pub fn decline_kept(self, decline: Option<DeclineReason>) -> Option<DeclineReason> {
        decline.filter(|_| self != Self::Completed)
    }

    /// The saga's edges, per kind's legs; repositories refuse any other move.
    pub fn can_become(self, next: TransferState, kind: TransferKind) -> bool {
        use Legs::*;
        use TransferState::*;
        matches!(
            (kind.legs(), self, next),
            (_, Accepted | AwaitingApproval, Rejected)
                | (_, AwaitingApproval, Accepted)
                | (DebitThenCredit, Accepted, Debited)
                // From accepted: the debit's success was not recorded (the saga's driver).
                | (DebitThenCredit, Accepted | Debited, Completed | Refunding)
                // The refund found the credit's reference taken: the credit landed.
                | (DebitThenCredit, Refunding, Reversed | Completed)
                | (CreditOnly | DebitOnly, Accepted, Completed)
                | (DebitThenCredit, Accepted | Debited | Refunding, NeedsReview)
                | (CreditOnly | DebitOnly, Accepted, NeedsReview)
                | (DebitThenCredit, NeedsReview, Completed | Reversed | Rejected)
                | (CreditOnly | DebitOnly, NeedsReview, Completed | Rejected)
        )
    }
}

names!(TransferState {
    Accepted => "accepted",
    Debited => "debited",
    Completed => "completed",
    Rejected => "rejected",
    Refunding => "refunding",
    Reversed => "reversed",
    NeedsReview => "needs_review",
    AwaitingApproval => "awaiting_approval",
});

/// Why automation stopped driving a transfer and a person must look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewReason {
    /// Recovery took it up the most times it may and it is still unfinished.
    AttemptsExhausted,
    /// The provider refused a call in a way no repeat changes (bad request,
    /// bad credentials, an answer we cannot read).
    ProviderRefused,
    /// One of the transfer's references holds a movement it did not make.
    ReferenceConflict,
    /// The sender's account cannot take the refund back (closed or gone).
    RefundRefused,
}

names!(ReviewReason {
    AttemptsExhausted => "attempts_exhausted",
    ProviderRefused => "provider_refused",
    ReferenceConflict => "reference_conflict",
    RefundRefused => "refund_refused",
});

/// What an operator decided for a transfer in `needs_review`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// Points go (back) to the sender: `reversed`, or `rejected` if never debited.
    Refund,
    /// Points go to the recipient: `completed`.
    Complete,
}

names!(Resolution {
    Refund => "refund",
    Complete => "complete",
});

/// Why a transfer was rejected or reversed, in terms a member can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeclineReason {
    InsufficientFunds,
    SenderAccountInactive,
    SenderAccountNotFound,
    RecipientAccountInactive,
    RecipientAccountNotFound,
    DailyLimitExceeded,
    /// A grant past its admin's daily grant budget.
    GrantBudgetExceeded,
    /// The second admin said no.
    ApprovalRejected,
    /// No second admin decided in time.
    ApprovalExpired,
}

names!(DeclineReason {
    InsufficientFunds => "insufficient_funds",
    SenderAccountInactive => "sender_account_inactive",
    SenderAccountNotFound => "sender_account_not_found",
    RecipientAccountInactive => "recipient_account_inactive",
    RecipientAccountNotFound => "recipient_account_not_found",
    DailyLimitExceeded => "daily_limit_exceeded",
    GrantBudgetExceeded => "grant_budget_exceeded",
    ApprovalRejected => "approval_rejected",
    ApprovalExpired => "approval_expired",
});

/// One recorded state change of a transfer: when, to what, and by which
/// driver (a lease owner: `<replica>/<claim>` for the request, its
/// follow-up or recovery; `operator:<name>` or `member:<id>` for a person
/// resolving a review).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub at: DateTime<Utc>,
    pub state: TransferState,
    pub by: LeaseOwner,
}

/// A correction's wait for a second admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Approval {
    /// The admin who asked for it, who may not approve it.
    pub requested_by: MemberId,
    /// Not approved by then, it is rejected as expired.
    pub expires_at: DateTime<Utc>,
}

/// The right to drive a transfer until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: LeaseOwner,
    pub until: DateTime<Utc>,
}

/// What a client asked for; two requests with one idempotency key must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRequest {
    pub kind: TransferKind,
    pub sender: MemberId,
    pub recipient: MemberId,
    pub amount: Points,
    pub memo: Option<Memo>,
    pub idempotency_key: IdempotencyKey,
    /// For a reversal: what it undoes.
    pub reverses: Option<TransferId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub kind: TransferKind,
    /// For a grant, the admin who granted.
    pub sender: MemberId,
    /// The account debited; `None` for a grant, which debits nobody.
    pub sender_account: Option<ProviderAccountId>,
    /// For a withdrawal, the admin who took the points.
    pub recipient: MemberId,
    /// The account credited; `None` for a withdrawal, which pays nobody.
    pub recipient_account: Option<ProviderAccountId>,
    pub amount: Points,
    pub memo: Option<Memo>,
    pub idempotency_key: IdempotencyKey,
    pub state: TransferState,
    /// Set when the transfer is rejected, refunding or reversed.
    pub decline: Option<DeclineReason>,
    /// Set when it went to `needs_review`; kept after an operator resolves it.
    pub review: Option<ReviewReason>,
    /// What the operator decided, once resolved.
    pub resolution: Option<Resolution>,
    pub lease: Option<Lease>,
    /// How many times recovery has taken it up.
    pub attempts: u32,
    /// For a reversal or a withdrawal that undoes a grant: the transfer it undoes.
    pub reverses: Option<TransferId>,
    /// Points of this transfer that reversals not declined have taken back
    /// (or hold, while they run): never more than `amount`.
    pub reversed: u64,
    /// Every state it was recorded in, the first at its creation.
    pub changes: Vec<StateChange>,
    /// Set on a correction that needed a second admin.
    pub approval: Option<Approval>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Transfer {
    /// Whether `request` is a repeat of the request that created this transfer.
    pub fn answers(&self, request: &TransferRequest) -> bool {
        self.kind == request.kind
            && self.sender == request.sender
            && self.recipient == request.recipient
            && self.amount == request.amount
            && self.memo == request.memo
            && self.idempotency_key == request.idempotency_key
            && self.reverses == request.reverses
    }

    pub fn debit_reference(&self) -> ProviderReference {
        self.reference("debit")
    }

    /// The recipient's credit and the sender's refund both use this
    /// reference, so the provider applies at most one of them, however late a
    /// stale driver's call arrives (docs/architecture.md, "Fencing").
    pub fn credit_reference(&self) -> ProviderReference {
        self.reference("credit")
    }

    fn reference(&self, step: &str) -> ProviderReference {
        ProviderReference::parse(format!("{}:{step}", self.id))
            .expect("a UUID followed by a step name is a valid reference")
    }

    pub fn cursor(&self) -> Cursor {
        Cursor { created_at: self.created_at, id: self.id }
    }

    /// Points a reversal may still take back.
    pub fn reversible(&self) -> u64 {
        self.amount.get().saturating_sub(self.reversed)
    }

    /// The state change that ended its wait for approval, if one did.
    pub fn approval_decision(&self) -> Option<&StateChange> {
        let waited = self.changes.iter().position(|change| change.state == TransferState::AwaitingApproval)?;
        self.changes.get(waited + 1)
    }
}

/// A position in a member's history, newest first: the last item of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: TransferId,
}

impl Cursor {
    /// An opaque token for clients: microseconds since the epoch and the id.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at.timestamp_micros(), self.id.as_uuid().simple())
    }

    pub fn decode(token: &str) -> Result<Self, InvalidValue> {
        let invalid = || InvalidValue::new("cursor", "not a cursor from this API");
        let (micros, id) = token.split_once('.').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        let created_at = Utc.timestamp_micros(micros).single().ok_or_else(invalid)?;
        let id = uuid::Uuid::try_parse(id).map_err(|_| invalid())?;
        Ok(Cursor { created_at, id: TransferId::from_uuid(id) })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = TransferState::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [TransferState::Completed, TransferState::Rejected, TransferState::Reversed]);
        let in_saga: Vec<_> = TransferState::ALL.into_iter().filter(|s| s.is_in_saga()).collect();
        assert_eq!(in_saga, [TransferState::Accepted, TransferState::Debited, TransferState::Refunding]);
    }

    #[test]
    fn share_edges_follow_the_saga() {
        use TransferState::*;
        let share = TransferKind::Share;
        let allowed = [
            (Accepted, Debited),
            (Accepted, Rejected),
            (Accepted, Completed),
            (Accepted, Refunding),
            (Debited, Completed),
            (Debited, Refunding),
            (Refunding, Reversed),
            (Refunding, Completed),
            (Accepted, NeedsReview),
            (Debited, NeedsReview),
            (Refunding, NeedsReview),
            (NeedsReview, Completed),
            (NeedsReview, Reversed),
            (NeedsReview, Rejected),
            (AwaitingApproval, Accepted),
            (AwaitingApproval, Rejected),
        ];
        for from in TransferState::ALL {
            for to in TransferState::ALL {
                assert_eq!(from.can_become(to, share), allowed.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn grant_edges_skip_the_debit() {
        use TransferState::*;
        let grant = TransferKind::Grant;
        let allowed = [
            (Accepted, Completed),
            (Accepted, Rejected),
            (Accepted, NeedsReview),
            (NeedsReview, Completed),
            (NeedsReview, Rejected),
            (AwaitingApproval, Accepted),
            (AwaitingApproval, Rejected),
        ];
        for from in TransferState::ALL {
            for to in TransferState::ALL {
                assert_eq!(from.can_become(to, grant), allowed.contains(&(from, to)), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn idempotency_key_is_printable_ascii() {
        assert!(IdempotencyKey::parse("a b~c!").is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("k".repeat(65)).is_err());
        assert!(IdempotencyKey::parse("tab\there").is_err());
        assert!(IdempotencyKey::parse("clé").is_err());
    }

    #[test]
    fn memo_is_at_most_140_characters() {
        assert!(Memo::parse("é".repeat(140)).is_ok());
        assert!(Memo::parse("é".repeat(141)).is_err());
        assert!(Memo::parse("line\nbreak").is_err());
    }

    #[test]
    fn memos_show_what_they_hold() {
        assert!(Memo::parse("").is_ok());
        for hidden in [
            "line\u{2028}break",
            "pay\u{ad}ment",
            "\u{3164}\u{3164}",
            "   ",
            "a\u{e0020}",
            "x\u{300}\u{301}\u{302}\u{303}",
        ] {
            assert_eq!(Memo::parse(hidden).expect_err(hidden).field, "memo");
        }
        assert!(Memo::parse("for the tacos 🌮").is_ok());
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor {
            created_at: Utc.timestamp_micros(1_764_000_000_123_456).single().expect("valid"),
            id: TransferId::new(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
        for bad in ["", "abc", "1.notauuid", "x.0190f3a0b1c27c3d8e9f0a1b2c3d4e5f"] {
            assert!(Cursor::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lease_owners_are_unique() {
        assert_ne!(LeaseOwner::unique("replica-a"), LeaseOwner::unique("replica-a"));
    }

    #[test]
    fn a_lease_owner_names_its_driver() {
        let replica = |name: &str| name.to_owned();
        assert_eq!(LeaseOwner::request("pointshare-1").driver(), Driver::Request { replica: replica("pointshare-1") });
        assert_eq!(
            LeaseOwner::recovery("pointshare-2").driver(),
            Driver::Recovery { replica: replica("pointshare-2") }
        );
        let admin = crate::model::Actor::Member(MemberId::new());
        assert_eq!(LeaseOwner::person(&admin).driver(), Driver::Person(admin));
        let old = LeaseOwner::parse("pointshare-3/0190f3a0b1c27c3d").expect("valid");
        assert!(matches!(old.driver(), Driver::Unknown(_)), "recorded before drivers were named");
    }
}
