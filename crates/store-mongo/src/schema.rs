//! The store's schema version and the migrations that bring a database to it.
//!
//! One document, `schema/{_id: "pointshare"}`, says which migrations a
//! database has had (`version`) and the oldest binary that may run against it
//! (`oldest_reader`, a binary's `SCHEMA_VERSION`). A replica meets three
//! cases at start: the store is at its version or newer but still readable by
//! it (it serves), behind (it waits, unready, for `pointshare migrate`), or
//! newer than it can read (it refuses to run). Every migration is idempotent
//! and records itself only when done, so a migration cut short is run again
//! whole, and two runs at once do the same work twice, harmlessly.

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::options::{IndexOptions, UpdateOptions};
use mongodb::{Collection, IndexModel};

use crate::documents::{MemberDoc, bson_time, name_key};
use crate::{MongoStore, totals};

/// The schema this binary writes: the number of the last migration it knows.
pub const SCHEMA_VERSION: u32 = 3;

const SCHEMA_ID: &str = "pointshare";

/// One step of the schema. Rule for adding one (docs/operations.md,
/// *Upgrades*): the binary of the release before must still run against the
/// store after it, so `oldest_reader` stays below `version` unless a change
/// cannot be made readable to it, and then it ships over two releases.
struct Migration {
    version: u32,
    oldest_reader: u32,
    about: &'static str,
}

const MIGRATIONS: [Migration; SCHEMA_VERSION as usize] = [
    Migration { version: 1, oldest_reader: 1, about: "the indexes every query uses" },
    Migration {
        version: 2,
        oldest_reader: 1,
        about: "daily totals from before retention get the end of their day, so they expire",
    },
    Migration {
        version: 3,
        oldest_reader: 1,
        about: "members from before the admins' name search get their search key",
    },
];

/// Where a store's schema stands, as read from its `schema` document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaVersion {
    /// The last migration applied; 0 for a database that never had one.
    pub version: u32,
    /// The oldest binary schema that may run against it.
    pub oldest_reader: u32,
}

/// Why the store cannot be served as it is.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("MongoDB cannot be reached")]
    Unreachable(#[source] anyhow::Error),
    #[error(
        "the store is at schema version {stored} and this pointshare needs version {}: run `pointshare migrate`",
        SCHEMA_VERSION
    )]
    Behind { stored: u32 },
    #[error(
        "the store is at schema version {}, which a pointshare of schema version {} or later must serve; this one is of version {}",
        .stored.version, .stored.oldest_reader, SCHEMA_VERSION
    )]
    TooNew { stored: SchemaVersion },
    #[error("migrating the store")]
    Migration(#[source] anyhow::Error),
}

/// What `migrate` tells as it goes, for a progress bar or a log.
#[derive(Debug, Clone, Copy)]
pub enum MigrationStep<'a> {
    /// A migration begins; it visits `total` documents (0: it visits none).
    Began { version: u32, about: &'a str, total: u64 },
    /// One more document of the current migration visited.
    Advanced,
    /// The store is at `version` now.
    Finished { version: u32 },
}

