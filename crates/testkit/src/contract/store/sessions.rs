//! The session and one-use token stores' cases: refresh tokens that rotate
//! once under races, revocation, retired tokens, sessions listed, tokens
//! taken once.

use chrono::Utc;
use futures::future::join_all;

use pointshare_domain::{
    AccountToken, Email, Handover, MemberId, RETIRED_TOKENS_KEPT, Rotation, Session, SessionId, TokenHash, TokenPurpose,
};

use super::{StoreUnderTest, now};

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
