//! Before the clock starts: the members the load acts as exist, are logged
//! in, and hold enough points that shares measure the service, not refusals.
//! Running again against the same server reuses them.

use anyhow::Context;
use futures::{StreamExt, TryStreamExt};

use crate::api::{Api, Member};

#[derive(Debug, Clone)]
pub struct SetupSettings {
    pub members: usize,
    pub password: String,
    pub admin_email: String,
    pub admin_password: String,
    /// Each member is topped up to at least half this, by a grant of this.
    pub funding: u64,
    /// Where set-up keeps the members and their tokens: read when present
    /// (no set-up at all), written after a set-up. Lets a benchmark prepare
    /// once, then measure runs that do nothing but the load.
    pub members_file: Option<std::path::PathBuf>,
}

/// How many set-up calls run at once.
const SETUP_CONCURRENCY: usize = 16;

pub async fn prepare(api: &Api, settings: &SetupSettings) -> anyhow::Result<Vec<Member>> {
    if let Some(path) = &settings.members_file
        && path.exists()
    {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let members: Vec<Member> =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        anyhow::ensure!(
            members.len() >= settings.members,
            "{} holds fewer than {} members",
            path.display(),
            settings.members
        );
        return Ok(members.into_iter().take(settings.members).collect());
    }
    let members = set_up(api, settings).await?;
    if let Some(path) = &settings.members_file {
        std::fs::write(path, serde_json::to_string(&members)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(members)
}

async fn set_up(api: &Api, settings: &SetupSettings) -> anyhow::Result<Vec<Member>> {
    let admin = api.login(&settings.admin_email, &settings.admin_password).await?.with_context(|| {
        format!("the admin {} could not log in: check --admin-email/--admin-password", settings.admin_email)
    })?;
    futures::stream::iter(0..settings.members)
        .map(|n| member(api, settings, &admin, n))
        .buffered(SETUP_CONCURRENCY)
        .try_collect()
        .await
}

async fn member(api: &Api, settings: &SetupSettings, admin: &str, n: usize) -> anyhow::Result<Member> {
    let handle = format!("load_{n}");
    let email = format!("{handle}@loadgen.test");
    let token = match api.login(&email, &settings.password).await? {
        Some(token) => token,
        None => {
            api.signup(&email, &settings.password, &handle).await?;
            api.login(&email, &settings.password)
                .await?
                .with_context(|| format!("{email} cannot log in after signup: is it taken, with another password?"))?
        }
    };
    if api.balance(&token).await? < settings.funding / 2 {
        let key = format!("loadgen-funding-{}", uuid::Uuid::new_v4());
        api.grant(admin, &handle, settings.funding, &key).await?;
    }
    Ok(Member { handle, token })
}
