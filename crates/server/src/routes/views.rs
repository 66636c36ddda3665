//! The JSON the API speaks: request bodies as the frontend sends them (plain
//! strings and numbers, parsed into domain types by the handlers so each
//! error can name its field) and the shapes of every answer.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize, Serializer};
use utoipa::{IntoParams, ToSchema};

use pointshare_domain::ports::{Direction, HistoryFilter};
use pointshare_domain::services::{Balance, BalanceSource, Party, WithParties};
use pointshare_domain::{
    DeclineReason, DisplayName, Email, Handle, Member, Memo, Password, ReviewReason, Role, Session, SessionId,
    TransferKind, TransferState,
};

use super::body::{FieldRules, Rule};
use crate::problem::ApiError;

/// Every time in an answer is written to the millisecond, `…:02.000Z` as
/// well as `…:02.005Z`: chrono's default drops a zero fraction, and then a
/// whole second sorts after the rest of that second when clients compare
/// times as text.
pub(super) fn millis<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// One of my sessions: a login on some device, until it is ended or its
/// refresh token expires.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    #[schema(format = Uuid, example = "0193a5b2-7c1e-7d2f-9a4b-3c5d6e7f8091")]
    pub id: String,
    /// Whether this request's access token belongs to it.
    pub current: bool,
    /// What the browser or app said it is at login (`User-Agent`, at most
    /// 200 characters), if anything.
    #[schema(example = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", required = true)]
    pub user_agent: Option<String>,
    /// The address it logged in from (an IPv6 client's /64 network).
    #[schema(example = "192.0.2.1")]
    pub address: String,
    /// When it logged in.
    #[schema(example = "2026-11-26T09:30:00.000Z")]
    #[serde(serialize_with = "millis")]
    pub created_at: DateTime<Utc>,
    /// When its refresh token was last exchanged (or the login).
    #[schema(example = "2026-11-26T10:12:00.000Z")]
    #[serde(serialize_with = "millis")]
    pub last_used_at: DateTime<Utc>,
    /// When it ends unless refreshed before.
    #[schema(example = "2026-12-26T10:12:00.000Z")]
    #[serde(serialize_with = "millis")]
    pub expires_at: DateTime<Utc>,
}

impl SessionView {
    pub fn of(session: &Session, current: SessionId) -> Self {
        SessionView {
            id: session.id.to_string(),
            current: session.id == current,
            user_agent: session.user_agent.clone(),
            address: session.client.clone(),
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionsView {
    pub items: Vec<SessionView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupBody {
    /// Unique, case-insensitively.
    #[schema(format = Email, min_length = 3, max_length = 254, example = "ada@example.com")]
    pub email: String,
    #[schema(min_length = 8, max_length = 128, example = "correct horse battery")]
    pub password: String,
    /// Letters, digits and `_`; unique, case-insensitively (stored lower case).
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_]{3,32}$", example = "ada")]
    pub handle: String,
    /// No control characters.
    #[schema(min_length = 1, max_length = 64, example = "Ada")]
    pub display_name: String,
}

impl FieldRules for SignupBody {
    const RULES: &'static [(&'static str, Rule)] = &[
        ("/email", |text| Email::parse(text).err()),
        ("/handle", |text| Handle::parse(text).err()),
        ("/display_name", |text| DisplayName::parse(text).err()),
        ("/password", |text| Password::parse(text).err()),
    ];
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    #[schema(max_length = 254, example = "ada@example.com")]
    pub email: String,
    #[schema(max_length = 128, example = "correct horse battery")]
    pub password: String,
}

impl FieldRules for LoginBody {}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    /// The `refresh_token` of the last login or refresh.
    #[schema(max_length = 128, example = "0193a5b2-7c1e-7d2f-9a4b-3c5d6e7f8091.q7Vb1fLxP0mZr2sT9uWy4aKcE6gHjN3d")]
    pub refresh_token: String,
}

impl FieldRules for RefreshBody {}

