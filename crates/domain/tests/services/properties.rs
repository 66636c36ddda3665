//! The saga's safety property: random concurrent transfers among a few
//! accounts, under random provider faults and deadlines, then recovery.
//! Whatever happens, no point is lost or minted and every transfer ends.

use chrono::TimeDelta;
use proptest::prelude::*;
use std::collections::HashMap;
use std::time::Duration;

use pointshare_domain::ports::Deadline;
use pointshare_domain::services::{ShareError, Submitted};
use pointshare_domain::{AccountStatus, Member, MovementKind, TransferState};
use pointshare_testkit::{RandomFaults, World};

use super::share;

#[derive(Debug, Clone)]
struct Scenario {
    balances: Vec<u64>,
    /// (sender index, recipient index, amount, request deadline in ms)
    transfers: Vec<(usize, usize, u64, u64)>,
    /// An account frozen at the provider from the start, to force refunds.
    frozen: Option<usize>,
    seed: u64,
    transient: f64,
    apply_then_timeout: f64,
    timeout_without_apply: f64,
    max_delay_ms: u64,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (2usize..=5)
        .prop_flat_map(|accounts| {
            (
                prop::collection::vec(0u64..300, accounts),
                prop::collection::vec((0..accounts, 0..accounts, 1u64..200, 50u64..5_000), 1..16),
                prop::option::of(0..accounts),
                any::<u64>(),
                0.0..0.3f64,
                0.0..0.2f64,
                0.0..0.2f64,
                0u64..2_000,
            )
        })
        .prop_map(|(balances, transfers, frozen, seed, transient, apply, lost, delay)| Scenario {
            balances,
            transfers: transfers.into_iter().filter(|(from, to, _, _)| from != to).collect(),
            frozen,
            seed,
            transient,
            apply_then_timeout: apply,
            timeout_without_apply: lost,
            max_delay_ms: delay,
        })
}

/// Outcome of one case, checked by the property.
struct Run {
    world: World,
    members: Vec<Member>,
    total_before: u128,
    answers: Vec<Result<Submitted, ShareError>>,
}

async fn run(scenario: Scenario) -> Run {
    let world = World::default();
    let mut members = Vec::new();
    for (i, balance) in scenario.balances.iter().enumerate() {
        members.push(world.member(&format!("member_{i}"), *balance).await);
    }
    if let Some(frozen) = scenario.frozen {
        world.provider.set_status(members[frozen].provider_account.as_ref().expect("account"), AccountStatus::Frozen);
    }
    let total_before = world.provider.ledger().summary().total_balance;
    world.provider.faults().randomize(
        scenario.seed,
        RandomFaults {
            transient: scenario.transient,
            apply_then_timeout: scenario.apply_then_timeout,
            timeout_without_apply: scenario.timeout_without_apply,
            max_delay: Duration::from_millis(scenario.max_delay_ms),
        },
    );
    let requests = scenario.transfers.iter().enumerate().map(|(i, (from, to, amount, deadline_ms))| {
        let command = share(&members[*from], &members[*to], *amount, &format!("key-{i}"));
        let deadline = Deadline::after(Duration::from_millis(*deadline_ms));
        world.transfer_service.share(command, deadline)
    });
    let answers = futures::future::join_all(requests).await;

    // Recovery under the same faults for a while, then with a healthy provider.
    for pass in 0..12 {
        if pass == 6 {
            world.provider.faults().heal();
        }
        world.clock.advance(TimeDelta::minutes(2));
        world.recovery.run_once().await.expect("in-memory store never fails");
    }
    Run { world, members, total_before, answers }
}

fn check(run: &Run) -> Result<(), TestCaseError> {
    let ledger = run.world.provider.ledger();
    prop_assert_eq!(ledger.summary().total_balance, run.total_before, "points were lost or minted");

    let transactions = ledger.transactions();
    let mut by_reference: HashMap<String, Vec<_>> = HashMap::new();
    for t in &transactions {
        by_reference.entry(t.reference.to_string()).or_default().push(t);
    }
    prop_assert!(by_reference.values().all(|ts| ts.len() == 1), "a reference was applied twice");

    for transfer in run.world.transfers.all() {
        prop_assert!(transfer.state.is_terminal(), "transfer {} ended {:?}", transfer.id, transfer.state);
        let applied = |reference: String, kind: MovementKind| {
            by_reference
                .get(&reference)
                .and_then(|ts| ts.first())
                .filter(|t| t.kind == kind)
                .map(|t| (t.account_id.clone(), t.amount))
        };
        let debit = applied(transfer.debit_reference().to_string(), MovementKind::Debit);
        let credit = applied(transfer.credit_reference().to_string(), MovementKind::Credit);
        let sender = transfer.sender_account.clone().map(|a| (a, transfer.amount));
        let recipient = transfer.recipient_account.clone().map(|a| (a, transfer.amount));
        match transfer.state {
            TransferState::Completed => {
                prop_assert_eq!(&debit, &sender);
                prop_assert_eq!(&credit, &recipient);
            }
            TransferState::Reversed => {
                prop_assert_eq!(&debit, &sender);
                prop_assert_eq!(&credit, &sender, "the refund, under the credit's reference");
            }
            TransferState::Rejected => {
                prop_assert_eq!(debit, None);
                prop_assert_eq!(credit, None);
            }
            other => prop_assert!(false, "non-terminal {:?}", other),
        }
    }

    // Each balance is exactly what its movements add up to (funding included).
    for member in &run.members {
        let account = member.provider_account.as_ref().expect("account");
        let moved: i128 = transactions
            .iter()
            .filter(|t| &t.account_id == account)
            .map(|t| match t.kind {
                MovementKind::Credit => i128::from(t.amount.get()),
                MovementKind::Debit => -i128::from(t.amount.get()),
            })
            .sum();
        let balance = ledger.account(account).expect("exists").balance;
        prop_assert_eq!(i128::from(balance), moved, "balance of {} disagrees with its movements", account);
    }

    // What the caller was told never contradicts how the transfer ended.
    for answer in &run.answers {
        let told = match answer {
            Ok(transfer) => transfer,
            Err(ShareError::Declined(transfer)) => transfer,
            Err(_) => continue,
        };
        let stored = run.world.transfers.all().into_iter().find(|t| t.id == told.id).expect("recorded");
        if told.state.is_terminal() {
            prop_assert_eq!(stored.state, told.state);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_point_is_lost_or_minted_and_every_transfer_ends(scenario in scenario()) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let outcome = runtime.block_on(run(scenario));
        check(&outcome)?;
    }
}
