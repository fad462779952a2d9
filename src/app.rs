//! The one startup path, used by `main` and by the tests: bind first, then build from the real
//! address, then run until shutdown (HTTP stops, then workers, then the pool).

use std::{
    net::SocketAddr,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use anyhow::Context;
use axum::{
    Router,
    http::{HeaderValue, Request, StatusCode},
};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tower_http::{
    request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{
    api,
    clock::Clock,
    config::{Config, Mode},
    delivery, federation, service,
    service::keys::{KeySource, KeyStore},
    state::AppState,
    store::Db,
    web,
};

/// Longest time a request may take before it is answered 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long shutdown waits for workers to finish in-flight deliveries.
pub const WORKER_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// What differs between production and tests.
pub struct AppOptions {
    /// Where "now" comes from.
    pub clock: Clock,
    /// Where new keys come from.
    pub keys: KeySource,
    /// Run the background workers (tests drive them by hand instead).
    pub workers: bool,
}

impl Default for AppOptions {
    fn default() -> Self {
        Self {
            clock: Clock::System,
            keys: KeySource::Generate,
            workers: true,
        }
    }
}

/// A built instance, ready to run.
pub struct App {
    state: AppState,
    listener: TcpListener,
    workers: bool,
}

/// Opens the database named by the config and runs pending migrations.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    if let Some(file) = crate::config::sqlite_file(&config.database_url)
        && !file.exists()
    {
        // It will hold every organisation's private key: made readable by its owner only before
        // SQLite opens it (SQLite gives the -wal and -shm files the same mode). An empty file is
        // an empty database.
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file)
            .with_context(|| format!("cannot create the database file {}", file.display()))?;
    }
    let db = Db::connect(&config.database_url)
        .await
        .with_context(|| "cannot open the database".to_string())?;
    db.migrate().await.context("cannot migrate the database")?;
    Ok(db)
}

impl App {
    /// Builds an instance on an already bound listener and an open, migrated database.
    pub async fn build(config: Config, db: Db, listener: TcpListener, options: AppOptions) -> anyhow::Result<Self> {
        // The crate's resolver reads this process-wide variable; it would lift the address rule
        // for every instance in the process, whatever its settings.
        if std::env::var_os("DANGER_FEDERATION_ALLOW_LOCAL_IP").is_some() {
            anyhow::bail!(
                "DANGER_FEDERATION_ALLOW_LOCAL_IP is set: unset it; UNDERSTORY_ALLOW_PRIVATE_NETWORKS=true allows private addresses for this instance only"
            );
        }
        if let Some(file) = &config.extra_ca_file {
            tracing::info!(file = %file.display(), certificates = config.extra_ca.len(), "outgoing TLS also trusts UNDERSTORY_EXTRA_CA_FILE");
        }
        match config.mode() {
            Mode::LocalTest => tracing::warn!(
                public_url = %config.public_url,
                "local-test mode: http and loopback/private addresses are allowed for federation; use an https public URL in production"
            ),
            Mode::Lab => {
                tracing::warn!("UNDERSTORY_ALLOW_PRIVATE_NETWORKS is on: outgoing requests may reach private addresses")
            }
            Mode::Production => {}
        }
        let state = AppState::new(db, config, options.clock, KeyStore::new(options.keys))?;
        // Leases left by a crash: every one on SQLite (one process serves it), those of
        // processes known to be gone on PostgreSQL (the others lapse within LEASE_MS).
        let released = delivery::worker::release_gone(&state.db, &state.lessee).await?;
        if released > 0 {
            tracing::info!(released, "resuming deliveries left in flight by a process that is gone");
        }
        Ok(Self {
            state,
            listener,
            workers: options.workers,
        })
    }

    /// The state (tests use it to call services and workers directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` is cancelled, then stops workers and closes the pool.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let workers = CancellationToken::new();
        let mut handles: Vec<(&str, JoinHandle<()>)> = Vec::new();
        if self.workers {
            handles.push((
                "delivery",
                spawn_delivery_worker(self.state.clone(), workers.child_token()),
            ));
            handles.push((
                "peering",
                tokio::spawn(service::peering::run_worker(self.state.clone(), workers.child_token())),
            ));
            handles.push((
                "directory index",
                tokio::spawn(service::directory::run_refresher(
                    self.state.clone(),
                    workers.child_token(),
                )),
            ));
            handles.push((
                "pruning",
                tokio::spawn(service::retention::run(self.state.clone(), workers.child_token())),
            ));
            if service::mail::enabled(&self.state) {
                handles.push((
                    "mail",
                    tokio::spawn(service::mail::run(self.state.clone(), workers.child_token())),
                ));
            }
        }
        let router = router(self.state.clone());
        tracing::info!(addr = %self.listener.local_addr()?, public_url = %self.state.config.public_url, "listening");
        crate::http::server::serve(self.listener, router, shutdown, self.state.config.header_read_timeout).await?;
        tracing::info!("HTTP stopped; stopping workers");
        workers.cancel();
        for (name, handle) in handles {
            if tokio::time::timeout(WORKER_SHUTDOWN_GRACE, handle).await.is_err() {
                tracing::warn!(
                    worker = name,
                    "worker did not stop in time; its claims will be handed back on restart"
                );
            }
        }
        self.state.db.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// Runs the delivery worker on a single-threaded runtime of its own. Delivering is signing-bound
/// and needs no parallelism inside one pass; on one thread, the wake-ups between the worker's
/// tasks and their connections stay on that thread instead of waking the server's threads
/// (the fan-out benchmark's profile showed those cross-thread wake-ups as about 10% of CPU).
fn spawn_delivery_worker(state: AppState, stop: CancellationToken) -> JoinHandle<()> {
    tokio::task::spawn_blocking(
        move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(delivery::worker::run(state, stop)),
            Err(e) => tracing::error!(error = %e, "cannot start the delivery worker's runtime"),
        },
    )
}

#[derive(Clone, Default)]
struct RequestIds(std::sync::Arc<AtomicU64>);

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}{n:x}", std::process::id()))
            .ok()
            .map(RequestId::new)
    }
}

/// Every route, with request ids, tracing and a timeout.
pub fn router(state: AppState) -> Router {
    // Client addresses go in request logs only when the operator asks (docs/privacy.md).
    let trusted = state
        .config
        .log_client_addresses
        .then(|| state.config.trusted_proxies.clone());
    let trace = TraceLayer::new_for_http().make_span_with(move |request: &Request<_>| {
        let id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let client = trusted.as_ref().and_then(|trusted| {
            let peer = request.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>()?;
            Some(crate::http::limit::client_address(peer.0.ip(), request.headers(), trusted))
        });
        match client {
            Some(client) => tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id, %client),
            None => tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id),
        }
    });
    let mut routes = Router::new()
        .merge(federation::router(&state))
        .merge(web::router())
        .merge(api::router())
        .route("/metrics", axum::routing::get(crate::http::metrics::metrics));
    if state.config.metrics {
        routes = routes.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::metrics::count,
        ));
    }
    routes
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::http::limit::middleware,
        ))
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(trace)
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(RequestIds::default()))
}
