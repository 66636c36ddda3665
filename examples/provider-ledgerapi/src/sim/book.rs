//! The simulator's book: wallets, entries and LedgerAPI's rules for them,
//! with no HTTP in sight. Every method runs under the simulator's one lock,
//! so concurrent entries of one wallet are applied one at a time.

use std::collections::HashMap;

use chrono::Utc;

use pointshare_domain::{HolderRef, Points, ProviderAccountId, ProviderReference, ProviderTransactionId};

use crate::wire::{Direction, Entry, ErrorCode, Wallet, WalletState};

#[derive(Debug, Default)]
pub(super) struct Book {
    wallets: HashMap<ProviderAccountId, Wallet>,
    by_owner: HashMap<HolderRef, ProviderAccountId>,
    /// Every entry, oldest first; a search cursor is a position in it.
    entries: Vec<Entry>,
    by_key: HashMap<ProviderReference, usize>,
}

/// A request for an entry, as the wire carried it.
#[derive(Debug)]
pub(super) struct EntryAsked {
    pub wallet: String,
    pub key: ProviderReference,
    pub direction: Direction,
    pub amount: Points,
}

impl Book {
    /// The owner's wallet, opened now (`true`) or earlier.
    pub(super) fn open(&mut self, owner: HolderRef) -> (Wallet, bool) {
        if let Some(id) = self.by_owner.get(&owner) {
            return (self.wallets[id].clone(), false);
        }
        let id = ProviderAccountId::parse(format!("wal_{}", self.wallets.len() + 1)).expect("wal_<n> is a valid id");
        let wallet = Wallet {
            id: id.clone(),
            owner: owner.clone(),
            available: "0".into(),
            state: WalletState::Open,
            updated: Utc::now(),
        };
        self.by_owner.insert(owner, id.clone());
        self.wallets.insert(id, wallet.clone());
        (wallet, true)
    }

    pub(super) fn wallet(&self, id: &str) -> Result<Wallet, ErrorCode> {
        self.wallet_id(id).map(|id| self.wallets[&id].clone())
    }

    pub(super) fn set_state(&mut self, id: &str, state: WalletState) -> Result<Wallet, ErrorCode> {
        let wallet = self.wallets.get_mut(&self.wallet_id(id)?).expect("wallet_id checks the wallet exists");
        wallet.state = state;
        wallet.updated = Utc::now();
        Ok(wallet.clone())
    }

    /// Books an entry, or answers the one booked earlier under its key
    /// (`true` when new). The key is checked before the wallet, its state
    /// and its balance: a replay answers the original whatever changed since.
    /// A refusal books nothing, so it leaves the key free.
    pub(super) fn book(&mut self, asked: EntryAsked) -> Result<(Entry, bool), ErrorCode> {
        if let Some(&position) = self.by_key.get(&asked.key) {
            let original = &self.entries[position];
            let same = original.wallet_id.as_str() == asked.wallet
                && original.direction == asked.direction
                && original.amount == asked.amount.to_string();
            return if same { Ok((original.clone(), false)) } else { Err(ErrorCode::IdempotencyKeyReused) };
        }
        let id = self.wallet_id(&asked.wallet)?;
        let wallet = self.wallets.get_mut(&id).expect("wallet_id checks the wallet exists");
        if wallet.state != WalletState::Open {
            return Err(ErrorCode::WalletNotOpen);
        }
        let available: u64 = wallet.available.parse().expect("the book writes amounts as digits");
        let after = match asked.direction {
            Direction::Debit => available.checked_sub(asked.amount.get()).ok_or(ErrorCode::InsufficientBalance)?,
            Direction::Credit => available.checked_add(asked.amount.get()).ok_or(ErrorCode::InvalidRequest)?,
        };
        let booked_at = Utc::now();
        wallet.available = after.to_string();
        wallet.updated = booked_at;
        let entry = Entry {
            entry_id: ProviderTransactionId::parse(format!("ent_{}", self.entries.len() + 1))
                .expect("ent_<n> is a valid id"),
            wallet_id: id,
            direction: asked.direction,
            amount: asked.amount.to_string(),
            balance: after.to_string(),
            idempotency_key: asked.key.clone(),
            booked_at,
        };
        self.by_key.insert(asked.key, self.entries.len());
        self.entries.push(entry.clone());
        Ok((entry, true))
    }

