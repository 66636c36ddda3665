//! The pointshare server: the member-facing REST API over the domain, with
//! auth, problem+json errors, OpenAPI, health, metrics and graceful shutdown.
//!
//! `Application::build` wires everything from `Settings` and binds the
//! listener; `run_until_stopped` serves until SIGINT or SIGTERM, then drains.
//! Tests build one on port 0 and talk to it over HTTP like any client.

pub mod auth;
mod demo;
pub mod problem;
pub mod reconcile;
mod recovery;
mod routes;
pub mod settings;
pub mod telemetry;
mod wiring;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpServer, middleware, web};
use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use demo::DemoMember;
pub use routes::ApiDoc;
pub use settings::Settings;

use crate::problem::ApiError;

pub struct Application {
    port: u16,
    server: Server,
    wired: wiring::Wired,
    demo: Vec<DemoMember>,
    /// Turns true when a stop signal arrives, for the workers beside the server.
    stopping: watch::Receiver<bool>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let metrics = telemetry::metrics()?;
        let listener =
            TcpListener::bind(settings.bind).with_context(|| format!("binding POINTSHARE_BIND {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let wired = wiring::wire(settings).await?;
        let demo = if wired.in_memory { demo::seed(&wired.state).await? } else { Vec::new() };

        let state = web::Data::new(Arc::clone(&wired.state));
        let auth = web::Data::new(Arc::clone(&wired.auth));
        let metrics = web::Data::new(metrics);
        let body_limit = wired.state.settings.body_limit;
        let openapi = ApiDoc::openapi();
        let (stop, stopping) = watch::channel(false);
        let server = HttpServer::new(move || {
            App::new()
                .wrap(middleware::from_fn(telemetry::observe))
                .app_data(state.clone())
                .app_data(auth.clone())
                .app_data(metrics.clone())
                .app_data(web::JsonConfig::default().limit(body_limit).error_handler(problem::json_error))
                .app_data(web::PayloadConfig::default().limit(body_limit))
                .app_data(web::QueryConfig::default().error_handler(problem::query_error))
                .app_data(web::PathConfig::default().error_handler(problem::path_error))
                .configure(routes::configure)
                .service(web::redirect("/docs", "/docs/"))
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.clone()))
                .default_service(web::to(unmatched))
        })
        .listen(listener)?
        .shutdown_timeout(wired.state.settings.shutdown_grace.as_secs())
        .shutdown_signal(async move {
            stop_requested().await;
            let _ = stop.send(true);
        })
        .run();
        Ok(Application { port, server, wired, demo, stopping })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The demo members seeded into an in-memory store, for the start-up banner and tests.
    pub fn demo_members(&self) -> &[DemoMember] {
        &self.demo
    }

    /// Where the embedded provider simulator listens, if this process runs one.
    pub fn embedded_provider_url(&self) -> Option<String> {
        self.wired.simulator.as_ref().map(|sim| sim.base_url())
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting, lets requests in
    /// flight and the recovery pass under way finish within the grace period,
    /// and stops the embedded provider last, once nothing calls it.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let recovery = recovery::spawn(Arc::clone(&self.wired.state), self.stopping);
        let served = self.server.await;
        recovery.finish(self.wired.state.settings.shutdown_grace).await;
        if let Some(simulator) = self.wired.simulator {
            simulator.shutdown().await?;
        }
        Ok(served?)
    }
}

/// SIGINT (Ctrl-C) or SIGTERM (Kubernetes, systemd): both drain gracefully.
async fn stop_requested() {
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGTERM; stopping on SIGINT only");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    let signal = tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    };
    tracing::info!(signal, "stopping: no new connections; finishing the requests in flight");
}

/// No route matched: a known path with another method is a 405, else a 404.
async fn unmatched(request: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(if request.resource_map().has_resource(request.path()) {
        problem::method_not_allowed()
    } else {
        problem::unknown_route()
    })
}
