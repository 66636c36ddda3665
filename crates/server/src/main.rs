//! `pointshare`: serves the API. With no configuration it runs the whole
//! product in one process (in-memory stores, an in-process provider
//! simulator, demo members) and prints where to go. Its subcommands are the
//! operator's: `migrate`, `reconcile`, `transfers resolve`,
//! `admin promote|demote|…` and `audit verify`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;
use pointshare_domain::{Authority, OperatorName, Reason, Resolution};
use pointshare_server::commands::{admin, audit, migrate, reconcile, resolve};
use pointshare_server::{Application, Settings, settings, telemetry};
use pointshare_store_mongo::PrepareError;

/// mimalloc gives freed memory back to the system soon after; the system
/// allocator kept hundreds of MB after bursts of password hashing (each
/// argon2 hash takes ~19 MiB) and under load.
#[global_allocator]
static ALLOCATOR: MiMalloc = MiMalloc;

#[derive(Debug, Parser)]
#[command(version, about = "The pointshare REST API server.", after_help = settings::help())]
struct Cli {
    /// A TOML file of settings, in sections (each setting's [section] and key are below, in parentheses).
    #[arg(long, env = "POINTSHARE_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Bring the configured store (POINTSHARE_MONGODB_URI) to this binary's
    /// schema: indexes, backfills, retention periods. Run once per release,
    /// before its replicas (which wait unready until it is done); safe to run
    /// again. Exits 0 when done, 2 if it could not run or the store is of a
    /// newer schema than this binary can serve.
    Migrate,
    /// Compare the transfer records created in a window with the provider's
    /// transactions by reference; exits 1 if any transfer is unfinished or
    /// disagrees, 2 if it could not run. Transfers young enough to be in
    /// flight are left to the next run unless --until says otherwise.
    /// Needs POINTSHARE_MONGODB_URI and POINTSHARE_PROVIDER_URL.
    Reconcile {
        /// Only transfers created at or after this: a time (2026-12-01T00:00:00Z),
        /// a UTC day (2026-12-01) or a span before now (2d, 36h). Default: the first.
        #[arg(long, value_parser = reconcile::Moment::parse)]
        since: Option<reconcile::Moment>,
        /// Only transfers created before this (same forms, or now). Default:
        /// recovery's lease plus the provider's in-flight window ago.
        #[arg(long, value_parser = reconcile::Moment::parse)]
        until: Option<reconcile::Moment>,
        /// First drive unfinished transfers to a terminal state (recovery passes, same references).
        #[arg(long)]
        repair: bool,
        /// How long --repair keeps at it.
        #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
        repair_for: std::time::Duration,
        /// Transfers checked at once (one provider lookup in flight each): mind the
        /// provider's rate limit.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
        concurrency: u16,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Act on transfers in the configured store (POINTSHARE_MONGODB_URI) and
    /// provider (POINTSHARE_PROVIDER_URL).
    Transfers {
        #[command(subcommand)]
        action: TransfersAction,
    },
    /// Read the audit log of the configured store (POINTSHARE_MONGODB_URI).
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Change a member's role or status in the configured store
    /// (POINTSHARE_MONGODB_URI), recorded in its audit log as
    /// operator:<operator>. Exits 1 if no member has the email or the change
    /// is refused (the last active admin), 2 if the store cannot be reached.
    Admin {
        #[command(subcommand)]
        action: AdminAction,
        /// Who decided, for the audit log; $USER by default.
        #[arg(long, env = "USER", default_value = "operator", global = true)]
        operator: String,
        /// Why, for the audit log.
        #[arg(long, global = true)]
        reason: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TransfersAction {
    /// End a transfer in needs_review: --refund gives the points back to the
    /// sender, --complete delivers them to the recipient. The provider is
    /// asked first; a decision it rules out is refused. Exits 0 when done (or
    /// already done), 1 when refused, 2 when it could not run.
    Resolve {
        /// The transfer's id (as the API and `pointshare reconcile` show it).
        id: String,
        #[arg(long, conflicts_with = "complete", required_unless_present = "complete")]
        refund: bool,
        #[arg(long)]
        complete: bool,
        /// Who decided, for the log, the lease owner and the audit log; $USER by default.
        #[arg(long, env = "USER", default_value = "operator")]
        operator: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk the hash chain from the first record: exits 0 when every record
    /// follows the one before, 1 naming the first that does not, 2 if it
    /// could not run.
    Verify,
}

#[derive(Debug, Subcommand)]
enum AdminAction {
    /// Make the member with this email an admin.
    Promote { email: String },
    /// Make the admin with this email a plain member again.
    Demote { email: String },
    /// Stop the member with this email from logging in or using any token.
    Suspend { email: String },
    /// Let a suspended member back in.
    Reinstate { email: String },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("pointshare: {error}");
            std::process::exit(2);
        }
    };
    // Kept to the end of main: dropping it sends the last spans.
    let _traces = match telemetry::init(&settings.tracing) {
        Ok(traces) => traces,
        Err(error) => {
            eprintln!("pointshare: {error:#}");
            std::process::exit(2);
        }
    };
    for variable in settings::unknown_variables() {
        tracing::warn!(%variable, "not a pointshare setting; ignored");
    }
    // Each request in flight holds a socket, and each provider call another.
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%error, "could not raise the open-files limit");
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            if let Err(error) = settings.validate_for_serving() {
                eprintln!("pointshare: {error}");
                std::process::exit(2);
            }
            match actix_web::rt::System::new().block_on(serve(settings)) {
                Err(error) if refuses_store(&error) => {
                    eprintln!("pointshare: {error:#}");
                    std::process::exit(2);
                }
                served => served,
            }
        }
        Command::Migrate => match actix_web::rt::System::new().block_on(migrate::run(&settings)) {
            Ok(migrated) => {
                println!("{}", migrate::said(&migrated));
                Ok(())
            }
            Err(error) => {
                eprintln!("pointshare migrate: {error:#}");
                std::process::exit(2);
            }
        },
        Command::Reconcile { since, until, repair, repair_for, concurrency, json } => {
            let options =
                reconcile::Options { repair, repair_for, concurrency: usize::from(concurrency), since, until };
            let report = match actix_web::rt::System::new().block_on(reconcile::run(settings, options)) {
                Ok(report) => report,
                Err(error) => {
                    eprintln!("pointshare reconcile: {error:#}");
                    std::process::exit(2);
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.table());
            }
            if !report.is_clean() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Transfers { action: TransfersAction::Resolve { id, refund, complete: _, operator, reason } } => {
            let resolution = if refund { Resolution::Refund } else { Resolution::Complete };
            let by = match operator_authority(&operator, reason.as_deref()) {
                Ok(by) => by,
                Err(error) => {
                    eprintln!("pointshare transfers resolve: {error}");
                    std::process::exit(2);
                }
            };
            match actix_web::rt::System::new().block_on(resolve::run(settings, &id, resolution, &by)) {
                Ok(done) => {
                    println!("{done}");
                    Ok(())
                }
                Err(error) => {
                    eprintln!("pointshare transfers resolve: {error}");
                    std::process::exit(error.exit_code());
                }
            }
        }
        Command::Audit { action: AuditCommand::Verify } => {
            match actix_web::rt::System::new().block_on(audit::verify(settings)) {
                Ok(report) => {
                    println!("{}", audit::said(&report));
                    if report.first_break.is_some() {
                        std::process::exit(1);
                    }
                    Ok(())
                }
                Err(error) => {
                    eprintln!("pointshare audit verify: {error:#}");
                    std::process::exit(2);
                }
            }
        }
        Command::Admin { action, operator, reason } => {
            let (email, action) = match action {
                AdminAction::Promote { email } => (email, admin::Action::Promote),
                AdminAction::Demote { email } => (email, admin::Action::Demote),
                AdminAction::Suspend { email } => (email, admin::Action::Suspend),
                AdminAction::Reinstate { email } => (email, admin::Action::Reinstate),
            };
            let by = match operator_authority(&operator, reason.as_deref()) {
                Ok(by) => by,
                Err(error) => {
                    eprintln!("pointshare admin: {error}");
                    std::process::exit(2);
                }
            };
            match actix_web::rt::System::new().block_on(admin::run(settings, &email, action, &by)) {
                Ok(done) => {
                    println!("{done}");
                    Ok(())
                }
                Err(error) => {
                    eprintln!("pointshare admin: {error}");
                    std::process::exit(error.exit_code());
                }
            }
        }
    }
}