/// A session's tokens: a short access token for `Authorization: Bearer`, and
/// a refresh token that buys the next pair once (then it is retired; using a
/// retired one again ends the session).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    #[schema(example = "eyJhbGciOiJIUzI1NiIsImtpZCI6IjEyMzQ1Njc4OWFiY2RlZjAifQ.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl")]
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
    #[schema(example = "0193a5b2-7c1e-7d2f-9a4b-3c5d6e7f8091.q7Vb1fLxP0mZr2sT9uWy4aKcE6gHjN3d")]
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    #[schema(example = 2592000)]
    pub refresh_expires_in: u64,
}

/// A new member, logged in.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignupView {
    #[serde(flatten)]
    pub member: MemberView,
    /// Their first session's tokens, as `login` answers them.
    pub session: TokenView,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MemberView {
    #[schema(format = Uuid, example = "0193a5b2-7c1e-7d2f-9a4b-3c5d6e7f8091")]
    pub id: String,
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "ada")]
    pub handle: String,
    #[schema(example = "Ada")]
    pub display_name: String,
    pub role: RoleView,
    /// Whether the member proved the address is theirs (a link mailed to
    /// it); sharing may wait for it (`email_unverified`).
    pub email_verified: bool,
    #[schema(example = "2026-11-26T09:30:00.000Z")]
    #[serde(serialize_with = "millis")]
    pub created_at: DateTime<Utc>,
}

/// What a member may do beyond their own points; operators change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoleView {
    Member,
    Admin,
}

impl MemberView {
    pub fn of(member: &Member) -> Self {
        MemberView {
            id: member.id.to_string(),
            email: member.email.to_string(),
            handle: member.handle.to_string(),
            display_name: member.display_name.to_string(),
            email_verified: member.email_verified,
            role: match member.role {
                Role::Member => RoleView::Member,
                Role::Admin => RoleView::Admin,
            },
            created_at: member.created_at,
        }
    }
}

/// What another member sees: enough to pick a recipient.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicMemberView {
    #[schema(example = "bob")]
    pub handle: String,
    #[schema(example = "bob")]
    pub display_name: String,
}

impl PublicMemberView {
    pub fn of(member: &Member) -> Self {
        PublicMemberView { handle: member.handle.to_string(), display_name: member.display_name.to_string() }
    }
}

/// Members a recipient picker offers, by handle.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicMemberList {
    pub items: Vec<PublicMemberView>,
}

/// Someone I shared with lately.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecentRecipientView {
    #[schema(example = "bob")]
    pub handle: String,
    #[schema(example = "bob")]
    pub display_name: String,
    /// When my latest completed share to them was made.
    #[schema(example = "2026-11-26T09:30:00.000Z")]
    #[serde(serialize_with = "millis")]
    pub last_shared_at: DateTime<Utc>,
}

/// The members I shared with lately, most recent first, each once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecentRecipients {
    pub items: Vec<RecentRecipientView>,
}

/// What a recipient picker asks for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecipientSearchQuery {
    /// The start of a handle: 2 to 32 of letters, digits and underscore, letter case aside.
    #[param(example = "bo", min_length = 2, max_length = 32, pattern = "^[A-Za-z0-9_]+$")]
    pub prefix: String,
    /// 1 to 20; 10 when absent.
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<usize>,
}

/// How many recent recipients to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentQuery {
    /// 1 to 20; 10 when absent.
    #[param(minimum = 1, maximum = 20)]
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BalanceView {
    #[schema(example = 10025)]
    pub balance: u64,
    /// When the provider reported this balance.
    #[schema(example = "2026-11-26T09:31:02.000Z")]
    #[serde(serialize_with = "millis")]
    pub as_of: DateTime<Utc>,
    pub source: SourceView,
}

/// Where a balance was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceView {
    Cache,
    Provider,
}