pub type MigrationProgress<'a> = &'a (dyn Fn(MigrationStep<'_>) + Sync);

/// What one `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub from: u32,
    pub to: u32,
}

impl MongoStore {
    /// The schema document, or version 0 where there is none.
    pub async fn schema_version(&self) -> anyhow::Result<SchemaVersion> {
        let found = self.schema().find_one(doc! {"_id": SCHEMA_ID}).await?;
        let number = |doc: &Document, field: &str| {
            doc.get_i32(field).ok().and_then(|n| u32::try_from(n).ok()).unwrap_or_default()
        };
        Ok(found.map_or(SchemaVersion { version: 0, oldest_reader: 0 }, |doc| SchemaVersion {
            version: number(&doc, "version"),
            oldest_reader: number(&doc, "oldest_reader"),
        }))
    }

    /// Whether this binary may serve the store as it stands.
    pub(crate) async fn check_schema(&self) -> Result<(), PrepareError> {
        let stored = self.schema_version().await.map_err(PrepareError::Unreachable)?;
        if stored.oldest_reader > SCHEMA_VERSION {
            return Err(PrepareError::TooNew { stored });
        }
        if stored.version < SCHEMA_VERSION {
            return Err(PrepareError::Behind { stored: stored.version });
        }
        if stored.version > SCHEMA_VERSION {
            tracing::warn!(
                store = stored.version,
                binary = SCHEMA_VERSION,
                "the store's schema is newer than this binary's, and still readable by it (a rollback?)"
            );
        }
        Ok(())
    }

    /// Applies every migration the store lacks, in order, then the retention
    /// periods (settings, applied at every run). Refuses a store this binary
    /// cannot read.
    pub async fn migrate(&self, progress: MigrationProgress<'_>) -> Result<Migrated, PrepareError> {
        self.ping().await.map_err(PrepareError::Unreachable)?;
        let stored = self.schema_version().await.map_err(PrepareError::Unreachable)?;
        if stored.oldest_reader > SCHEMA_VERSION {
            return Err(PrepareError::TooNew { stored });
        }
        for migration in MIGRATIONS.iter().filter(|m| m.version > stored.version) {
            self.apply(migration, progress).await.map_err(PrepareError::Migration)?;
            self.record(migration).await.map_err(PrepareError::Migration)?;
            progress(MigrationStep::Finished { version: migration.version });
        }
        self.apply_retention().await.map_err(PrepareError::Migration)?;
        self.mark_prepared();
        Ok(Migrated { from: stored.version, to: stored.version.max(SCHEMA_VERSION) })
    }

    async fn apply(&self, migration: &Migration, progress: MigrationProgress<'_>) -> anyhow::Result<()> {
        let began =
            |total| progress(MigrationStep::Began { version: migration.version, about: migration.about, total });
        match migration.version {
            1 => {
                began(0);
                self.create_indexes().await
            }
            2 => {
                let totals: Collection<Document> = self.database.collection("daily_totals");
                let lacking = doc! {totals::DAY_ENDS: {"$exists": false}};
                began(totals.count_documents(lacking.clone()).await?);
                let mut cursor = totals.find(lacking).projection(doc! {"_id": 1}).await?;
                while let Some(total) = cursor.try_next().await? {
                    let id = total.get_str("_id").unwrap_or_default();
                    // The id ends with the day: "<sender>:<kind>:<YYYY-MM-DD>".
                    match id.rsplit(':').next().and_then(|day| day.parse().ok()) {
                        Some(day) => {
                            let ends = bson_time(totals::day_ends(day));
                            totals
                                .update_one(
                                    doc! {"_id": id, totals::DAY_ENDS: {"$exists": false}},
                                    doc! {"$set": {totals::DAY_ENDS: ends}},
                                )
                                .await?;
                        }
                        None => tracing::warn!(id, "a daily total whose id names no day: left to be kept"),
                    }
                    progress(MigrationStep::Advanced);
                }
                Ok(())
            }
            3 => {
                let members: Collection<MemberDoc> = self.database.collection("members");
                let lacking = doc! {"$or": [{"name_key": {"$exists": false}}, {"name_key": ""}]};
                began(members.count_documents(lacking.clone()).await?);
                let mut cursor = members.clone_with_type::<Document>().find(lacking).await?;
                while let Some(member) = cursor.try_next().await? {
                    let (Ok(id), Ok(name)) = (member.get_str("_id"), member.get_str("display_name")) else {
                        tracing::warn!("a member without an id or a display name: left as it is");
                        continue;
                    };
                    match pointshare_domain::DisplayName::parse(name) {
                        Ok(name) => {
                            members.update_one(doc! {"_id": id}, doc! {"$set": {"name_key": name_key(&name)}}).await?;
                        }
                        Err(error) => {
                            tracing::warn!(id, %error, "a member whose display name is not valid: left as it is")
                        }
                    }
                    progress(MigrationStep::Advanced);
                }
                Ok(())
            }
            version => anyhow::bail!("no migration to schema version {version}"),
        }
    }

    /// Records a migration as applied; never lowers what a newer binary recorded.
    async fn record(&self, migration: &Migration) -> anyhow::Result<()> {
        let version = i32::try_from(migration.version)?;
        let oldest_reader = i32::try_from(migration.oldest_reader)?;
        self.schema()
            .update_one(
                doc! {"_id": SCHEMA_ID},
                doc! {
                    "$max": {"version": version, "oldest_reader": oldest_reader},
                    "$set": {"migrated_at": bson_time(chrono::Utc::now()), "migrated_by": env!("CARGO_PKG_VERSION")},
                },
            )
            .with_options(UpdateOptions::builder().upsert(true).build())
            .await?;
        Ok(())
    }

    fn schema(&self) -> Collection<Document> {
        self.database.collection("schema")
    }

    /// The TTL indexes, at the periods the settings give now.
    async fn apply_retention(&self) -> anyhow::Result<()> {
        let retention = &self.retention;
        let collection = |name: &str| self.database.collection::<Document>(name);
        expire(&collection("sessions"), crate::SESSIONS_EXPIRE_INDEX, "expires_at", retention.sessions).await?;
        expire(&collection("daily_totals"), totals::EXPIRE_INDEX, totals::DAY_ENDS, retention.daily_totals).await?;
        expire(&collection("outbox"), crate::OUTBOX_EXPIRE_INDEX, "sent_at", retention.sent_mail).await?;
        expire(
            &collection("account_tokens"),
            crate::account_tokens::EXPIRY_INDEX,
            "expires_at",
            retention.expired_links,
        )
        .await
    }
}

/// A TTL index `name` on `field`: documents go `after` the time it holds
/// (those without it stay). A period set before is replaced, so changing a
/// retention setting takes effect at the next `migrate`.
async fn expire(
    collection: &Collection<Document>,
    name: &str,
    field: &str,
    after: std::time::Duration,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let options = IndexOptions::builder().name(name.to_owned()).expire_after(after).build();
    let index = IndexModel::builder().keys(doc! {field: 1}).options(options).build();
    match collection.create_index(index.clone()).await {
        Ok(_) => Ok(()),
        Err(error) if options_conflict(&error) => {
            collection.drop_index(name).await.with_context(|| format!("replacing the index {name}"))?;
            collection.create_index(index).await.with_context(|| format!("replacing the index {name}"))?;
            Ok(())
        }
        Err(error) => Err(error).with_context(|| format!("creating the index {name}")),
    }
}

/// An index of that name exists with other options (code 85, IndexOptionsConflict).
fn options_conflict(error: &mongodb::error::Error) -> bool {
    matches!(&*error.kind, mongodb::error::ErrorKind::Command(command) if matches!(command.code, 85 | 86))
}
