//! A simulator of LedgerAPI: the token endpoint, wallets, entries and the
//! entry search over an in-memory book, plus the sandbox's state control,
//! with latency, a rate limit and faults that tests script through
//! `Controls`.
//!
//! `start` serves it in-process on a listener; dropping the `RunningSim`
//! stops it.

mod api;
mod book;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use book::Book;
use url::Url;

use crate::LedgerApiSettings;

/// How the simulated LedgerAPI behaves. `Default` is a perfect provider: no
/// latency, no rate limit, tokens that last an hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    pub client_id: String,
    pub client_secret: String,
    /// How long a granted token is honoured (told to clients in whole seconds).
    pub token_lifetime: Duration,
    /// Added to every call but the sandbox's: half before it is served,
    /// half after, so a call cut short may or may not have been applied.
    pub latency: Duration,
    /// Calls served per second, over all endpoints, before answering 429
    /// with `Retry-After: 1`.
    pub rate_limit: Option<u32>,
    /// The most entries one search page holds, whatever `limit` asks.
    pub page_limit: usize,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            client_id: "pointshare".into(),
            client_secret: "sandbox-secret".into(),
            token_lifetime: Duration::from_secs(3600),
            latency: Duration::ZERO,
            rate_limit: None,
            page_limit: 2,
        }
    }
}

/// The endpoints faults can be scripted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /oauth/token`
    Token,
    /// `POST /ledger/wallets`
    OpenWallet,
    /// `GET /ledger/wallets/{id}`
    Wallet,
    /// `POST /ledger/wallets/{id}/entries`
    PostEntry,
    /// `GET /ledger/entries`
    SearchEntries,
}

/// What a scripted call does instead of answering normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answers 429 with `Retry-After` in whole seconds; does nothing.
    RateLimited { retry_after_secs: u64 },
    /// Answers 503; does nothing.
    Unavailable,
    /// Does the call, then answers 500.
    FailAfterApplying,
    /// Does the call, then holds the answer this long.
    HangAfterApplying(Duration),
    /// Answers 401 `invalid_token`, whatever the token; does nothing.
    RejectToken,
    /// Does the call, then answers with every amount as a fraction ("12.50").
    MalformedAmounts,
}

/// The simulator's state; one lock, held only while no call waits.
#[derive(Debug)]
struct World {
    book: Book,
    /// Granted tokens and when each stops being honoured.
    tokens: HashMap<String, Instant>,
    token_lifetime: Duration,
    grants: usize,
    faults: HashMap<Endpoint, VecDeque<Fault>>,
    calls: HashMap<Endpoint, usize>,
    /// The rate limit's current one-second window and the calls served in it.
    window: (Instant, u32),
}

/// What tests see and steer of a running simulator.
#[derive(Debug)]
pub struct Controls {
    world: Mutex<World>,
}

impl Controls {
    fn new(config: &SimConfig) -> Self {
        Controls {
            world: Mutex::new(World {
                book: Book::default(),
                tokens: HashMap::new(),
                token_lifetime: config.token_lifetime,
                grants: 0,
                faults: HashMap::new(),
                calls: HashMap::new(),
                window: (Instant::now(), 0),
            }),
        }
    }

    /// The next `times` calls of `endpoint` meet `fault` (after any already scripted).
    pub fn script(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        self.world.lock().faults.entry(endpoint).or_default().extend(std::iter::repeat_n(fault, times));
    }

    /// Forgets every scripted fault not yet met.
    pub fn clear_faults(&self) {
        self.world.lock().faults.clear();
    }

    /// Calls of `endpoint` received so far, whatever became of them.
    pub fn calls(&self, endpoint: Endpoint) -> usize {
        self.world.lock().calls.get(&endpoint).copied().unwrap_or(0)
    }

    /// Tokens granted so far.
    pub fn token_grants(&self) -> usize {
        self.world.lock().grants
    }

    /// The lifetime of tokens granted from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.world.lock().token_lifetime = lifetime;
    }

    /// Stops honouring every token granted so far, as a key rotation does.
    pub fn revoke_tokens(&self) {
        self.world.lock().tokens.clear();
    }
}

/// A simulator serving in the background until dropped.
#[derive(Debug)]
pub struct RunningSim {
    addr: SocketAddr,
    client_id: String,
    client_secret: String,
    controls: Arc<Controls>,
    server: JoinHandle<std::io::Result<()>>,
}

/// Starts serving on `listener` with `config`; returns once it accepts calls.
pub async fn start(listener: TcpListener, config: SimConfig) -> std::io::Result<RunningSim> {
    let addr = listener.local_addr()?;
    let (client_id, client_secret) = (config.client_id.clone(), config.client_secret.clone());
    let controls = Arc::new(Controls::new(&config));
    let router = api::router(Arc::clone(&controls), config);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(RunningSim { addr, client_id, client_secret, controls, server })
}

impl RunningSim {
    /// `http://<addr>`, the base URL clients are configured with.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adapter settings for this simulator, signed in as its client, with
    /// the defaults for the rest.
    pub fn client_settings(&self) -> LedgerApiSettings {
        let url = Url::parse(&self.base_url()).expect("http://<socket address> is a valid URL");
        LedgerApiSettings::new(url, self.client_id.clone(), self.client_secret.clone())
    }

    pub fn controls(&self) -> &Controls {
        &self.controls
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.server.abort();
    }
}
