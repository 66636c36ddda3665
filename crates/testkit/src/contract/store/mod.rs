//! The `MemberRepository`, `TransferRepository` and `SessionRepository`
//! contract: uniqueness, compare-and-set under concurrency, pages with no gap
//! or repeat while inserts go on, exclusive leases, refresh tokens that
//! rotate once, and daily totals that never pass their limit. Run it with
//! `store_contract!(async { <a fresh StoreUnderTest> })`. A file per store:
//! members, transfers (with daily totals), sessions (with one-use tokens).

pub mod members;
pub mod sessions;
pub mod transfers;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::unique;
use pointshare_domain::ports::{
    AccountTokens, Clock, DailyTotals, MemberDirectory, MemberRepository, SessionRepository, SystemClock,
    TransferRepository, Transition,
};
use pointshare_domain::{
    DisplayName, Email, Handle, IdempotencyKey, Lease, LeaseOwner, Member, MemberId, MemberStatus, PasswordHash,
    Points, ProviderAccountId, Role, Transfer, TransferId, TransferKind, TransferState,
};

/// The repositories, empty, over one store.
#[derive(Debug, Clone)]
pub struct StoreUnderTest {
    pub members: Arc<dyn MemberRepository>,
    /// The same members, as admins search them.
    pub directory: Arc<dyn MemberDirectory>,
    pub transfers: Arc<dyn TransferRepository>,
    pub sessions: Arc<dyn SessionRepository>,
    pub totals: Arc<dyn DailyTotals>,
    pub tokens: Arc<dyn AccountTokens>,
}

/// Expands to one `#[tokio::test]` per contract case, each on a fresh store from `$setup`.
#[macro_export]
macro_rules! store_contract {
    ($setup:expr) => {
        $crate::store_contract!(@cases $setup; members;
            a_member_reads_back_by_id_email_and_handle,
            emails_and_handles_are_unique,
            attaching_an_account_converges_and_never_replaces,
            renaming_suspending_verifying_and_a_new_password_change_only_that,
            a_role_is_kept_and_changed_on_the_record,
            members_without_an_account_are_listed_for_recovery,
            admins_search_members_by_prefix_status_and_role_a_page_at_a_time,
            active_members_are_found_by_handle_prefix_in_handle_order,
            a_closed_member_leaves_a_tombstone_that_keeps_the_handle,
        );
        $crate::store_contract!(@cases $setup; transfers;
            a_transfer_reads_back_by_id_and_by_key,
            a_sender_key_is_unique_and_answers_with_the_first_transfer,
            transitions_are_compare_and_set,
            of_racing_drivers_exactly_one_moves_each_step,
            history_pages_have_no_gap_or_repeat_while_inserts_go_on,
            history_filters_by_direction_state_and_time_and_pages_within_them,
            a_daily_total_reserves_up_to_its_limit_and_gives_back,
            of_racing_reservations_the_total_never_passes_the_limit,
            grants_page_newest_first_and_only_grants,
            a_lease_gives_each_due_transfer_to_one_owner_until_it_ends,
            a_transfer_in_review_is_counted_skipped_and_taken_over_by_hand,
            reversals_never_hold_more_of_a_transfer_than_its_amount_however_many_race,
            a_scan_reads_every_transfer_once_oldest_first,
            a_scan_within_a_window_reads_only_the_transfers_created_in_it,
            unfinished_transfers_are_counted_by_age,
        );
        $crate::store_contract!(@cases $setup; sessions;
            a_session_reads_back_and_rotates_once,
            of_racing_refreshes_of_one_token_exactly_one_wins,
            a_revoked_session_stays_revoked,
            a_session_remembers_its_last_retired_tokens,
            sessions_tell_where_a_member_signed_in_lately,
            a_member_s_other_sessions_end_together,
            a_member_s_open_sessions_are_listed_most_recently_used_first,
            a_one_use_token_is_taken_once_for_its_purpose_before_it_expires,
            a_member_s_unused_tokens_are_spent_together,
        );
    };
    (@cases $setup:expr; $module:ident; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $setup.await;
                $crate::contract::store::$module::$case(&store).await;
            }
        )+
    };
}

fn now() -> DateTime<Utc> {
    SystemClock.now()
}

fn member(handle: &str) -> Member {
    let handle = unique(handle);
    Member {
        id: MemberId::new(),
        email: Email::parse(format!("{handle}@example.com")).expect("valid email"),
        handle: Handle::parse(handle.as_str()).expect("valid handle"),
        display_name: DisplayName::parse(handle.as_str()).expect("valid name"),
        password_hash: PasswordHash::parse("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA").expect("valid hash"),
        role: Role::Member,
        status: MemberStatus::Active,
        provider_account: None,
        email_verified: false,
        created_at: now(),
        closed_at: None,
    }
}

fn account(name: &str) -> ProviderAccountId {
    ProviderAccountId::parse(unique(name)).expect("valid account id")
}

/// A share of 5 points from `sender` under `key`, accepted and leased to
/// `owner` for 30 s: what a request has just recorded.
pub fn transfer(sender: MemberId, key: &str, owner: &LeaseOwner) -> Transfer {
    let at = now();
    Transfer {
        id: TransferId::new(),
        kind: TransferKind::Share,
        sender,
        sender_account: Some(account("acc")),
        recipient: MemberId::new(),
        recipient_account: Some(account("acc")),
        amount: Points::new(5).expect("valid points"),
        memo: None,
        idempotency_key: IdempotencyKey::parse(key).expect("valid key"),
        state: TransferState::Accepted,
        decline: None,
        review: None,
        resolution: None,
        attempts: 0,
        lease: Some(Lease { owner: owner.clone(), until: at + chrono::Duration::seconds(30) }),
        reverses: None,
        reversed: 0,
        changes: Vec::new(),
        approval: None,
        created_at: at,
        updated_at: at,
    }
}

fn step(transfer: &Transfer, from: TransferState, to: TransferState, owner: &LeaseOwner) -> Transition {
    Transition {
        id: transfer.id,
        kind: transfer.kind,
        from,
        to,
        decline: None,
        review: None,
        resolution: None,
        owner: owner.clone(),
        at: now(),
    }
}