impl From<Balance> for BalanceView {
    fn from(balance: Balance) -> Self {
        let source = match balance.source {
            BalanceSource::Cache => SourceView::Cache,
            BalanceSource::Provider => SourceView::Provider,
        };
        BalanceView { balance: balance.points, as_of: balance.as_of, source }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareBody {
    /// The recipient's handle.
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_]{3,32}$", example = "bob")]
    pub to_handle: String,
    /// Whole points; at most the server's per-transfer limit.
    #[schema(minimum = 1, maximum = 1_000_000_000_000_u64, example = 30)]
    pub amount: u64,
    /// No control characters.
    #[schema(max_length = 140, example = "lunch")]
    pub memo: Option<String>,
}

impl FieldRules for ShareBody {
    const RULES: &'static [(&'static str, Rule)] = &[("/memo", |text| Memo::parse(text).err())];
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    #[schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_]{3,32}$", example = "ada")]
    pub to_handle: String,
    #[schema(minimum = 1, maximum = 1_000_000_000_000_u64, example = 100)]
    pub amount: u64,
    /// Why the points were granted; no control characters.
    #[schema(max_length = 140, example = "welcome")]
    pub reason: String,
}

impl FieldRules for GrantBody {
    const RULES: &'static [(&'static str, Rule)] = &[("/reason", |text| Memo::parse(text).err())];
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferView {
    #[schema(format = Uuid, example = "0193a5b2-7c1e-7d2f-9a4b-3c5d6e7f8091")]
    pub id: String,
    pub kind: KindView,
    pub state: StateView,
    /// The sender's handle; for a grant, the admin's.
    #[schema(example = "ada")]
    pub from_handle: String,
    #[schema(example = "bob")]
    pub to_handle: String,
    /// Whether the sender has closed their account since (their handle is
    /// held back a while, then replaced by `closed_…`).
    pub from_closed: bool,
    /// Whether the recipient has closed their account since.
    pub to_closed: bool,
    #[schema(example = 25)]
    pub amount: u64,
    #[schema(example = "lunch", required = true)]
    pub memo: Option<String>,
    /// Why a rejected or reversed transfer did not complete.
    #[schema(required = true)]
    pub decline_reason: Option<DeclineView>,
    /// Why a transfer waits for an operator (`needs_review`); kept once resolved.
    #[schema(required = true)]
    pub review_reason: Option<ReviewView>,
    /// For a reversal: the id of the transfer it undoes.
    #[schema(required = true, format = Uuid)]
    pub reverses: Option<String>,
    /// Points of this transfer that reversals took back, or hold while they run.
    #[schema(example = 0)]
    pub reversed_amount: u64,
    #[schema(example = "2026-11-26T09:31:00.000Z")]
    #[serde(serialize_with = "millis")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-11-26T09:31:02.000Z")]
    #[serde(serialize_with = "millis")]
    pub updated_at: DateTime<Utc>,
}

/// A member's share; an admin's grant; a reversal, undoing (part of) a share
/// or a grant (`reverses` names it); an adjustment, points an admin took
/// from a member; a forfeit, what a member closing their account left, given
/// to the house account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KindView {
    Share,
    Grant,
    Reversal,
    Adjustment,
    /// What a member closing their account left, given to the house account.
    Forfeit,
}

/// `processing` until final; then `completed`, `rejected` (nothing moved) or
/// `reversed` (taken, then given back because the recipient could not receive).
/// `needs_review`: the provider answered in a way software cannot settle; an
/// operator will finish it as `completed` or `reversed`/`rejected`.
/// `awaiting_approval`: a large correction waiting for a second admin;
/// nothing moved yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateView {
    Processing,
    Completed,
    Rejected,
    Reversed,
    NeedsReview,
    AwaitingApproval,
}

impl StateView {
    /// The states of the saga a member sees as this one.
    pub fn states(self) -> Vec<TransferState> {
        TransferState::ALL.into_iter().filter(|state| StateView::from(*state) == self).collect()
    }
}

