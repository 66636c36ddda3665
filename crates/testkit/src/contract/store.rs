//! The `MemberRepository`, `TransferRepository` and `SessionRepository`
//! contract: uniqueness, compare-and-set under concurrency, pages with no gap
//! or repeat while inserts go on, exclusive leases, refresh tokens that
//! rotate once, and daily totals that never pass their limit. Run it with
//! `store_contract!(async { <a fresh StoreUnderTest> })`.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::join_all;

use crate::unique;
use pointshare_domain::ports::{
    AccountTokens, AttachAccountError, Clock, DailyTotals, DayKey, Direction, HistoryFilter, InsertMemberError,
    InsertTransferError, MemberDirectory, MemberRepository, MemberSearch, SessionRepository, SetEmailError,
    SystemClock, TakeOverError, TransferRepository, Transition, TransitionError, Window,
};
use pointshare_domain::{
    AccountToken, DisplayName, Email, Handle, HandlePrefix, Handover, IdempotencyKey, Lease, LeaseOwner, Member,
    MemberId, MemberStatus, PasswordHash, Points, ProviderAccountId, RETIRED_TOKENS_KEPT, Resolution, ReviewReason,
    Role, Rotation, Session, SessionId, TokenHash, TokenPurpose, Transfer, TransferId, TransferKind, TransferState,
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
        $crate::store_contract!(@cases $setup;
            a_member_reads_back_by_id_email_and_handle,
            emails_and_handles_are_unique,
            attaching_an_account_converges_and_never_replaces,
            renaming_suspending_verifying_and_a_new_password_change_only_that,
            a_role_is_kept_and_changed_on_the_record,
            members_without_an_account_are_listed_for_recovery,
            admins_search_members_by_prefix_status_and_role_a_page_at_a_time,
            active_members_are_found_by_handle_prefix_in_handle_order,
            a_transfer_reads_back_by_id_and_by_key,
            a_sender_key_is_unique_and_answers_with_the_first_transfer,
            transitions_are_compare_and_set,
            of_racing_drivers_exactly_one_moves_each_step,
            history_pages_have_no_gap_or_repeat_while_inserts_go_on,
            history_filters_by_direction_state_and_time_and_pages_within_them,
            a_daily_total_reserves_up_to_its_limit_and_gives_back,
            of_racing_reservations_the_total_never_passes_the_limit,
            grants_page_newest_first_and_only_grants,
            a_session_reads_back_and_rotates_once,
            of_racing_refreshes_of_one_token_exactly_one_wins,
            a_revoked_session_stays_revoked,
            a_session_remembers_its_last_retired_tokens,
            sessions_tell_where_a_member_signed_in_lately,
            a_member_s_other_sessions_end_together,
            a_member_s_open_sessions_are_listed_most_recently_used_first,
            a_closed_member_leaves_a_tombstone_that_keeps_the_handle,
            a_one_use_token_is_taken_once_for_its_purpose_before_it_expires,
            a_member_s_unused_tokens_are_spent_together,
            a_lease_gives_each_due_transfer_to_one_owner_until_it_ends,
            a_transfer_in_review_is_counted_skipped_and_taken_over_by_hand,
            reversals_never_hold_more_of_a_transfer_than_its_amount_however_many_race,
            a_scan_reads_every_transfer_once_oldest_first,
            a_scan_within_a_window_reads_only_the_transfers_created_in_it,
            unfinished_transfers_are_counted_by_age,
        );
    };
    (@cases $setup:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let store = $setup.await;
                $crate::contract::store::$case(&store).await;
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

pub async fn a_member_reads_back_by_id_email_and_handle(store: &StoreUnderTest) {
    let alice = member("alice");
    store.members.insert(&alice).await.expect("inserts");
    assert_eq!(store.members.by_id(alice.id).await.expect("reads"), Some(alice.clone()));
    assert_eq!(store.members.by_email(&alice.email).await.expect("reads"), Some(alice.clone()));
    assert_eq!(store.members.by_handle(&alice.handle).await.expect("reads"), Some(alice.clone()));
    assert_eq!(store.members.by_id(MemberId::new()).await.expect("reads"), None);
    let bob = member("bob");
    store.members.insert(&bob).await.expect("inserts");
    let mut both = store.members.by_ids(&[bob.id, MemberId::new(), alice.id]).await.expect("reads");
    both.sort_by_key(|m| m.handle.to_string());
    assert_eq!(both, [alice.clone(), bob], "the ones that exist, in one read");
    assert_eq!(store.members.by_ids(&[]).await.expect("reads"), []);
}

pub async fn emails_and_handles_are_unique(store: &StoreUnderTest) {
    let first = member("bob");
    store.members.insert(&first).await.expect("inserts");
    let same_email = Member { id: MemberId::new(), handle: member("other").handle, ..first.clone() };
    assert!(matches!(store.members.insert(&same_email).await, Err(InsertMemberError::EmailTaken)));
    let same_handle = Member { id: MemberId::new(), email: member("other").email, ..first.clone() };
    assert!(matches!(store.members.insert(&same_handle).await, Err(InsertMemberError::HandleTaken)));
    // Handles and emails are lowercased when parsed, so case never makes a second member.
    let shouting = Handle::parse(first.handle.as_str().to_uppercase()).expect("valid handle");
    assert_eq!(store.members.by_handle(&shouting).await.expect("reads").map(|m| m.id), Some(first.id));
}

pub async fn attaching_an_account_converges_and_never_replaces(store: &StoreUnderTest) {
    let carol = member("carol");
    store.members.insert(&carol).await.expect("inserts");
    let first = account("acc");
    let attached = store.members.attach_account(carol.id, &first).await.expect("attaches");
    assert_eq!(attached.provider_account.as_ref(), Some(&first));
    store.members.attach_account(carol.id, &first).await.expect("the same account again converges");
    let refused = store.members.attach_account(carol.id, &account("acc")).await;
    assert!(matches!(refused, Err(AttachAccountError::AlreadyAttached(held)) if held == first));
    assert!(matches!(store.members.attach_account(MemberId::new(), &first).await, Err(AttachAccountError::NotFound)));
}

pub async fn a_closed_member_leaves_a_tombstone_that_keeps_the_handle(store: &StoreUnderTest) {
    let gail = Member { email_verified: true, ..member("gail") };
    store.members.insert(&gail).await.expect("inserts");
    let tombstone = Email::parse(format!("closed-{}@closed.invalid", gail.handle)).expect("valid");
    let nameless = DisplayName::parse("Closed account").expect("valid");
    let at = now();
    let closed = store.members.close(gail.id, &tombstone, &nameless, at).await.expect("closes").expect("exists");
    let expected = Member {
        status: MemberStatus::Closed,
        email: tombstone.clone(),
        email_verified: false,
        display_name: nameless.clone(),
        closed_at: Some(at),
        ..gail.clone()
    };
    assert_eq!(closed, expected);
    assert_eq!(store.members.by_email(&gail.email).await.expect("reads"), None, "the address is free again");
    let newcomer = Member { email: gail.email.clone(), ..member("newcomer") };
    store.members.insert(&newcomer).await.expect("a new member may have the address");
    assert_eq!(store.members.by_handle(&gail.handle).await.expect("reads"), Some(expected), "the handle is held");
    let again = Member { id: MemberId::new(), email: member("gail").email, ..gail.clone() };
    assert!(matches!(store.members.insert(&again).await, Err(InsertMemberError::HandleTaken)));
    assert_eq!(store.members.close(MemberId::new(), &tombstone, &nameless, at).await.expect("answers"), None);

    // Once its hold is over, the tombstone gives the handle up.
    let placeholder =
        Handle::parse(format!("closed_{}", &gail.id.as_uuid().simple().to_string()[..25])).expect("valid");
    let released = store.members.release_handle(gail.id, &placeholder).await.expect("releases").expect("exists");
    assert_eq!(released.handle, placeholder);
    store.members.insert(&again).await.expect("a new member takes the handle");
    assert_eq!(store.members.by_handle(&gail.handle).await.expect("reads").map(|m| m.id), Some(again.id));
    assert_eq!(store.members.release_handle(MemberId::new(), &placeholder).await.expect("answers"), None);
}

pub async fn renaming_suspending_verifying_and_a_new_password_change_only_that(store: &StoreUnderTest) {
    let dave = member("dave");
    store.members.insert(&dave).await.expect("inserts");
    let name = DisplayName::parse("Dave D.").expect("valid name");
    let renamed = store.members.set_display_name(dave.id, &name).await.expect("renames").expect("exists");
    assert_eq!(renamed, Member { display_name: name, ..dave.clone() });
    let suspended = store.members.set_status(dave.id, MemberStatus::Suspended).await.expect("updates").expect("exists");
    assert_eq!(suspended.status, MemberStatus::Suspended);
    assert_eq!(store.members.set_status(MemberId::new(), MemberStatus::Active).await.expect("answers"), None);
    assert!(!suspended.email_verified);
    let moved = Email::parse("dave.moved@example.com").expect("valid");
    assert_eq!(store.members.set_email_verified(dave.id, &moved).await.expect("answers"), None, "not their address");
    let verified = store.members.set_email_verified(dave.id, &dave.email).await.expect("updates").expect("exists");
    assert!(verified.email_verified);
    let suspended = verified;
    let erin = member("erin");
    store.members.insert(&erin).await.expect("inserts");
    let taken = store.members.set_verified_email(dave.id, &erin.email).await;
    assert!(matches!(taken, Err(SetEmailError::EmailTaken)), "another member's address: {taken:?}");
    let moved = store.members.set_verified_email(dave.id, &moved).await.expect("updates").expect("exists");
    assert_eq!(moved, Member { email: Email::parse("dave.moved@example.com").expect("valid"), ..suspended.clone() });
    assert_eq!(store.members.by_email(&suspended.email).await.expect("reads"), None, "the old address is free");
    let newcomer = Member { email: suspended.email.clone(), ..member("newcomer") };
    store.members.insert(&newcomer).await.expect("a new member may have the old address");
    let taken_back = store.members.set_verified_email(dave.id, &suspended.email).await;
    assert!(matches!(taken_back, Err(SetEmailError::EmailTaken)), "{taken_back:?}");
    store
        .members
        .set_verified_email(
            newcomer.id,
            &Email::parse(format!("{}.elsewhere@example.com", newcomer.handle)).expect("valid"),
        )
        .await
        .expect("moves away")
        .expect("exists");
    assert_eq!(store.members.by_email(&moved.email).await.expect("reads").map(|m| m.id), Some(dave.id));
    let back = store.members.set_verified_email(dave.id, &suspended.email).await.expect("updates").expect("exists");
    assert_eq!(back, suspended, "and back, as it was");
    let nowhere = Email::parse("nobody.here@example.com").expect("valid");
    assert_eq!(store.members.set_verified_email(MemberId::new(), &nowhere).await.expect("answers"), None);
    let hash = PasswordHash::parse("$argon2id$v=19$m=19456,t=2,p=1$bmV3c2FsdA$bmV3aGFzaA").expect("valid hash");
    let changed = store.members.set_password(dave.id, &hash).await.expect("updates").expect("exists");
    assert_eq!(changed, Member { password_hash: hash.clone(), ..suspended });
    let read = store.members.by_email(&dave.email).await.expect("reads").expect("exists");
    assert_eq!(read.password_hash, hash);
    assert_eq!(store.members.set_password(MemberId::new(), &hash).await.expect("answers"), None);
}

pub async fn a_role_is_kept_and_changed_on_the_record(store: &StoreUnderTest) {
    let admin = Member { role: Role::Admin, ..member("root") };
    store.members.insert(&admin).await.expect("inserts");
    assert_eq!(store.members.by_email(&admin.email).await.expect("reads").map(|m| m.role), Some(Role::Admin));
    let demoted = store.members.set_role(admin.id, Role::Member).await.expect("changes").expect("exists");
    assert_eq!(demoted, Member { role: Role::Member, ..admin.clone() });
    assert_eq!(store.members.by_id(admin.id).await.expect("reads"), Some(demoted));
    assert_eq!(store.members.set_role(MemberId::new(), Role::Admin).await.expect("answers"), None);
}

pub async fn members_without_an_account_are_listed_for_recovery(store: &StoreUnderTest) {
    let pending = member("pending");
    let done = member("done");
    store.members.insert(&pending).await.expect("inserts");
    store.members.insert(&done).await.expect("inserts");
    store.members.attach_account(done.id, &account("acc")).await.expect("attaches");
    let listed: Vec<_> = store.members.without_account(100).await.expect("lists").into_iter().map(|m| m.id).collect();
    assert!(listed.contains(&pending.id) && !listed.contains(&done.id), "{listed:?}");
}

pub async fn admins_search_members_by_prefix_status_and_role_a_page_at_a_time(store: &StoreUnderTest) {
    let named = |handle: &str, email: &str, name: &str| Member {
        handle: Handle::parse(handle).expect("valid"),
        email: Email::parse(email).expect("valid"),
        display_name: DisplayName::parse(name).expect("valid"),
        ..member("x")
    };
    let everyone = [
        named("ada_lovelace", "ada@example.com", "Ada Lovelace"),
        named("adam", "adam@example.com", "Adam Smith"),
        named("bea", "bea@example.com", "Béa"),
        named("cyd", "cyd@example.com", "Cyd"),
        named("dee", "dee@example.com", "Adrienne Dee"),
        named("eve", "admin.eve@corp.example", "Eve"),
    ];
    for member in &everyone {
        store.members.insert(member).await.expect("inserts");
    }
    let id = |handle: &str| everyone.iter().find(|m| m.handle.as_str() == handle).expect("one of them").id;
    store.members.set_status(id("adam"), MemberStatus::Suspended).await.expect("updates");
    store.members.set_role(id("bea"), Role::Admin).await.expect("updates");
    store.members.set_role(id("cyd"), Role::Admin).await.expect("updates");
    store.members.set_status(id("cyd"), MemberStatus::Suspended).await.expect("updates");

    let handles = |found: Vec<Member>| found.into_iter().map(|m| m.handle.to_string()).collect::<Vec<_>>();
    let search = |text: &str, status, role| MemberSearch::new(text, status, role);
    let all = store.directory.search(&search("", None, None), None, 100).await.expect("searches");
    assert_eq!(handles(all), ["ada_lovelace", "adam", "bea", "cyd", "dee", "eve"], "by handle");
    // Handle, email or display name, whatever the case; `.` is no wildcard.
    let ad = store.directory.search(&search(" AD ", None, None), None, 100).await.expect("searches");
    assert_eq!(handles(ad), ["ada_lovelace", "adam", "dee", "eve"]);
    let dotted = store.directory.search(&search("admin.", None, None), None, 100).await.expect("searches");
    assert_eq!(handles(dotted), ["eve"]);
    let none = store.directory.search(&search("a.a", None, None), None, 100).await.expect("searches");
    assert!(none.is_empty(), "{none:?}");
    let active = search("ad", Some(MemberStatus::Active), None);
    assert_eq!(
        handles(store.directory.search(&active, None, 100).await.expect("searches")),
        ["ada_lovelace", "dee", "eve"]
    );
    let admins = search("", None, Some(Role::Admin));
    assert_eq!(handles(store.directory.search(&admins, None, 100).await.expect("searches")), ["bea", "cyd"]);
    // A page at a time, after the last handle of the one before.
    let first = store.directory.search(&search("", None, None), None, 4).await.expect("searches");
    let after = first.last().map(|m| m.handle.clone()).expect("a last");
    let rest = store.directory.search(&search("", None, None), Some(&after), 4).await.expect("searches");
    assert_eq!((handles(first).len(), handles(rest)), (4, vec!["dee".to_owned(), "eve".to_owned()]));
    // Renamed: found by the new name only.
    store.members.set_display_name(id("bea"), &DisplayName::parse("Zelda").expect("valid")).await.expect("renames");
    assert_eq!(handles(store.directory.search(&search("zel", None, None), None, 10).await.expect("searches")), ["bea"]);
    assert_eq!(store.directory.active_admins(10).await.expect("lists"), vec![id("bea")], "cyd is suspended");
}

pub async fn active_members_are_found_by_handle_prefix_in_handle_order(store: &StoreUnderTest) {
    let named = |handle: &str| Member { handle: Handle::parse(handle).expect("valid"), ..member(handle) };
    let everyone = [named("bob_2"), named("bob"), named("bobby"), named("boa"), named("rob"), named("b_ob")];
    for member in &everyone {
        store.members.insert(member).await.expect("inserts");
    }
    store.members.set_status(everyone[2].id, MemberStatus::Suspended).await.expect("suspends bobby");
    let handles = |found: Vec<Member>| found.into_iter().map(|m| m.handle.to_string()).collect::<Vec<_>>();
    let found = |prefix: &str, limit| {
        let prefix = HandlePrefix::parse(prefix).expect("a prefix");
        async move { handles(store.members.active_by_handle_prefix(&prefix, limit).await.expect("finds")) }
    };
    assert_eq!(found("bo", 10).await, ["boa", "bob", "bob_2"], "by handle, suspended ones left out");
    assert_eq!(found("BOB", 10).await, ["bob", "bob_2"], "letter case aside");
    assert_eq!(found("bo", 2).await, ["boa", "bob"]);
    assert_eq!(found("b_", 10).await, ["b_ob"], "_ is no wildcard");
    assert!(found("zz", 10).await.is_empty());
}

pub async fn a_transfer_reads_back_by_id_and_by_key(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let transfer = transfer(MemberId::new(), "key-1", &owner);
    store.transfers.insert(&transfer).await.expect("inserts");
    assert_eq!(store.transfers.get(transfer.id).await.expect("reads"), Some(transfer.clone()));
    let by_key = store.transfers.by_idempotency_key(transfer.sender, &transfer.idempotency_key).await.expect("reads");
    assert_eq!(by_key, Some(transfer.clone()));
    let elsewhere =
        store.transfers.by_idempotency_key(MemberId::new(), &transfer.idempotency_key).await.expect("reads");
    assert_eq!(elsewhere, None, "keys belong to their sender");
}

pub async fn a_sender_key_is_unique_and_answers_with_the_first_transfer(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let first = transfer(MemberId::new(), "same", &owner);
    store.transfers.insert(&first).await.expect("inserts");
    let second = transfer(first.sender, "same", &owner);
    match store.transfers.insert(&second).await {
        Err(InsertTransferError::KeyTaken(existing)) => assert_eq!(*existing, first),
        other => panic!("expected KeyTaken, got {other:?}"),
    }
    store.transfers.insert(&transfer(MemberId::new(), "same", &owner)).await.expect("another sender may use the key");
}

pub async fn transitions_are_compare_and_set(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let transfer = transfer(MemberId::new(), "cas", &owner);
    store.transfers.insert(&transfer).await.expect("inserts");
    let moved = store
        .transfers
        .transition(&step(&transfer, TransferState::Accepted, TransferState::Debited, &owner))
        .await
        .expect("moves");
    assert_eq!(moved.state, TransferState::Debited);
    let stale =
        store.transfers.transition(&step(&transfer, TransferState::Accepted, TransferState::Debited, &owner)).await;
    assert!(matches!(stale, Err(TransitionError::Conflict(now)) if now.state == TransferState::Debited));
    let stranger = LeaseOwner::unique("stranger");
    let foreign =
        store.transfers.transition(&step(&transfer, TransferState::Debited, TransferState::Completed, &stranger)).await;
    assert!(matches!(foreign, Err(TransitionError::Conflict(_))), "only the lease holder moves a transfer");
    let illegal =
        store.transfers.transition(&step(&transfer, TransferState::Debited, TransferState::Accepted, &owner)).await;
    assert!(matches!(illegal, Err(TransitionError::Illegal { .. })));
    let missing = Transfer { id: TransferId::new(), ..transfer.clone() };
    let absent =
        store.transfers.transition(&step(&missing, TransferState::Accepted, TransferState::Debited, &owner)).await;
    assert!(matches!(absent, Err(TransitionError::NotFound)));
    let mut declined = step(&transfer, TransferState::Debited, TransferState::Refunding, &owner);
    declined.decline = Some(pointshare_domain::DeclineReason::RecipientAccountInactive);
    let refunding = store.transfers.transition(&declined).await.expect("moves");
    assert_eq!(refunding.decline, declined.decline);
    assert_eq!(store.transfers.get(transfer.id).await.expect("reads"), Some(refunding));
}

pub async fn of_racing_drivers_exactly_one_moves_each_step(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let transfer = transfer(MemberId::new(), "race", &owner);
    store.transfers.insert(&transfer).await.expect("inserts");
    for (from, to) in
        [(TransferState::Accepted, TransferState::Debited), (TransferState::Debited, TransferState::Completed)]
    {
        let racers = (0..32).map(|_| {
            let transfers = Arc::clone(&store.transfers);
            let transition = step(&transfer, from, to, &owner);
            tokio::spawn(async move { transfers.transition(&transition).await })
        });
        let answers: Vec<_> = join_all(racers).await.into_iter().map(|joined| joined.expect("joins")).collect();
        let winners = answers.iter().filter(|answer| answer.is_ok()).count();
        let conflicts = answers.iter().filter(|answer| matches!(answer, Err(TransitionError::Conflict(_)))).count();
        assert_eq!((winners, conflicts), (1, 31), "{from:?} -> {to:?}");
    }
}

pub async fn history_pages_have_no_gap_or_repeat_while_inserts_go_on(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let member = MemberId::new();
    let mut before = HashSet::new();
    for n in 0..30 {
        let mut t = transfer(if n % 2 == 0 { member } else { MemberId::new() }, &format!("page-{n}"), &owner);
        if n % 2 == 1 {
            t.recipient = member;
        }
        store.transfers.insert(&t).await.expect("inserts");
        before.insert(t.id);
        // Several transfers share a millisecond; the id orders them.
        if n % 5 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    let writer = {
        let transfers = Arc::clone(&store.transfers);
        let owner = owner.clone();
        tokio::spawn(async move {
            for n in 0..20 {
                transfers.insert(&transfer(member, &format!("late-{n}"), &owner)).await.expect("inserts");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    let (mut seen, mut order, mut cursor) = (HashSet::new(), Vec::new(), None);
    loop {
        let page = store.transfers.history(member, &HistoryFilter::default(), cursor, 7).await.expect("pages");
        for t in &page.items {
            assert!(seen.insert(t.id), "{} appeared twice", t.id);
            order.push((t.created_at, t.id));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    writer.await.expect("the writer finishes");
    assert!(
        before.is_subset(&seen),
        "every transfer older than the first page appears: {} missing",
        before.difference(&seen).count()
    );
    assert!(order.windows(2).all(|w| w[0] > w[1]), "newest first, strictly");
    assert!(
        store
            .transfers
            .history(MemberId::new(), &HistoryFilter::default(), None, 7)
            .await
            .expect("pages")
            .items
            .is_empty()
    );
}

pub async fn history_filters_by_direction_state_and_time_and_pages_within_them(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let member = MemberId::new();
    let hours_ago = |hours| now() - chrono::Duration::hours(hours);
    // Sent and completed three hours ago, received and rejected two hours
    // ago, sent and still accepted an hour ago.
    let mut sent_old = transfer(member, "filter-sent-old", &owner);
    (sent_old.state, sent_old.created_at) = (TransferState::Completed, hours_ago(3));
    let mut received = transfer(MemberId::new(), "filter-received", &owner);
    (received.recipient, received.state, received.created_at) = (member, TransferState::Rejected, hours_ago(2));
    let mut sent_new = transfer(member, "filter-sent-new", &owner);
    sent_new.created_at = hours_ago(1);
    for t in [&sent_old, &received, &sent_new] {
        store.transfers.insert(t).await.expect("inserts");
    }
    let listed = |filter: HistoryFilter| {
        let transfers = Arc::clone(&store.transfers);
        async move {
            let page = transfers.history(member, &filter, None, 10).await.expect("pages");
            page.items.into_iter().map(|t| t.id).collect::<Vec<_>>()
        }
    };
    let sent = HistoryFilter { direction: Some(Direction::Sent), ..HistoryFilter::default() };
    assert_eq!(listed(sent.clone()).await, [sent_new.id, sent_old.id]);
    let received_only = HistoryFilter { direction: Some(Direction::Received), ..HistoryFilter::default() };
    assert_eq!(listed(received_only).await, [received.id]);
    let states = vec![TransferState::Accepted, TransferState::Rejected];
    assert_eq!(listed(HistoryFilter { states, ..HistoryFilter::default() }).await, [sent_new.id, received.id]);
    let since = HistoryFilter { since: Some(received.created_at), ..HistoryFilter::default() };
    assert_eq!(listed(since).await, [sent_new.id, received.id], "since is inclusive");
    let until = HistoryFilter { until: Some(received.created_at), ..HistoryFilter::default() };
    assert_eq!(listed(until).await, [sent_old.id], "until is exclusive");
    let nothing = HistoryFilter { states: vec![TransferState::Reversed], ..sent.clone() };
    assert_eq!(listed(nothing).await, []);

    let first = store.transfers.history(member, &sent, None, 1).await.expect("pages");
    assert_eq!(first.items.iter().map(|t| t.id).collect::<Vec<_>>(), [sent_new.id]);
    let second = store.transfers.history(member, &sent, first.next, 1).await.expect("pages");
    assert_eq!((second.items.iter().map(|t| t.id).collect::<Vec<_>>(), second.next), (vec![sent_old.id], None));
}

fn day_key(kind: TransferKind) -> DayKey {
    DayKey { sender: MemberId::new(), kind, day: now().date_naive() }
}

pub async fn a_daily_total_reserves_up_to_its_limit_and_gives_back(store: &StoreUnderTest) {
    let share = day_key(TransferKind::Share);
    let points = |n| Points::new(n).expect("valid points");
    assert!(store.totals.reserve(&share, points(60), 100).await.expect("answers"));
    assert!(!store.totals.reserve(&share, points(41), 100).await.expect("answers"), "60 + 41 > 100");
    assert!(store.totals.reserve(&share, points(40), 100).await.expect("answers"), "exactly the limit");
    assert!(!store.totals.reserve(&share, points(1), 100).await.expect("answers"));
    store.totals.release(&share, points(60)).await.expect("gives back");
    assert!(store.totals.reserve(&share, points(60), 100).await.expect("answers"), "what was given back");
    assert!(!store.totals.reserve(&day_key(TransferKind::Share), points(101), 100).await.expect("answers"));
    // Another kind, sender or day is another counter.
    let grant = DayKey { kind: TransferKind::Grant, ..share };
    assert!(store.totals.reserve(&grant, points(100), 100).await.expect("answers"));
    let tomorrow = DayKey { day: share.day.succ_opt().expect("a next day"), ..share };
    assert!(store.totals.reserve(&tomorrow, points(100), 100).await.expect("answers"));
    assert_eq!(store.totals.total(&share).await.expect("reads"), 100, "40 + 60 after 60 came back");
    let untouched = DayKey { sender: MemberId::new(), ..share };
    assert_eq!(store.totals.total(&untouched).await.expect("reads"), 0, "a day nobody shared on");
}

pub async fn of_racing_reservations_the_total_never_passes_the_limit(store: &StoreUnderTest) {
    let key = day_key(TransferKind::Share);
    let attempts = (0..20).map(|_| {
        let totals = store.totals.clone();
        async move { totals.reserve(&key, Points::new(10).expect("valid"), 100).await.expect("answers") }
    });
    let granted = join_all(attempts).await.into_iter().filter(|won| *won).count();
    assert_eq!(granted, 10, "ten reservations of 10 fit in 100, the first of the day included");
}

fn as_grant(mut transfer: Transfer) -> Transfer {
    transfer.kind = TransferKind::Grant;
    transfer.sender_account = None;
    transfer
}

pub async fn grants_page_newest_first_and_only_grants(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let admin = MemberId::new();
    let mut grants = Vec::new();
    for n in 0..5 {
        let grant = as_grant(transfer(admin, &format!("grant-{n}"), &owner));
        store.transfers.insert(&grant).await.expect("inserts");
        store.transfers.insert(&transfer(admin, &format!("share-{n}"), &owner)).await.expect("inserts");
        grants.push(grant.id);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store.transfers.grants(after, 2).await.expect("pages");
        assert!(page.items.iter().all(|t| t.kind == TransferKind::Grant));
        seen.extend(page.items.iter().map(|t| t.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    grants.reverse();
    assert_eq!(seen, grants, "every grant once, newest first");
}

fn token_hash(seed: &str) -> TokenHash {
    use std::hash::{BuildHasher, RandomState};
    let half = RandomState::new().hash_one(seed);
    TokenHash::parse(format!("{half:016x}").repeat(4)).expect("64 hex digits")
}

fn session(member: MemberId) -> Session {
    let at = now();
    Session {
        id: SessionId::new(),
        member,
        token: token_hash("first"),
        retired: Vec::new(),
        client: "192.0.2.1".into(),
        user_agent: Some("Mozilla/5.0 (contract)".into()),
        created_at: at,
        last_used_at: at,
        expires_at: at + chrono::Duration::days(30),
        revoked_at: None,
        handover: None,
    }
}

/// An exchange of `presented` for `next` at `at`, handed over for ten seconds.
fn rotation(presented: &TokenHash, next: &TokenHash, at: chrono::DateTime<Utc>) -> Rotation {
    let until = at + chrono::Duration::seconds(10);
    let handover = Handover { retired: presented.clone(), sealed: format!("sealed {next}"), until };
    Rotation { next: next.clone(), expires_at: at + chrono::Duration::days(30), at, handover }
}

pub async fn a_session_reads_back_and_rotates_once(store: &StoreUnderTest) {
    let first = session(MemberId::new());
    store.sessions.insert(&first).await.expect("inserts");
    assert_eq!(store.sessions.get(first.id).await.expect("reads"), Some(first.clone()));
    assert_eq!(store.sessions.get(SessionId::new()).await.expect("reads"), None);

    let next = token_hash("next");
    let exchange = rotation(&first.token, &next, first.created_at + chrono::Duration::hours(1));
    assert!(store.sessions.rotate(first.id, &first.token, &exchange).await.expect("rotates"));
    let rotated = store.sessions.get(first.id).await.expect("reads").expect("exists");
    let mut expected = first.clone();
    expected.rotate(&exchange);
    assert_eq!(rotated, expected, "the next token, its expiry, the time and the handover");
    assert_eq!(rotated.retired, vec![first.token.clone()], "the replaced token is remembered as retired");
    assert_eq!(rotated.handed_over(&first.token, exchange.at), Some(exchange.handover.sealed.as_str()));
    let again = rotation(&first.token, &token_hash("again"), exchange.at);
    assert!(!store.sessions.rotate(first.id, &first.token, &again).await.expect("answers"));
    assert_eq!(store.sessions.get(first.id).await.expect("reads").expect("exists").token, next);
    let nowhere = rotation(&next, &token_hash("x"), exchange.at);
    assert!(!store.sessions.rotate(SessionId::new(), &next, &nowhere).await.expect("answers"));
}

pub async fn of_racing_refreshes_of_one_token_exactly_one_wins(store: &StoreUnderTest) {
    let racing = session(MemberId::new());
    store.sessions.insert(&racing).await.expect("inserts");
    let attempts = (0..8).map(|n| {
        let sessions = store.sessions.clone();
        let (id, presented) = (racing.id, racing.token.clone());
        async move {
            let next = token_hash(&format!("racer-{n}"));
            let won = sessions.rotate(id, &presented, &rotation(&presented, &next, now())).await.expect("answers");
            won.then_some(next)
        }
    });
    let winners: Vec<TokenHash> = join_all(attempts).await.into_iter().flatten().collect();
    assert_eq!(winners.len(), 1, "one token exchange wins");
    assert_eq!(store.sessions.get(racing.id).await.expect("reads").expect("exists").token, winners[0]);
}

pub async fn a_revoked_session_stays_revoked(store: &StoreUnderTest) {
    let ended = session(MemberId::new());
    store.sessions.insert(&ended).await.expect("inserts");
    let at = now();
    store.sessions.revoke(ended.id, at).await.expect("revokes");
    store.sessions.revoke(ended.id, at + chrono::Duration::seconds(5)).await.expect("revoking again is harmless");
    let read = store.sessions.get(ended.id).await.expect("reads").expect("exists");
    assert_eq!(read.revoked_at.map(|t| t.timestamp_millis()), Some(at.timestamp_millis()), "the first time is kept");
    assert!(!read.is_live(now()));
    let next = token_hash("after");
    assert!(
        !store.sessions.rotate(ended.id, &ended.token, &rotation(&ended.token, &next, now())).await.expect("answers")
    );
    store.sessions.revoke(SessionId::new(), at).await.expect("revoking no session is harmless");
}

pub async fn a_session_remembers_its_last_retired_tokens(store: &StoreUnderTest) {
    let long = session(MemberId::new());
    store.sessions.insert(&long).await.expect("inserts");
    let mut tokens = vec![long.token.clone()];
    for n in 0..RETIRED_TOKENS_KEPT + 8 {
        let next = token_hash(&format!("rotation-{n}"));
        let current = tokens.last().expect("a token").clone();
        assert!(store.sessions.rotate(long.id, &current, &rotation(&current, &next, now())).await.expect("rotates"));
        tokens.push(next);
    }
    let read = store.sessions.get(long.id).await.expect("reads").expect("exists");
    let current = tokens.pop().expect("the current token");
    assert_eq!(read.token, current);
    let kept = tokens.split_off(tokens.len() - RETIRED_TOKENS_KEPT);
    assert_eq!(read.retired, kept, "the last ones, oldest first");
    assert!(tokens.iter().all(|old| !read.retired(old)), "older ones are forgotten");
}

pub async fn a_member_s_other_sessions_end_together(store: &StoreUnderTest) {
    let (alice, bob) = (MemberId::new(), MemberId::new());
    let [kept, phone, laptop] = [session(alice), session(alice), session(alice)];
    let ended_before = session(alice);
    let bobs = session(bob);
    for open in [&kept, &phone, &laptop, &ended_before, &bobs] {
        store.sessions.insert(open).await.expect("inserts");
    }
    let earlier = now() - chrono::Duration::hours(1);
    store.sessions.revoke(ended_before.id, earlier).await.expect("revokes");
    let at = now();
    let mut ended = store.sessions.revoke_all(alice, Some(kept.id), at).await.expect("revokes");
    ended.sort_unstable();
    let mut expected = vec![phone.id, laptop.id];
    expected.sort_unstable();
    assert_eq!(ended, expected, "the open ones but the one kept");
    let read = |id| store.sessions.get(id);
    assert_eq!(read(phone.id).await.expect("reads").expect("exists").revoked_at, Some(at));
    assert_eq!(read(kept.id).await.expect("reads").expect("exists").revoked_at, None);
    assert_eq!(read(ended_before.id).await.expect("reads").expect("exists").revoked_at, Some(earlier), "kept its time");
    assert_eq!(read(bobs.id).await.expect("reads").expect("exists").revoked_at, None, "another member's");
    assert!(store.sessions.revoke_all(alice, Some(kept.id), at).await.expect("revokes").is_empty(), "once");
    assert_eq!(store.sessions.revoke_all(alice, None, at).await.expect("revokes"), [kept.id]);
}

pub async fn a_member_s_open_sessions_are_listed_most_recently_used_first(store: &StoreUnderTest) {
    let (alice, bob) = (MemberId::new(), MemberId::new());
    let at = now();
    let [phone, laptop, ended, expired] = [session(alice), session(alice), session(alice), session(alice)];
    let expired = Session { expires_at: at - chrono::Duration::seconds(1), ..expired };
    for each in [&phone, &laptop, &ended, &expired, &session(bob)] {
        store.sessions.insert(each).await.expect("inserts");
    }
    store.sessions.revoke(ended.id, at).await.expect("revokes");
    let used = rotation(&phone.token, &token_hash("phone, later"), at + chrono::Duration::minutes(5));
    assert!(store.sessions.rotate(phone.id, &phone.token, &used).await.expect("rotates"));
    let open = store.sessions.open_of(alice, at).await.expect("lists");
    let ids: Vec<SessionId> = open.iter().map(|s| s.id).collect();
    assert_eq!(ids, [phone.id, laptop.id], "open ones only, the one used last first");
    assert_eq!(open[1], laptop, "as they were recorded");
    assert!(store.sessions.open_of(MemberId::new(), at).await.expect("lists").is_empty());
}

fn account_token(member: MemberId, purpose: TokenPurpose, expires_at: chrono::DateTime<Utc>) -> AccountToken {
    AccountToken {
        hash: token_hash(&format!("{member}:{}", purpose.as_str())),
        purpose,
        member,
        email: Email::parse("ada@example.com").expect("valid"),
        expires_at,
        used_at: None,
    }
}

pub async fn a_one_use_token_is_taken_once_for_its_purpose_before_it_expires(store: &StoreUnderTest) {
    let at = now();
    let reset = account_token(MemberId::new(), TokenPurpose::PasswordReset, at + chrono::Duration::minutes(30));
    store.tokens.insert(&reset).await.expect("inserts");
    let wrong = store.tokens.take(&reset.hash, TokenPurpose::VerifyEmail, at).await.expect("reads");
    assert_eq!(wrong, None, "not for another purpose");
    let racers = (0..8).map(|_| store.tokens.take(&reset.hash, TokenPurpose::PasswordReset, at));
    let taken: Vec<_> = futures::future::join_all(racers).await.into_iter().map(|t| t.expect("reads")).collect();
    let winners: Vec<_> = taken.iter().flatten().collect();
    assert_eq!(winners.len(), 1, "taken once, however many race");
    assert_eq!(winners[0], &AccountToken { used_at: Some(at), ..reset.clone() });
    let expired = account_token(MemberId::new(), TokenPurpose::VerifyEmail, at - chrono::Duration::seconds(1));
    store.tokens.insert(&expired).await.expect("inserts");
    assert_eq!(store.tokens.take(&expired.hash, TokenPurpose::VerifyEmail, at).await.expect("reads"), None);
    assert_eq!(store.tokens.take(&token_hash("never"), TokenPurpose::VerifyEmail, at).await.expect("reads"), None);
}

pub async fn a_member_s_unused_tokens_are_spent_together(store: &StoreUnderTest) {
    let at = now();
    let alice = MemberId::new();
    let later = at + chrono::Duration::minutes(30);
    let reset = account_token(alice, TokenPurpose::PasswordReset, later);
    let verify = account_token(alice, TokenPurpose::VerifyEmail, later);
    let bobs = account_token(MemberId::new(), TokenPurpose::PasswordReset, later);
    for token in [&reset, &verify, &bobs] {
        store.tokens.insert(token).await.expect("inserts");
    }
    store.tokens.spend_all(alice, TokenPurpose::PasswordReset, at).await.expect("spends");
    assert_eq!(store.tokens.take(&reset.hash, TokenPurpose::PasswordReset, at).await.expect("reads"), None);
    assert!(
        store.tokens.take(&verify.hash, TokenPurpose::VerifyEmail, at).await.expect("reads").is_some(),
        "another purpose"
    );
    assert!(
        store.tokens.take(&bobs.hash, TokenPurpose::PasswordReset, at).await.expect("reads").is_some(),
        "another member"
    );
}

pub async fn sessions_tell_where_a_member_signed_in_lately(store: &StoreUnderTest) {
    let (alice, bob) = (MemberId::new(), MemberId::new());
    let at = now();
    let mut from_home = session(alice);
    from_home.client = "2001:db8:1:2::/64".into();
    store.sessions.insert(&from_home).await.expect("inserts");
    let mut long_ago = session(bob);
    long_ago.created_at = at - chrono::Duration::days(40);
    store.sessions.insert(&long_ago).await.expect("inserts");
    let since = at - chrono::Duration::days(30);
    let from = |member, client: &'static str| store.sessions.signed_in_from(member, client, since);
    assert!(from(alice, "2001:db8:1:2::/64").await.expect("answers"));
    assert!(!from(alice, "192.0.2.1").await.expect("answers"), "another network");
    assert!(!from(bob, "2001:db8:1:2::/64").await.expect("answers"), "another member");
    assert!(!from(bob, "192.0.2.1").await.expect("answers"), "too long ago");
}

pub async fn reversals_never_hold_more_of_a_transfer_than_its_amount_however_many_race(store: &StoreUnderTest) {
    let creator = LeaseOwner::unique("request");
    let original =
        Transfer { amount: Points::new(100).expect("valid"), ..transfer(MemberId::new(), "reversed", &creator) };
    store.transfers.insert(&original).await.expect("inserts");
    let attempts = (0..8).map(|_| {
        let transfers = store.transfers.clone();
        async move { transfers.reserve_reversal(original.id, Points::new(20).expect("valid")).await.expect("answers") }
    });
    let won = join_all(attempts).await.into_iter().filter(|won| *won).count();
    assert_eq!(won, 5, "five reversals of 20 fit in 100");
    let held = store.transfers.get(original.id).await.expect("reads").expect("exists");
    assert_eq!((held.reversed, held.reversible()), (100, 0));
    store.transfers.release_reversal(original.id, Points::new(20).expect("valid")).await.expect("gives back");
    assert!(!store.transfers.reserve_reversal(original.id, Points::new(21).expect("valid")).await.expect("answers"));
    assert!(store.transfers.reserve_reversal(original.id, Points::new(20).expect("valid")).await.expect("answers"));
    assert!(
        !store.transfers.reserve_reversal(TransferId::new(), Points::new(1).expect("valid")).await.expect("answers")
    );

    // A withdrawal undoing it: linked, paying nobody, and listed among its reversals.
    let withdrawal = Transfer {
        kind: TransferKind::Withdrawal,
        recipient_account: None,
        reverses: Some(original.id),
        ..transfer(MemberId::new(), "undo", &creator)
    };
    store.transfers.insert(&withdrawal).await.expect("inserts");
    assert_eq!(store.transfers.get(withdrawal.id).await.expect("reads"), Some(withdrawal.clone()));
    assert_eq!(store.transfers.reversals_of(original.id).await.expect("lists"), vec![withdrawal]);
    assert!(store.transfers.reversals_of(TransferId::new()).await.expect("lists").is_empty());
}

pub async fn a_lease_gives_each_due_transfer_to_one_owner_until_it_ends(store: &StoreUnderTest) {
    let creator = LeaseOwner::unique("request");
    let mut due = HashSet::new();
    for n in 0..10 {
        let mut t = transfer(MemberId::new(), &format!("due-{n}"), &creator);
        t.lease = Some(Lease { owner: creator.clone(), until: now() - chrono::Duration::seconds(1) });
        store.transfers.insert(&t).await.expect("inserts");
        due.insert(t.id);
    }
    let held = transfer(MemberId::new(), "held", &creator);
    store.transfers.insert(&held).await.expect("inserts");
    let at = now();
    let until = at + chrono::Duration::seconds(60);
    let (a, b) = (LeaseOwner::unique("replica-a"), LeaseOwner::unique("replica-b"));
    let (claimed_a, claimed_b) =
        tokio::join!(store.transfers.claim_due(&a, at, until, 100), store.transfers.claim_due(&b, at, until, 100));
    let (claimed_a, claimed_b) = (claimed_a.expect("claims"), claimed_b.expect("claims"));
    let ids_a: HashSet<_> = claimed_a.iter().map(|t| t.id).collect();
    let ids_b: HashSet<_> = claimed_b.iter().map(|t| t.id).collect();
    assert!(ids_a.is_disjoint(&ids_b), "a transfer went to two owners");
    let all: HashSet<_> = ids_a.union(&ids_b).copied().collect();
    assert!(due.is_subset(&all), "every due transfer was claimed");
    assert!(!all.contains(&held.id), "a running lease is respected");
    assert!(claimed_a.iter().all(|t| t.lease.as_ref().is_some_and(|l| l.owner == a)));
    // Claimed, the lease now runs: nobody else gets them until it ends.
    let again = store.transfers.claim_due(&b, at + chrono::Duration::seconds(1), until, 100).await.expect("claims");
    assert!(again.iter().all(|t| !due.contains(&t.id)));
    let after = store
        .transfers
        .claim_due(&b, until + chrono::Duration::seconds(1), until + chrono::Duration::seconds(60), 100)
        .await
        .expect("claims");
    let after: HashSet<_> = after.iter().map(|t| t.id).collect();
    assert!(due.is_subset(&after), "after the lease ends, another owner may take over");
    // The new owner drives it; the old one no longer can.
    let taken = due.iter().next().copied().expect("one due");
    let current = store.transfers.get(taken).await.expect("reads").expect("exists");
    let old = store.transfers.transition(&step(&current, TransferState::Accepted, TransferState::Debited, &a)).await;
    assert!(matches!(old, Err(TransitionError::Conflict(_))), "the expired owner cannot move it: {old:?}");
}

pub async fn a_transfer_in_review_is_counted_skipped_and_taken_over_by_hand(store: &StoreUnderTest) {
    let creator = LeaseOwner::unique("request");
    let mut t = transfer(MemberId::new(), "parked", &creator);
    t.lease = Some(Lease { owner: creator.clone(), until: now() - chrono::Duration::seconds(1) });
    store.transfers.insert(&t).await.expect("inserts");
    let recovery = LeaseOwner::unique("recovery");
    let mut at = now();
    for attempt in 1..=2 {
        let claimed = store.transfers.claim_due(&recovery, at, at + chrono::Duration::seconds(1), 10).await;
        let claimed = claimed.expect("claims");
        assert_eq!(claimed.iter().map(|c| (c.id, c.attempts)).collect::<Vec<_>>(), [(t.id, attempt)]);
        at += chrono::Duration::seconds(2);
    }
    assert_eq!(store.transfers.count_needing_review().await.expect("counts"), 0);
    let mut park = step(&t, TransferState::Accepted, TransferState::NeedsReview, &recovery);
    park.review = Some(ReviewReason::AttemptsExhausted);
    let parked = store.transfers.transition(&park).await.expect("parks");
    assert_eq!((parked.state, parked.review), (TransferState::NeedsReview, Some(ReviewReason::AttemptsExhausted)));
    assert_eq!(parked.lease, None, "parked, nobody holds it");
    assert_eq!(store.transfers.count_needing_review().await.expect("counts"), 1);
    let queue = store.transfers.waiting(TransferState::NeedsReview, None, 10).await.expect("lists");
    assert_eq!((queue.items.iter().map(|t| t.id).collect::<Vec<_>>(), queue.next), (vec![t.id], None));
    let later = at + chrono::Duration::seconds(60);
    let claimed = store.transfers.claim_due(&recovery, later, later + chrono::Duration::seconds(1), 10).await;
    assert!(claimed.expect("claims").is_empty(), "recovery never claims a transfer in review");

    // An operator takes it over by hand; while they hold it nobody else can.
    let operator = LeaseOwner::unique("operator");
    let taken = store.transfers.take_over(t.id, &operator, later, later + chrono::Duration::seconds(60)).await;
    assert_eq!(taken.expect("takes over").lease.map(|l| l.owner), Some(operator.clone()));
    let again = store.transfers.take_over(t.id, &operator, later, later + chrono::Duration::seconds(60)).await;
    assert!(again.is_ok(), "its holder takes it again: {again:?}");
    let other = store.transfers.take_over(t.id, &recovery, later, later).await;
    assert!(matches!(other, Err(TakeOverError::Leased(_))), "{other:?}");
    let mut resolve = step(&t, TransferState::NeedsReview, TransferState::Rejected, &operator);
    resolve.resolution = Some(Resolution::Refund);
    let resolved = store.transfers.transition(&resolve).await.expect("resolves");
    assert_eq!(
        (resolved.state, resolved.review, resolved.resolution),
        (TransferState::Rejected, Some(ReviewReason::AttemptsExhausted), Some(Resolution::Refund)),
        "the reason stays beside the decision"
    );
    assert_eq!(store.transfers.count_needing_review().await.expect("counts"), 0);
    assert!(
        store.transfers.waiting(TransferState::NeedsReview, None, 10).await.expect("lists").items.is_empty(),
        "resolved, out of the queue"
    );
    let missing = store.transfers.take_over(TransferId::new(), &operator, later, later).await;
    assert!(matches!(missing, Err(TakeOverError::NotFound)), "{missing:?}");
}

pub async fn a_scan_reads_every_transfer_once_oldest_first(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let mut inserted = Vec::new();
    for n in 0..23 {
        let t = transfer(MemberId::new(), &format!("scan-{n}"), &owner);
        store.transfers.insert(&t).await.expect("inserts");
        inserted.push(t.id);
    }
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let page = store.transfers.scan(Window::default(), cursor, 5).await.expect("scans");
        seen.extend(page.items.iter().map(|t| (t.created_at, t.id)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "oldest first, no repeat");
    let ids: HashSet<_> = seen.iter().map(|(_, id)| *id).collect();
    assert!(inserted.iter().all(|id| ids.contains(id)), "every transfer appears");
}

pub async fn a_scan_within_a_window_reads_only_the_transfers_created_in_it(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let base = now() - chrono::Duration::days(10);
    let mut inside = Vec::new();
    for n in 0..20 {
        let mut t = transfer(MemberId::new(), &format!("window-{n}"), &owner);
        t.created_at = base + chrono::Duration::hours(n);
        store.transfers.insert(&t).await.expect("inserts");
        if (5..15).contains(&n) {
            inside.push(t.id);
        }
    }
    let window =
        Window { since: Some(base + chrono::Duration::hours(5)), until: Some(base + chrono::Duration::hours(15)) };
    let (mut seen, mut cursor) = (Vec::new(), None);
    loop {
        let page = store.transfers.scan(window, cursor, 3).await.expect("scans");
        seen.extend(page.items.iter().map(|t| t.id));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, inside, "since inclusive, until exclusive, oldest first, in pages");
}

pub async fn unfinished_transfers_are_counted_by_age(store: &StoreUnderTest) {
    let owner = LeaseOwner::unique("test");
    let sender = MemberId::new();
    let (open, finished) = (transfer(sender, "open", &owner), transfer(sender, "finished", &owner));
    for t in [&open, &finished] {
        store.transfers.insert(t).await.expect("inserts");
    }
    store
        .transfers
        .transition(&step(&finished, TransferState::Accepted, TransferState::Rejected, &owner))
        .await
        .expect("moves");
    let later = open.created_at + chrono::Duration::seconds(1);
    assert_eq!(store.transfers.count_unfinished(later).await.expect("counts"), 1, "only the open one");
    assert_eq!(store.transfers.count_unfinished(open.created_at).await.expect("counts"), 0, "none older");
}
