//! `pointshare-simulate`: runs the saga simulation over many seeds.
//!
//! `SIM_SEEDS` (default 1,000) seeds from `SIM_FIRST_SEED` (default 0), or
//! exactly one with `SIM_SEED` (which also logs the run). Prints
//! `N seeds, 0 violations`; otherwise each violation with its seed and the
//! command that replays it, and exits 1.

use std::time::Instant;

use pointshare_domain::services::Fencing;

fn number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Err(_) => default,
        Ok(value) => value.trim().parse().unwrap_or_else(|_| {
            eprintln!("pointshare-simulate: {name}={value:?} is not a whole number");
            std::process::exit(2)
        }),
    }
}

fn main() {
    let (first, count) = match std::env::var("SIM_SEED") {
        Ok(_) => {
            tracing_subscriber::fmt()
                .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
                .with_writer(std::io::stderr)
                .init();
            (number("SIM_SEED", 0), 1)
        }
        Err(_) => (number("SIM_FIRST_SEED", 0), number("SIM_SEEDS", 1_000)),
    };
    let started = Instant::now();
    let seeds: Vec<u64> = (first..first.saturating_add(count)).collect();
    // Seeds are independent: one thread per core, each its own runtime.
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunks: Vec<Vec<u64>> =
        (0..threads).map(|t| seeds.iter().copied().skip(t).step_by(threads).collect()).collect();
    let outcomes: Vec<_> = std::thread::scope(|scope| {
        let running: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk.into_iter().map(|seed| pointshare_simulation::run(seed, Fencing::On)).collect::<Vec<_>>()
                })
            })
            .collect();
        running.into_iter().flat_map(|t| t.join().expect("a simulation thread panicked")).collect()
    });
    let mut violations = 0;
    let mut transfers = 0;
    let mut by_outcome = std::collections::BTreeMap::new();
    for outcome in &outcomes {
        transfers += outcome.transfers;
        for (kind_and_state, n) in &outcome.by_outcome {
            *by_outcome.entry(kind_and_state.as_str()).or_insert(0) += n;
        }
        for violation in &outcome.violations {
            violations += 1;
            println!("seed {}: {violation}", outcome.seed);
        }
        if !outcome.violations.is_empty() {
            println!("  replay: SIM_SEED={} scripts/simulate", outcome.seed);
        }
    }
    let states: Vec<String> = by_outcome.iter().map(|(outcome, n)| format!("{outcome} {n}")).collect();
    println!(
        "{} seeds, {violations} violations ({transfers} transfers: {}; {:.1} s)",
        outcomes.len(),
        states.join(", "),
        started.elapsed().as_secs_f64()
    );
    if violations > 0 {
        std::process::exit(1);
    }
}
