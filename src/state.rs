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
    /// Remote actors by key id (`service::remote::actor_for_key`).
    pub actors_by_key: Arc<ReadCache<crate::store::actors::RemoteActor>>,
    /// Whether a domain is blocked (`service::remote::is_blocked`).
    pub blocked: Arc<ReadCache<bool>>,
    /// The name this process's delivery leases carry.
    pub lessee: Arc<crate::delivery::worker::Lessee>,
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
    /// Recently read organisations (WebFinger and actor JSON).
    pub org_cache: Arc<OrgCache>,
    /// Request rate limits per client address.
    pub limiter: Arc<crate::http::limit::Limiter>,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::http::metrics::Metrics>,
    /// When each key was last fetched again after a failed signature check.
    pub key_refetches: Arc<KeyRefetches>,
    /// The threads that run argon2 (`service::accounts::password_work`).
    pub password_work: Arc<PasswordPool>,
    /// Megapixels of remote pictures being decoded at once (`service::media::remote`).
    pub decode_budget: Arc<tokio::sync::Semaphore>,
    /// Remote pictures being fetched, by key: a second view of one waits for the first.
    pub remote_fetches: Arc<std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

/// Megapixels of remote pictures decoded at once. A decode takes about 6 bytes a pixel at its
/// peak (pixels, then the resize), so 40 megapixels keep decoding under about 250 MiB however
/// many first views arrive together; one picture of the largest accepted size (33 megapixels)
/// decodes alone.
pub const DECODE_BUDGET_MPX: usize = 40;

/// Password hashes computed at once (argon2id takes about 19 MiB each).
pub const PASSWORD_WORKERS: usize = 2;

type PasswordJob = Box<dyn FnOnce() + Send>;

/// A fixed set of [`PASSWORD_WORKERS`] threads for argon2: a burst of sign-ins queues here. Run
/// on the shared blocking pool instead, the work moved between threads and each kept its own
/// allocator arena of hashing memory (100 concurrent sign-ins left 480 MiB resident even with
/// two at a time).
pub struct PasswordPool {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<PasswordJob>>,
}

impl PasswordPool {
    fn new(threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<PasswordJob>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
                loop {
                    // The lock is held only while waiting for a job, not while running it.
                    let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    match job {
                        // A panicking job loses its answer (`run` returns None), not the thread.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        // Every sender is gone: the instance stopped.
                        Err(_) => break,
                    }
                }
            })?;
        }
        Ok(Self {
            jobs: std::sync::Mutex::new(jobs),
        })
    }

    /// Runs `f` on one of the threads; `None` if it panicked.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: PasswordJob = Box::new(move || {
            let _ = done.send(f());
        });
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).send(job).ok()?;
        result.await.ok()
    }
}

/// Throttles fetching a key again after a signature failed with the stored one (a key
/// rotation): once per key per [`KeyRefetches::EVERY_MS`], so forged requests naming a stored
/// actor's key cannot make us hammer that actor's server.
#[derive(Default)]
pub struct KeyRefetches {
    last: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl KeyRefetches {
    /// Least time between two refetches of one key.
    pub const EVERY_MS: i64 = 5 * 60 * 1000;
    /// Keys remembered before the oldest are forgotten.
    const MAX_KEYS: usize = 100_000;

    /// Whether `key_id` may be fetched again now; if so, records it.
    pub fn allow(&self, key_id: &str, now_ms: i64) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.get(key_id).is_some_and(|&t| now_ms - t < Self::EVERY_MS) {
            return false;
        }
        if last.len() >= Self::MAX_KEYS {
            last.retain(|_, t| now_ms - *t < Self::EVERY_MS);
        }
        last.insert(key_id.to_owned(), now_ms);
        true
    }
}

