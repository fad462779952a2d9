//! Everything a request or worker needs, passed explicitly: no globals, so two instances can
//! run in one process.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::{
    clock::Clock, config::Config, domain::vocab::Vocab, net::HttpClient, protocol::Urls,
    service::directory::DirectoryIndex, service::keys::KeyStore, store::Db, web::i18n::Catalogue,
};

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
    /// Vocabularies (starter lists plus the operator's files).
    pub vocab: Arc<Vocab>,
    /// The in-memory directory facet index.
    pub directory: Arc<DirectoryIndex>,
    /// Wakes the peer sync worker (a peer accepted us).
    pub peer_notify: Arc<Notify>,
    /// The pages' message catalogue.
    pub catalogue: Arc<Catalogue>,
    /// Failed sign-in attempts (rate limits).
    pub sign_in_limiter: Arc<crate::service::sessions::SignInLimiter>,
    /// Request rate limits per client address.
    pub limiter: Arc<crate::http::limit::Limiter>,
}

impl AppState {
    /// Assembles the state from its parts.
    pub fn new(db: Db, config: Config, clock: Clock, keys: KeyStore) -> anyhow::Result<Self> {
        let urls = Urls::new(&config.public_url, &config.authority());
        let user_agent = format!("Understory/{} (+{})", env!("CARGO_PKG_VERSION"), urls.base());
        let http = HttpClient::new(config.mode(), &user_agent)?;
        let vocab =
            Vocab::load(config.vocab_dir.as_deref()).map_err(|e| anyhow::anyhow!("UNDERSTORY_VOCAB_DIR: {e}"))?;
        Ok(Self {
            db,
            config: Arc::new(config),
            clock,
            urls: Arc::new(urls),
            http,
            keys: Arc::new(keys),
            delivery_notify: Arc::new(Notify::new()),
            vocab: Arc::new(vocab),
            directory: Arc::new(DirectoryIndex::default()),
            peer_notify: Arc::new(Notify::new()),
            sign_in_limiter: Arc::default(),
            limiter: Arc::default(),
            catalogue: Arc::new(Catalogue::load().map_err(|e| anyhow::anyhow!("message catalogue: {e}"))?),
        })
    }
}
