//! The operations pointshare offers, each with its own error enum.

mod accounts;
mod audit;
mod balance;
mod corrections;
mod events;
mod followups;
mod graph;
mod idempotency;
mod mail;
mod members;
mod operators;
mod reconcile;
mod recovery;
mod requests;
mod reservations;
mod review;
mod saga;
mod sessions;
mod throttle;
mod time;
mod transfers;

pub use accounts::{
    AccountPorts, AccountService, ChangeEmailError, ChangePasswordError, CloseAccount, CloseError, EmailChange,
    Leaving, MailedToken, PasswordChange, PasswordCheckError, RESET_LINK_LIFETIME, ResetError, VERIFY_LINK_LIFETIME,
    VerifyError,
};
pub use audit::{AuditError, AuditPage, AuditService, ChainReport};
pub use balance::{Balance, BalanceError, BalanceService, BalanceSource};
pub use corrections::{
    AdjustCommand, AdjustDirection, AdjustError, ApprovalPolicy, CorrectionService, DecideCommand, DecideError,
    Decision, ReverseCommand, ReverseError,
};
pub use events::{AnnouncedTransfers, EventFeed, FeedItem};
pub use followups::Followups;
pub use graph::{Policy, Ports, Services};
pub use mail::{MailReport, MailService, MailSettings};
pub use members::{HANDLE_HOLD, MemberService, RenameError, SignupCommand, SignupError};
pub use operators::{MemberChange, MemberRef, OperatorError, OperatorService};
pub use reconcile::{Mismatch, ReconcileError, ReconcileService, Reconciliation};
pub use recovery::{RecoveryReport, RecoveryService, RecoverySettings};
pub use requests::{current_request, on_behalf_of};
pub use review::{ReferenceHolding, ResolveError, ReviewService};
pub use saga::{Fencing, Holding, SagaDriver, SagaSettings};
pub use sessions::{
    Device, EndSessionError, LoggedIn, LoginCommand, LoginError, LogoutError, NextToken, RefreshError, Refreshed,
    SessionPolicy, SessionService, Successor,
};
pub use throttle::{
    AccountKey, FAILED_LOGIN_MEMORY, LOGIN_SLOW_DOWN_MAX, LOGIN_SLOW_DOWN_STEP, LOGIN_TURN_WAIT, LoginTurn, Quota,
    Throttle, ThrottlePolicy, Throttled,
};
pub use transfers::{
    GetTransferError, GrantCommand, GrantError, Party, RequestLease, ShareCommand, ShareError, Submitted,
    TransferLimits, TransferService, WithParties,
};