/// Whether serving stopped on a store this binary must not serve: exit 2,
/// as for any setting it cannot run with, so an orchestrator shows it plainly.
fn refuses_store(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| matches!(cause.downcast_ref(), Some(PrepareError::TooNew { .. })))
}

/// An operator at this command line, as the audit log names them.
fn operator_authority(operator: &str, reason: Option<&str>) -> anyhow::Result<Authority> {
    let name = OperatorName::parse(operator).map_err(|error| anyhow::anyhow!("--operator {operator:?}: {error}"))?;
    let reason = reason.map(Reason::parse).transpose().map_err(|error| anyhow::anyhow!("--reason: {error}"))?;
    Ok(Authority::operator(name, reason))
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let application = Application::build(settings).await?;
    let url = format!("http://127.0.0.1:{}", application.port());
    tracing::info!(%url, "pointshare serving");
    let internal = format!("http://127.0.0.1:{}", application.internal_port());
    println!("pointshare is serving at {url}  (API docs: {url}/docs/; metrics: {internal}/metrics)");
    if let Some(provider) = application.embedded_provider_url() {
        println!("embedded provider simulator at {provider}");
    }
    for member in application.demo_members() {
        let role = if member.admin { "admin " } else { "member" };
        println!("demo {role} {:<24} password {:<16} handle {}", member.email, member.password, member.handle);
    }
    application.run_until_stopped().await
}