impl From<TransferState> for StateView {
    fn from(state: TransferState) -> Self {
        match state {
            TransferState::Accepted | TransferState::Debited | TransferState::Refunding => StateView::Processing,
            TransferState::Completed => StateView::Completed,
            TransferState::Rejected => StateView::Rejected,
            TransferState::Reversed => StateView::Reversed,
            TransferState::NeedsReview => StateView::NeedsReview,
            TransferState::AwaitingApproval => StateView::AwaitingApproval,
        }
    }
}

/// Why a transfer did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclineView {
    InsufficientFunds,
    SenderAccountInactive,
    SenderAccountNotFound,
    RecipientAccountInactive,
    RecipientAccountNotFound,
    DailyLimitExceeded,
    GrantBudgetExceeded,
    /// A second admin rejected the correction.
    ApprovalRejected,
    /// Nobody approved the correction in time.
    ApprovalExpired,
}

impl From<DeclineReason> for DeclineView {
    fn from(reason: DeclineReason) -> Self {
        match reason {
            DeclineReason::InsufficientFunds => DeclineView::InsufficientFunds,
            DeclineReason::SenderAccountInactive => DeclineView::SenderAccountInactive,
            DeclineReason::SenderAccountNotFound => DeclineView::SenderAccountNotFound,
            DeclineReason::RecipientAccountInactive => DeclineView::RecipientAccountInactive,
            DeclineReason::RecipientAccountNotFound => DeclineView::RecipientAccountNotFound,
            DeclineReason::DailyLimitExceeded => DeclineView::DailyLimitExceeded,
            DeclineReason::GrantBudgetExceeded => DeclineView::GrantBudgetExceeded,
            DeclineReason::ApprovalRejected => DeclineView::ApprovalRejected,
            DeclineReason::ApprovalExpired => DeclineView::ApprovalExpired,
        }
    }
}

/// Why a transfer waits for an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewView {
    AttemptsExhausted,
    ProviderRefused,
    ReferenceConflict,
    RefundRefused,
}

impl From<ReviewReason> for ReviewView {
    fn from(reason: ReviewReason) -> Self {
        match reason {
            ReviewReason::AttemptsExhausted => ReviewView::AttemptsExhausted,
            ReviewReason::ProviderRefused => ReviewView::ProviderRefused,
            ReviewReason::ReferenceConflict => ReviewView::ReferenceConflict,
            ReviewReason::RefundRefused => ReviewView::RefundRefused,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferPage {
    pub items: Vec<TransferView>,
    /// Whether another page follows (then `next_cursor` is set).
    pub has_more: bool,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[schema(example = "MTc2NDE0OTQ2MDAwMDowMTkzYTViMg", required = true)]
    pub next_cursor: Option<String>,
}

/// Which of my transfers a history page lists. Keep the same filters while
/// following `next_cursor`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// 1 to 100; 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only those I sent, or only those I received; both when absent.
    pub direction: Option<DirectionView>,
    /// Only transfers in one of these states, comma-separated (`completed,rejected`); any when absent.
    #[param(value_type = Option<Vec<StateView>>, style = Form, explode = false, example = json!(["completed", "rejected"]))]
    #[serde(default, deserialize_with = "comma_separated")]
    pub state: Vec<StateView>,
    /// Created at or after this time (RFC 3339), or from the start of this day (`2026-11-01`, UTC).
    #[param(value_type = Option<String>, example = "2026-11-01")]
    pub since: Option<Moment>,
    /// Created before this time (RFC 3339), or up to the end of this day (`2026-11-30`, UTC, the day included).
    #[param(value_type = Option<String>, example = "2026-11-30")]
    pub until: Option<Moment>,
}

/// A bound of a history query: an instant, or a whole UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    At(DateTime<Utc>),
    Day(chrono::NaiveDate),
}

impl Moment {
    /// As a lower bound: the instant, or the day's first.
    fn starts(self) -> DateTime<Utc> {
        match self {
            Moment::At(at) => at,
            Moment::Day(day) => day.and_time(chrono::NaiveTime::MIN).and_utc(),
        }
    }

