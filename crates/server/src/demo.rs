//! Demo members for the fully embedded default: an admin and two members
//! with points, so a fresh `pointshare` can be tried at once. Seeded only
//! when nothing real is configured (no store, cache or provider URL), so a
//! known password never guards a real account and no real points are
//! granted; and only on loopback unless asked for (`POINTSHARE_DEMO_MEMBERS`),
//! so a server reachable from elsewhere (a container binds 0.0.0.0) does not
//! hand anyone an admin with a published password. With a bootstrap admin
//! configured, that admin stands in for the demo one.

use std::time::Duration;

use anyhow::Context;
use pointshare_domain::ports::Deadline;
use pointshare_domain::services::{GrantCommand, SignupCommand, SignupError};
use pointshare_domain::{DisplayName, Email, Handle, IdempotencyKey, Memo, Origin, Password, Points};

use crate::wiring::AppState;

const ADMIN_EMAIL: &str = "admin@pointshare.test";

/// Points each demo member starts with.
const STARTING_POINTS: u64 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoMember {
    pub email: String,
    pub handle: String,
    pub password: String,
    pub admin: bool,
}

pub async fn seed(state: &AppState) -> anyhow::Result<Vec<DemoMember>> {
    let password = &state.settings.embedded.demo_password;
    let parsed = Password::parse(password.as_str()).context("POINTSHARE_DEMO_PASSWORD")?;
    let deadline = || Deadline::after(Duration::from_secs(30));
    let mut seeded = Vec::new();
    let bootstrap = state.settings.bootstrap_admin.admin()?.map(|admin| admin.email);
    let demo_admin = [("admin", ADMIN_EMAIL, true)].into_iter().filter(|_| bootstrap.is_none());
    let members = [("alice", "alice@pointshare.test", false), ("bob", "bob@pointshare.test", false)];
    for (handle, email, admin) in demo_admin.chain(members) {
        let command = SignupCommand {
            email: Email::parse(email)?,
            handle: Handle::parse(handle)?,
            display_name: DisplayName::parse(handle)?,
            password: parsed.clone(),
        };
        let enrolled = if admin {
            state.services.members.enrol_admin(command, deadline()).await
        } else {
            state.services.members.signup(command, deadline()).await
        };
        match enrolled {
            Ok(_) | Err(SignupError::EmailTaken) => {}
            Err(error) => return Err(error).with_context(|| format!("seeding the demo member {handle}")),
        }
        seeded.push(DemoMember { email: email.into(), handle: handle.into(), password: password.clone(), admin });
    }
    let granting = bootstrap.map_or_else(|| Email::parse(ADMIN_EMAIL), Ok)?;
    let admin = state.services.members.by_email(&granting).await?.context("the granting admin exists")?;
    for member in seeded.iter().filter(|member| !member.admin) {
        let grant = GrantCommand {
            admin: admin.id,
            to: Handle::parse(member.handle.as_str())?,
            amount: Points::new(STARTING_POINTS)?,
            reason: Some(Memo::parse("demo starting points")?),
            idempotency_key: IdempotencyKey::parse(format!("demo-funding-{}", member.handle))?,
            origin: Origin::default(),
        };
        state
            .services
            .transfers
            .grant(grant, deadline())
            .await
            .with_context(|| format!("funding {}", member.handle))?;
    }
    Ok(seeded)
}
