//! Domain values that are valid once constructed.
//!
//! Every constructor checks its rule and returns [`InvalidValue`] naming the
//! field, so adapters and the API can parse untrusted input straight into these
//! types and never carry an unchecked string past the edge.

mod account_token;
mod audit;
mod ids;
mod mail;
mod member;
mod names;
mod points;
mod provider;
mod session;
mod text;
mod transfer;

pub use account_token::{AccountToken, TokenPurpose};
pub use audit::{
    Actor, AuditAction, AuditEntry, AuditRecord, AuditTarget, Authority, ChainHash, OperatorName, Origin, Reason,
    hash_of,
};
pub use ids::{MailId, MemberId, SessionId, TransferId};
pub use mail::{MailIntent, MailKind, MailMessage, MailState, MailToken, OutboxMail};
pub use member::{
    AccessDenied, DisplayName, Email, Handle, HandlePrefix, Member, MemberStatus, Password, PasswordHash, Role,
};
pub use points::Points;
pub use provider::{
    AccountStatus, HolderRef, MovementKind, ProviderAccount, ProviderAccountId, ProviderReference, ProviderTransaction,
    ProviderTransactionId,
};
pub use session::{Handover, RETIRED_TOKENS_KEPT, Rotation, Session, TokenHash};
pub use text::InvalidValue;
pub use transfer::{
    Approval, Cursor, DeclineReason, Driver, IdempotencyKey, Lease, LeaseOwner, Legs, Memo, Page, Resolution,
    ReviewReason, StateChange, Transfer, TransferKind, TransferRequest, TransferState,
};
