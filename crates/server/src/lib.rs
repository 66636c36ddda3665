//! The pointshare server: the member-facing REST API over the domain, with
//! auth, problem+json errors, OpenAPI, health and graceful shutdown; and an
//! internal listener for metrics and detailed readiness.
//!
//! `Application::build` wires everything from `Settings` and binds both
//! listeners; `run_until_stopped` serves until SIGINT or SIGTERM, then drains.
//! Tests build one on port 0 and talk to it over HTTP like any client.
//!
//! The one crate that knows every adapter; it depends on the test kit only in its tests.

mod admission;
pub mod auth;
mod bootstrap;
mod client_address;
pub mod commands;
mod cors;
mod demo;
mod endpoints;
mod headers;
pub mod problem;
mod rate_limits;
mod routes;
mod secrets;
pub mod settings;
mod streams;
pub mod telemetry;
mod traces;
mod wiring;
mod workers;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpServer, middleware, web};
use anyhow::Context;
use pointshare_store_mongo::PrepareError;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use demo::DemoMember;
pub use routes::ApiDoc;
pub use settings::Settings;

use crate::problem::ApiError;

pub struct Application {
    port: u16,
    internal_port: u16,
    server: Server,
    internal: Server,
    wired: wiring::Wired,
    demo: Vec<DemoMember>,
    /// Set when the store, reached after start, turned out to be one this
    /// binary must not serve: the server stops, and `run_until_stopped` says why.
    refused: Arc<Mutex<Option<PrepareError>>>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application").field("port", &self.port).finish_non_exhaustive()
    }
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        settings.validate_for_serving()?;
        let metrics = telemetry::metrics()?;
        let listener = TcpListener::bind(settings.http.bind)
            .with_context(|| format!("binding POINTSHARE_BIND {}", settings.http.bind))?;
        let internal_listener = TcpListener::bind(settings.http.internal_bind)
            .with_context(|| format!("binding POINTSHARE_INTERNAL_BIND {}", settings.http.internal_bind))?;
        let port = listener.local_addr()?.port();
        let internal_port = internal_listener.local_addr()?.port();
        let wired = wiring::wire(settings, wiring::Reach::WhenTheyAnswer).await?;
        let refused = Arc::new(Mutex::new(None));
        let refusal = CancellationToken::new();
        if wired.state.backends.store.is_prepared() {
            bootstrap::admin(&wired.state).await?;
        } else {
            // The bootstrap admin is made once the store answers.
            let state = wired.state.clone();
            let (refused, refusal) = (refused.clone(), refusal.clone());
            tokio::spawn(async move {
                match state.backends.store.prepare_until_ready().await {
                    Ok(()) => {
                        if let Err(error) = bootstrap::admin(&state).await {
                            tracing::error!(error = format!("{error:#}"), "could not create the bootstrap admin");
                        }
                    }
                    Err(error) => {
                        tracing::error!(%error, "stopping: this binary must not serve the store");
                        *refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
                        refusal.cancel();
                    }
                }
            });
        }
        let settings = &wired.state.settings;
        let demo = if settings.seeds_demo_members() { demo::seed(&wired.state).await? } else { Vec::new() };
        if settings.is_fully_embedded() && settings.embedded.demo_members.is_none() && demo.is_empty() {
            tracing::warn!(
                bind = %settings.http.bind,
                "no demo members: the API listens beyond loopback, where a published password would guard an admin; POINTSHARE_DEMO_MEMBERS=true seeds them anyway"
            );
        }

        let state = web::Data::new(Arc::clone(&wired.state));
        let metrics = web::Data::new(metrics);
        let body_limit = wired.state.settings.http.body_limit;
        let openapi = ApiDoc::openapi();
        let endpoints = web::Data::new(endpoints::Endpoints::of(&openapi));
        let schemas = web::Data::new(routes::Schemas::of(&openapi)?);
        let stopping = wired.state.stopping.clone();
        let internal_state = state.clone();
        // Not behind the request middleware: scrapes and probes are not API traffic.
        let internal = HttpServer::new(move || {
            App::new()
                .app_data(internal_state.clone())
                .app_data(metrics.clone())
                .configure(routes::configure_internal)
                .default_service(web::to(unmatched))
        })
        .workers(1)
        .listen(internal_listener)?
        .disable_signals()
        .run();
        let origins = wired.state.settings.cors_origins();
        let admission = web::Data::new(admission::Admission::new(&wired.state.settings.admission));
        // For the request log line (telemetry::observe), which reads no other state.
        let clients = web::Data::new(wired.state.clients.clone());
        let server = HttpServer::new(move || {
            App::new()
                // gzip or brotli, as the client's Accept-Encoding asks.
                .wrap(middleware::Compress::default())
                .wrap(middleware::from_fn(rate_limits::headers))
                // Inside the telemetry: a refusal is counted and logged like any answer.
                .wrap(middleware::from_fn(admission::admit))
                .wrap(middleware::from_fn(telemetry::observe))
                // Outermost: a preflight is answered before anything else runs.
                .wrap(cors::policy(&origins))
                .wrap(middleware::from_fn(cors::refusals_as_problems))
                .app_data(state.clone())
                .app_data(clients.clone())
                .app_data(admission.clone())
                .app_data(endpoints.clone())
                .app_data(schemas.clone())
                .app_data(web::JsonConfig::default().limit(body_limit).error_handler(problem::json_error))
                .app_data(web::PayloadConfig::default().limit(body_limit))
                .app_data(web::QueryConfig::default().error_handler(problem::query_error))
                .app_data(web::PathConfig::default().error_handler(problem::path_error))
                .configure(routes::configure)
                .service(web::redirect("/docs", "/docs/"))
                .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.clone()).config(
                    // The token a reader authorized with survives a reload; operation ids match generated clients.
                    utoipa_swagger_ui::Config::default().persist_authorization(true).display_operation_id(true),
                ))
                .default_service(web::to(unmatched))
        })
        // A client that closes its side is gone: an event stream it held ends
        // (and frees its member's slot) then, not at the next heartbeat's
        // failed write. No client of this API half-closes to await an answer.
        .h1_allow_half_closed(false)
        .listen(listener)?
        .shutdown_timeout(wired.state.settings.http.shutdown_grace.as_secs())
        .shutdown_signal(async move {
            tokio::select! {
                () = stop_requested() => {}
                () = refusal.cancelled() => {}
            }
            // Event streams never end by themselves; the drain would wait them out.
            stopping.cancel();
        })
        .run();
        Ok(Application { port, internal_port, server, internal, wired, demo, refused })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where `/metrics` and the detailed `/readyz` are served.
    pub fn internal_port(&self) -> u16 {
        self.internal_port
    }

    /// The demo members of the fully embedded default, for the start-up banner and tests.
    pub fn demo_members(&self) -> &[DemoMember] {
        &self.demo
    }

    /// Where the embedded provider simulator listens, if this process runs one.
    pub fn embedded_provider_url(&self) -> Option<String> {
        self.wired.simulator.as_ref().map(|sim| sim.base_url())
    }

    /// Serves until SIGINT or SIGTERM, then stops accepting, ends event
    /// streams, lets requests in flight, the workers' passes and the
    /// follow-ups under way finish within the grace period,
    /// and stops the embedded provider last, once nothing calls it.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let workers = [workers::recovery(&self.wired.state), workers::mail(&self.wired.state)];
        let internal = self.internal.handle();
        let grace = self.wired.state.settings.http.shutdown_grace;
        // The internal listener outlives the API's drain, so the drain can be watched.
        let api = async {
            let served = self.server.await;
            let finished = futures::future::join_all(workers.map(|worker| worker.finish(grace)));
            futures::future::join(finished, self.wired.state.followups.stop(grace)).await;
            internal.stop(true).await;
            served
        };
        let (served, internal_served) = futures::future::join(api, self.internal).await;
        internal_served?;
        if let Some(simulator) = self.wired.simulator {
            simulator.shutdown().await?;
        }
        if let Some(refusal) = self.refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take() {
            return Err(refusal.into());
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
        let endpoints = request.app_data::<web::Data<endpoints::Endpoints>>();
        let allow = endpoints.and_then(|endpoints| endpoints.allow(request.path()));
        // The paths outside the API's document (its JSON, the docs page) are read-only.
        problem::method_not_allowed(allow.unwrap_or("GET"))
    } else {
        problem::unknown_route()
    })
}
