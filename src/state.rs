//! Everything a request or worker needs, passed explicitly: no globals, so two instances can
//! run in one process.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::{clock::Clock, config::Config, net::HttpClient, protocol::Urls, service::keys::KeyStore, store::Db};

/// Cheap to clone; shared by the HTTP server, the workers and the CLI.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Settings.
    pub config: Arc<Config>,
    /// Where "now" comes from.
    pub clock: Clock,
    /// The URL layout.
    pub urls: Arc<Urls>,
    /// The address-checking HTTP client.
    pub http: HttpClient,
    /// Parsed key pairs, made lazily.
    pub keys: Arc<KeyStore>,
    /// Wakes the delivery worker when this process writes to the outbox.
    pub delivery_notify: Arc<Notify>,
}

impl AppState {
    /// Assembles the state from its parts.
    pub fn new(db: Db, config: Config, clock: Clock, keys: KeyStore) -> Result<Self, reqwest::Error> {
        let urls = Urls::new(&config.public_url, &config.authority());
        let user_agent = format!("Understory/{} (+{})", env!("CARGO_PKG_VERSION"), urls.base());
        let http = HttpClient::new(config.mode(), &user_agent)?;
        Ok(Self {
            db,
            config: Arc::new(config),
            clock,
            urls: Arc::new(urls),
            http,
            keys: Arc::new(keys),
            delivery_notify: Arc::new(Notify::new()),
        })
    }
}
