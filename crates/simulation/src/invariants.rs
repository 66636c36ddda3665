//! What must hold once a run has drained, whatever happened in it.

use std::collections::{BTreeMap, HashSet};

use pointshare_domain::services::TransferLimits;
use pointshare_domain::{
    Legs, MovementKind, ProviderAccountId, ProviderReference, ProviderTransaction, Transfer, TransferKind,
    TransferState,
};
use pointshare_testkit::Ledger;

fn is(found: &ProviderTransaction, account: &ProviderAccountId, kind: MovementKind, transfer: &Transfer) -> bool {
    &found.account_id == account && found.kind == kind && found.amount == transfer.amount
}

/// Every broken invariant, one line each; empty when the run was correct.
pub fn check(ledger: &Ledger, transfers: &[Transfer], funded: u128, limits: &TransferLimits) -> Vec<String> {
    let mut violations = Vec::new();
    let mut ours = HashSet::new();
    let mut granted = 0u128;
    let mut withdrawn = 0u128;
    let mut held_in_review = 0i128;
    // What reversals that did not give up hold of each transfer they undo.
    let mut reversed: BTreeMap<_, u64> = BTreeMap::new();
    let mut shared_per_day: BTreeMap<_, u64> = BTreeMap::new();
    for transfer in transfers {
        let id = transfer.id;
        let refund_reference = ProviderReference::parse(format!("{id}:refund")).expect("a valid reference");
        let [debit, credit, refund] =
            [transfer.debit_reference(), transfer.credit_reference(), refund_reference].map(|reference| {
                ours.insert(reference.clone());
                ledger.transaction(&reference)
            });
        let amount = transfer.amount;
        let nobody = ProviderAccountId::parse("nobody").expect("a valid account id");
        let sender_account = transfer.sender_account.clone().unwrap_or_else(|| nobody.clone());
        let recipient_account = transfer.recipient_account.clone().unwrap_or(nobody);
        let recipient = |t: &ProviderTransaction| is(t, &recipient_account, MovementKind::Credit, transfer);
        let sender_debit = |t: &ProviderTransaction| is(t, &sender_account, MovementKind::Debit, transfer);
        let sender_credit = |t: &ProviderTransaction| is(t, &sender_account, MovementKind::Credit, transfer);
        let gave_back = |t: &Option<ProviderTransaction>| t.as_ref().is_some_and(&sender_credit);
        let state = transfer.state;
        let ok = match (transfer.kind.legs(), state) {
            (_, TransferState::NeedsReview) => true,
            (_, state) if !state.is_terminal() => {
                violations.push(format!("transfer {id} is still {} after the drain", state.as_str()));
                continue;
            }
            (Legs::CreditOnly, TransferState::Completed) => credit.as_ref().is_some_and(&recipient) && debit.is_none(),
            (Legs::CreditOnly, _) => credit.is_none() && debit.is_none(),
            (Legs::DebitOnly, TransferState::Completed) => {
                debit.as_ref().is_some_and(&sender_debit) && credit.is_none() && refund.is_none()
            }
            (Legs::DebitOnly, _) => debit.is_none() && credit.is_none() && refund.is_none(),
            (Legs::DebitThenCredit, TransferState::Completed) => {
                debit.as_ref().is_some_and(&sender_debit) && credit.as_ref().is_some_and(&recipient) && refund.is_none()
            }
            (Legs::DebitThenCredit, TransferState::Reversed) => {
                debit.as_ref().is_some_and(&sender_debit)
                    && (gave_back(&credit) ^ gave_back(&refund))
                    && credit.as_ref().is_none_or(&sender_credit)
                    && refund.as_ref().is_none_or(&sender_credit)
            }
            (Legs::DebitThenCredit, _) => debit.is_none() && credit.is_none() && refund.is_none(),
        };
        if !ok {
            violations.push(format!(
                "{} {id} is {} for {amount} but the provider holds debit {:?}, credit {:?}, refund {:?}",
                transfer.kind.as_str(),
                state.as_str(),
                debit.as_ref().map(|t| (&t.account_id, t.amount)),
                credit.as_ref().map(|t| (&t.account_id, t.amount)),
                refund.as_ref().map(|t| (&t.account_id, t.amount)),
            ));
        }
        match transfer.kind.legs() {
            Legs::CreditOnly => {
                granted += credit.as_ref().filter(|t| recipient(t)).map_or(0, |t| u128::from(t.amount.get()));
            }
            Legs::DebitOnly => {
                withdrawn += debit.as_ref().filter(|t| sender_debit(t)).map_or(0, |t| u128::from(t.amount.get()));
            }
            Legs::DebitThenCredit if state == TransferState::NeedsReview => {
                let out = debit.as_ref().map_or(0, |t| i128::from(t.amount.get()));
                let back = [&credit, &refund]
                    .iter()
                    .filter_map(|t| t.as_ref())
                    .map(|t| i128::from(t.amount.get()))
                    .sum::<i128>();
                held_in_review += out - back;
            }
            Legs::DebitThenCredit => {}
        }
        if state == TransferState::Completed && transfer.decline.is_some() {
            violations.push(format!(
                "{} {id} completed, yet says it was declined ({})",
                transfer.kind.as_str(),
                transfer.decline.map_or("", |d| d.as_str())
            ));
        }
        if let Some(original) = transfer.reverses
            && !matches!(state, TransferState::Rejected | TransferState::Reversed)
        {
            *reversed.entry(original).or_default() += amount.get();
        }
        if transfer.kind == TransferKind::Share
            && matches!(state, TransferState::Completed | TransferState::NeedsReview)
        {
            *shared_per_day.entry((transfer.sender, transfer.created_at.date_naive())).or_default() += amount.get();
        }
    }

    let total = i128::try_from(ledger.summary().total_balance).expect("fits");
    let expected =
        i128::try_from(funded + granted).expect("fits") - i128::try_from(withdrawn).expect("fits") - held_in_review;
    if total != expected {
        violations.push(format!(
            "points not conserved: the provider holds {total}, funding {funded} + completed grants {granted} - withdrawals {withdrawn} - held in review {held_in_review} = {expected}"
        ));
    }
    for (original, taken) in reversed {
        let undone = transfers.iter().find(|t| t.id == original);
        match undone {
            Some(undone) if taken <= undone.amount.get() && undone.reversed >= taken => {}
            Some(undone) => violations.push(format!(
                "transfer {original} of {} is reversed by {taken} (it records {} reversed)",
                undone.amount, undone.reversed
            )),
            None => violations.push(format!("reversals undo {original}, which no record holds")),
        }
    }
    for transaction in ledger.transactions() {
        let funding = transaction.reference.as_str().starts_with("funding:");
        if !funding && !ours.contains(&transaction.reference) {
            violations
                .push(format!("the provider applied {} under a reference no transfer has", transaction.reference));
        }
    }
    for ((sender, day), shared) in shared_per_day {
        if shared > limits.max_per_day {
            violations
                .push(format!("member {sender} shared {shared} on {day}, past the daily limit {}", limits.max_per_day));
        }
    }
    violations
}
