//! `pointshare migrate`: brings the configured store to this binary's schema
//! (indexes, backfills, retention periods), once per release and before its
//! replicas, which wait unready for it. Idempotent: a second run finds nothing
//! to do but the retention periods. Shows its progress on a terminal, a line
//! per migration otherwise (a Job's log).

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use pointshare_store_mongo::{Migrated, MigrationStep, MongoStore, PrepareError};

use crate::settings::Settings;

/// Migrates the store the settings name; errors when there is none to reach.
pub async fn run(settings: &Settings) -> anyhow::Result<Migrated> {
    let Some(mongo) = &settings.store else {
        anyhow::bail!(
            "POINTSHARE_MONGODB_URI is unset: an in-memory store is made at its schema and has nothing to migrate"
        );
    };
    let store = MongoStore::open(mongo, None).await.context("POINTSHARE_MONGODB_URI")?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} documents, {eta} left").expect("a valid template"),
    );
    let say = |line: String| if bar.is_hidden() { eprintln!("{line}") } else { bar.println(line) };
    let migrated = store
        .migrate(&|step| match step {
            MigrationStep::Began { version, about, total } => {
                say(format!("schema version {version}: {about}"));
                bar.reset();
                bar.set_length(total);
                bar.set_message(format!("version {version}"));
            }
            MigrationStep::Advanced => bar.inc(1),
            MigrationStep::Finished { version } => {
                bar.set_message(String::new());
                say(format!("schema version {version}: done, {} documents", bar.position()));
            }
        })
        .await;
    bar.finish_and_clear();
    migrated.map_err(|error| match error {
        PrepareError::Unreachable(_) => anyhow::Error::from(error).context("POINTSHARE_MONGODB_URI"),
        error => error.into(),
    })
}

/// What an operator reads of a run.
pub fn said(migrated: &Migrated) -> String {
    if migrated.from == migrated.to {
        format!("the store was already at schema version {}; retention periods applied", migrated.to)
    } else {
        format!("the store is at schema version {} (was {}); retention periods applied", migrated.to, migrated.from)
    }
}
