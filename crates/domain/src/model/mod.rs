//! Domain values that are valid once constructed.
//!
//! Every constructor checks its rule and returns [`InvalidValue`] naming the
//! field, so adapters and the API can parse untrusted input straight into these
//! types and never carry an unchecked string past the edge.

mod ids;
mod member;
mod points;
mod provider;
mod text;
mod transfer;

pub use ids::{MemberId, TransferId};
pub use member::{DisplayName, Email, Handle, Member, MemberStatus, PasswordHash};
pub use points::Points;
pub use provider::{
    AccountStatus, HolderRef, MovementKind, ProviderAccount, ProviderAccountId, ProviderReference, ProviderTransaction,
    ProviderTransactionId,
};
pub use text::InvalidValue;
pub use transfer::{
    Cursor, DeclineReason, IdempotencyKey, Lease, LeaseOwner, Memo, Page, Transfer, TransferKind, TransferRequest,
    TransferState,
};