    /// Up to `limit` entries whose key starts with `prefix`, from position
    /// `from` on, and the position to go on from if more match.
    pub(super) fn search(&self, prefix: &str, limit: usize, from: usize) -> (Vec<Entry>, Option<usize>) {
        let mut matching = self
            .entries
            .iter()
            .enumerate()
            .skip(from)
            .filter(|(_, entry)| entry.idempotency_key.as_str().starts_with(prefix));
        let page: Vec<(usize, &Entry)> = matching.by_ref().take(limit).collect();
        let next = match (page.last(), matching.next()) {
            (Some((last, _)), Some(_)) => Some(last + 1),
            _ => None,
        };
        (page.into_iter().map(|(_, entry)| entry.clone()).collect(), next)
    }

    /// The id of an existing wallet; an id that is not even well-formed names none.
    fn wallet_id(&self, raw: &str) -> Result<ProviderAccountId, ErrorCode> {
        ProviderAccountId::parse(raw).ok().filter(|id| self.wallets.contains_key(id)).ok_or(ErrorCode::WalletNotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(wallet: &str, key: &str, direction: Direction, amount: u64) -> EntryAsked {
        EntryAsked {
            wallet: wallet.into(),
            key: ProviderReference::parse(key).expect("valid key"),
            direction,
            amount: Points::new(amount).expect("valid amount"),
        }
    }

    fn owner(name: &str) -> HolderRef {
        HolderRef::parse(name).expect("valid owner")
    }

    #[test]
    fn opening_is_idempotent_by_owner() {
        let mut book = Book::default();
        let (first, opened) = book.open(owner("m1"));
        assert!(opened);
        let (again, opened) = book.open(owner("m1"));
        assert_eq!((again.id, opened), (first.id, false));
        assert_ne!(book.open(owner("m2")).0.id.as_str(), "wal_1");
    }

    #[test]
    fn the_key_is_checked_first_and_a_refusal_leaves_it_free() {
        let mut book = Book::default();
        let id = book.open(owner("m1")).0.id.to_string();
        assert_eq!(book.book(asked(&id, "k1", Direction::Debit, 5)).err(), Some(ErrorCode::InsufficientBalance));
        book.book(asked(&id, "fund", Direction::Credit, 5)).expect("credits");
        let (entry, new) = book.book(asked(&id, "k1", Direction::Debit, 5)).expect("the key was left free");
        assert!(new && entry.balance == "0");
        book.set_state(&id, WalletState::Suspended).expect("the wallet exists");
        let (replay, new) = book.book(asked(&id, "k1", Direction::Debit, 5)).expect("a replay answers the original");
        assert_eq!((replay.entry_id, new), (entry.entry_id, false));
        let other = book.book(asked(&id, "k1", Direction::Debit, 6));
        assert_eq!(other.err(), Some(ErrorCode::IdempotencyKeyReused));
        assert_eq!(book.book(asked(&id, "k2", Direction::Credit, 1)).err(), Some(ErrorCode::WalletNotOpen));
        assert_eq!(book.book(asked("wal_9", "k3", Direction::Credit, 1)).err(), Some(ErrorCode::WalletNotFound));
    }

    #[test]
    fn a_search_pages_through_the_keys_with_the_prefix() {
        let mut book = Book::default();
        let id = book.open(owner("m1")).0.id.to_string();
        for key in ["t1:debit", "t2:debit", "t1:debit:retry", "t1:debit:x"] {
            book.book(asked(&id, key, Direction::Credit, 1)).expect("credits");
        }
        let (page, next) = book.search("t1:debit", 2, 0);
        let keys: Vec<_> = page.iter().map(|entry| entry.idempotency_key.to_string()).collect();
        assert_eq!((keys, next), (vec!["t1:debit".to_owned(), "t1:debit:retry".to_owned()], Some(3)));
        let (page, next) = book.search("t1:debit", 2, 3);
        assert_eq!((page.len(), page[0].idempotency_key.as_str(), next), (1, "t1:debit:x", None));
        assert!(book.search("t3", 2, 0).0.is_empty());
    }
}