    /// As an exclusive upper bound: the instant, or the next day's first.
    fn ends(self) -> DateTime<Utc> {
        match self {
            Moment::At(at) => at,
            Moment::Day(day) => Moment::Day(day.succ_opt().unwrap_or(day)).starts(),
        }
    }
}

impl<'de> Deserialize<'de> for Moment {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
            return Ok(Moment::At(at.with_timezone(&Utc)));
        }
        chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").map(Moment::Day).map_err(|_| {
            serde::de::Error::custom(format!("{text:?} is neither an RFC 3339 time nor a date (YYYY-MM-DD)"))
        })
    }
}

/// `a,b,c` as a list of the values each name deserializes to.
fn comma_separated<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let text = String::deserialize(deserializer)?;
    text.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| T::deserialize(serde::de::value::StrDeserializer::<D::Error>::new(name)))
        .collect()
}

/// Sent by me, or received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DirectionView {
    Sent,
    Received,
}

impl HistoryQuery {
    /// Refuses a time range that ends before it starts.
    pub fn check(&self) -> Result<(), ApiError> {
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since.starts() >= until.ends()
        {
            return Err(ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                crate::problem::ProblemCode::InvalidQuery,
                "since must be before until",
            )
            .parameter("until"));
        }
        Ok(())
    }

    /// The store's filter for this query.
    pub fn filter(&self) -> HistoryFilter {
        HistoryFilter {
            direction: self.direction.map(|direction| match direction {
                DirectionView::Sent => Direction::Sent,
                DirectionView::Received => Direction::Received,
            }),
            states: self.state.iter().flat_map(|state| state.states()).collect(),
            since: self.since.map(Moment::starts),
            until: self.until.map(Moment::ends),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 100; 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl From<WithParties> for TransferView {
    fn from(WithParties { transfer, from, to }: WithParties) -> Self {
        let handle =
            |side: &Option<Party>| side.as_ref().map_or_else(|| "unknown".to_owned(), |p| p.handle.to_string());
        let closed = |side: &Option<Party>| side.as_ref().is_some_and(|party| party.closed);
        TransferView {
            id: transfer.id.to_string(),
            kind: match transfer.kind {
                TransferKind::Share => KindView::Share,
                TransferKind::Grant => KindView::Grant,
                TransferKind::Reversal => KindView::Reversal,
                TransferKind::Withdrawal if transfer.reverses.is_some() => KindView::Reversal,
                TransferKind::Withdrawal => KindView::Adjustment,
                TransferKind::Forfeit => KindView::Forfeit,
            },
            state: transfer.state.into(),
            from_handle: handle(&from),
            to_handle: handle(&to),
            from_closed: closed(&from),
            to_closed: closed(&to),
            amount: transfer.amount.get(),
            memo: transfer.memo.map(|memo| memo.to_string()),
            decline_reason: transfer.decline.map(DeclineView::from),
            review_reason: transfer.review.map(ReviewView::from),
            reverses: transfer.reverses.map(|id| id.to_string()),
            reversed_amount: transfer.reversed,
            created_at: transfer.created_at,
            updated_at: transfer.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_one_width_so_they_sort_as_text() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().expect("a time");
        let written: Vec<String> = ["2026-11-26T07:12:01.962Z", "2026-11-26T07:12:02Z", "2026-11-26T07:12:02.005Z"]
            .into_iter()
            .map(|time| {
                let view = BalanceView { balance: 1, as_of: at(time), source: SourceView::Provider };
                serde_json::to_value(view).expect("json")["as_of"].as_str().expect("text").to_owned()
            })
            .collect();
        assert_eq!(written, ["2026-11-26T07:12:01.962Z", "2026-11-26T07:12:02.000Z", "2026-11-26T07:12:02.005Z"]);
        assert!(written.is_sorted());
    }
}