impl AppState {
    /// Assembles the state from its parts.
    pub fn new(db: Db, config: Config, clock: Clock, keys: KeyStore) -> anyhow::Result<Self> {
        let started_ms = clock.now_ms();
        let urls = Urls::new(&config.public_url, &config.authority());
        let user_agent = format!("Understory/{} (+{})", env!("CARGO_PKG_VERSION"), urls.base());
        let http = HttpClient::with_roots(config.mode(), &user_agent, &config.extra_ca)?;
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
            actors_by_key: Arc::new(ReadCache::new(std::time::Duration::from_secs(10))),
            blocked: Arc::new(ReadCache::new(std::time::Duration::from_secs(1))),
            lessee: Arc::new(crate::delivery::worker::Lessee::this_process(started_ms)),
            vocab: Arc::new(vocab),
            directory: Arc::new(DirectoryIndex::default()),
            peer_notify: Arc::new(Notify::new()),
            sign_in_limiter: Arc::default(),
            limiter: Arc::default(),
            metrics: Arc::default(),
            org_cache: Arc::default(),
            key_refetches: Arc::default(),
            password_work: Arc::new(PasswordPool::new(PASSWORD_WORKERS)?),
            decode_budget: Arc::new(tokio::sync::Semaphore::new(DECODE_BUDGET_MPX)),
            remote_fetches: Arc::default(),
            catalogue: Arc::new(Catalogue::load().map_err(|e| anyhow::anyhow!("message catalogue: {e}"))?),
        })
    }
}

/// Values read from the database for the hot paths of the inbox (remote actors by key id,
/// whether a domain is blocked): each is used while the store's write generation it was read
/// at is current and for at most its time to live (another process's writes show within it).
/// On PostgreSQL each saves a round trip per incoming activity.
pub struct ReadCache<V> {
    entries: std::sync::Mutex<std::collections::HashMap<String, (V, u64, std::time::Instant)>>,
    ttl: std::time::Duration,
}

/// Most entries a [`ReadCache`] keeps (it is emptied when full).
const READ_CACHE_MAX: usize = 10_000;

impl<V: Clone> ReadCache<V> {
    /// An empty cache whose entries live `ttl`.
    pub fn new(ttl: std::time::Duration) -> Self {
        Self {
            entries: std::sync::Mutex::default(),
            ttl,
        }
    }

    /// A fresh entry read at `generation`.
    pub fn get(&self, key: &str, generation: u64) -> Option<V> {
        let map = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(key)
            .filter(|(_, g, at)| *g == generation && at.elapsed() < self.ttl)
            .map(|(v, ..)| v.clone())
    }

    /// Keeps `value`, read at `generation`.
    pub fn put(&self, key: &str, generation: u64, value: V) {
        let mut map = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= READ_CACHE_MAX {
            map.clear();
        }
        map.insert(key.to_owned(), (value, generation, std::time::Instant::now()));
    }
}

/// Organisations by handle for the hot read paths, with the write generation and time they
/// were read (see `service::orgs::find_live_cached`).
#[derive(Default)]
pub struct OrgCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, CachedOrg>>,
}

struct CachedOrg {
    org: Arc<crate::store::orgs::Org>,
    generation: u64,
    at: std::time::Instant,
    actor: Option<Arc<Vec<u8>>>,
}

/// Most organisations kept.
const ORG_CACHE_MAX: usize = 10_000;

impl OrgCache {
    /// A fresh entry: same write generation and younger than the TTL.
    pub fn get(&self, handle: &str, generation: u64) -> Option<Arc<crate::store::orgs::Org>> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(handle)
            .filter(|c| c.generation == generation && c.at.elapsed() < crate::service::orgs::CACHE_TTL)
            .map(|c| c.org.clone())
    }

    /// Whatever is cached, however old: served only while the database is unavailable.
    pub fn get_stale(&self, handle: &str) -> Option<Arc<crate::store::orgs::Org>> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(handle).map(|c| c.org.clone())
    }

    /// Stores an organisation read at `generation`.
    pub fn put(&self, handle: &str, generation: u64, org: Arc<crate::store::orgs::Org>) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= ORG_CACHE_MAX {
            map.clear();
        }
        map.insert(
            handle.to_owned(),
            CachedOrg {
                org,
                generation,
                at: std::time::Instant::now(),
                actor: None,
            },
        );
    }

    /// The rendered actor document of a cached organisation, if it is still that version.
    pub fn actor(&self, org: &Arc<crate::store::orgs::Org>) -> Option<Arc<Vec<u8>>> {
        let map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&org.handle)
            .filter(|c| Arc::ptr_eq(&c.org, org))
            .and_then(|c| c.actor.clone())
    }

    /// Keeps the rendered actor document beside its organisation.
    pub fn set_actor(&self, org: &Arc<crate::store::orgs::Org>, body: Arc<Vec<u8>>) {
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = map.get_mut(&org.handle).filter(|c| Arc::ptr_eq(&c.org, org)) {
            c.actor = Some(body);
        }
    }
}
