//! The operations pointshare offers, each with its own error enum.

mod balance;
mod idempotency;
mod members;
mod reconcile;
mod recovery;
mod retry;
mod roles;
mod saga;
mod sessions;
mod transfers;

pub use balance::{Balance, BalanceError, BalanceService, BalanceSource};
pub use members::{MemberService, RenameError, SignupCommand, SignupError};
pub use reconcile::{Mismatch, ReconcileError, ReconcileService, Reconciliation};
pub use recovery::{RecoveryReport, RecoveryService, RecoverySettings};
pub use retry::RetryPolicy;
pub use roles::{RoleChange, RoleService, SetRoleError};
pub use saga::SagaDriver;
pub use sessions::{LogoutError, RefreshError, SessionService};
pub use transfers::{
    GetTransferError, GrantCommand, GrantError, ShareCommand, ShareError, TransferLimits, TransferService,
};
