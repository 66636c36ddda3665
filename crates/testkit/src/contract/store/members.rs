//! The member store's cases: members read back every way, unique emails
//! and handles, accounts attached once, tombstones, admins' searches.

use pointshare_domain::ports::{AttachAccountError, InsertMemberError, MemberSearch, SetEmailError};
use pointshare_domain::{DisplayName, Email, Handle, HandlePrefix, Member, MemberId, MemberStatus, PasswordHash, Role};

use super::{StoreUnderTest, account, member, now};

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
