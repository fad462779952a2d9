//! Test harness: real instances on loopback, each with a fresh database (SQLite file, or a
//! PostgreSQL schema when UNDERSTORY_TEST_DATABASE_URL is a postgres:// URL), a shared fixed
//! clock, and keys from a fixture pool.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use chrono::{TimeZone, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use understory::{
    app::{App, AppOptions},
    clock::Clock,
    config::Config,
    delivery,
    httpsig::{KeyPair, sign_post},
    service::{self, audit::Who, keys::KeySource, orgs::NewOrgInput},
    state::AppState,
    store::{self, Db, orgs::Org},
};

/// The fixed start of every test's clock.
pub fn test_clock() -> Clock {
    Clock::fixed(Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().unwrap())
}

fn key_pool() -> KeySource {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let text = include_str!("../fixtures/keys.pem");
    let pems: Vec<String> = text
        .split("-----END PRIVATE KEY-----")
        .filter(|p| p.contains("BEGIN"))
        .map(|p| format!("{}-----END PRIVATE KEY-----\n", p.trim_start()))
        .collect();
    KeySource::Pool(pems, AtomicUsize::new(NEXT.fetch_add(3, Ordering::Relaxed)))
}

/// Where a test database lives, so an instance can be restarted on it.
#[derive(Clone)]
enum DbPlace {
    Sqlite(String),
    Postgres(String, String),
}

impl DbPlace {
    async fn connect(&self) -> Db {
        match self {
            Self::Sqlite(url) => Db::connect(url).await.unwrap(),
            Self::Postgres(url, schema) => Db::connect_postgres_schema(url, schema).await.unwrap(),
        }
    }
}

async fn fresh_db() -> (DbPlace, Option<tempfile::TempDir>) {
    match std::env::var("UNDERSTORY_TEST_DATABASE_URL") {
        Ok(url) if url.starts_with("postgres") => {
            let schema = format!("t_{}", service::token());
            let admin = Db::connect(&url).await.unwrap();
            if let Db::Postgres(pool) = &admin {
                sqlx::query(&format!("create schema {schema}"))
                    .execute(pool)
                    .await
                    .unwrap();
            }
            admin.close().await;
            (DbPlace::Postgres(url, schema), None)
        }
        _ => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("test.db").display());
            (DbPlace::Sqlite(url), Some(dir))
        }
    }
}

/// A running instance.
pub struct TestApp {
    pub state: AppState,
    pub base: String,
    /// The public URL without its trailing slash (differs from `base` behind a TLS front).
    pub public: String,
    stop: CancellationToken,
    running: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    place: DbPlace,
    _dir: Option<tempfile::TempDir>,
    /// The instance's media directory (removed with the app).
    pub media: tempfile::TempDir,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl TestApp {
    /// An instance on its own clock.
    pub async fn spawn() -> Self {
        Self::spawn_with(test_clock()).await
    }

    /// An instance sharing `clock` (instances that talk to each other share one).
    pub async fn spawn_with(clock: Clock) -> Self {
        Self::spawn_full(clock, None).await
    }

    /// An instance that sends mail through `smtp_url`.
    pub async fn spawn_with_mail(clock: Clock, smtp_url: &str) -> Self {
        Self::spawn_configured(clock, |c| c.smtp_url = Some(smtp_url.to_owned())).await
    }

    async fn spawn_full(clock: Clock, smtp_url: Option<String>) -> Self {
        Self::spawn_configured(clock, move |c| c.smtp_url = smtp_url).await
    }

    /// An instance whose settings `configure` adjusts.
    pub async fn spawn_configured(clock: Clock, configure: impl FnOnce(&mut Config)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (place, dir) = fresh_db().await;
        let db = place.connect().await;
        db.migrate().await.unwrap();
        let mut config = Config::for_url(&format!("http://localhost:{port}"), "sqlite::memory:").unwrap();
        let media = tempfile::tempdir().unwrap();
        config.media_dir = media.path().to_owned();
        // Tests make many requests from loopback on a frozen clock; the limit tests clear this.
        config.rate_limit_exempt = understory::http::limit::parse_list("127.0.0.0/8,::1").unwrap();
        configure(&mut config);
        let public = config.public_url.as_str().trim_end_matches('/').to_owned();
        let options = AppOptions {
            clock,
            keys: key_pool(),
            workers: false,
        };
        let app = App::build(config, db, listener, options).await.unwrap();
        let state = app.state().clone();
        let stop = CancellationToken::new();
        let running = Some(tokio::spawn(app.run(stop.clone())));
        Self {
            state,
            base: format!("http://localhost:{port}"),
            public,
            stop,
            running,
            place,
            _dir: dir,
            media,
        }
    }

    /// Stops the server (graceful) and closes its database: the instance is down.
    pub async fn stop(&mut self) {
        self.stop.cancel();
        if let Some(running) = self.running.take() {
            running.await.unwrap().unwrap();
        }
    }

    /// Starts the instance again on the same address and database.
    pub async fn start(&mut self) {
        self.launch((*self.state.config).clone()).await;
    }

    /// Starts the instance again on the same address with `config`, whose SQLite database
    /// (a restored backup, say) it then uses.
    pub async fn start_restored(&mut self, config: Config) {
        self.place = DbPlace::Sqlite(config.database_url.clone());
        self.launch(config).await;
    }

    async fn launch(&mut self, config: Config) {
        let addr = self.base.trim_start_matches("http://localhost:").to_owned();
        let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{addr}"))
            .await
            .unwrap();
        let db = self.place.connect().await;
        db.migrate().await.unwrap();
        let options = AppOptions {
            clock: self.state.clock.clone(),
            keys: key_pool(),
            workers: false,
        };
        let app = App::build(config, db, listener, options).await.unwrap();
        self.state = app.state().clone();
        self.stop = CancellationToken::new();
        self.running = Some(tokio::spawn(app.run(self.stop.clone())));
    }

    /// The SQLite database URL, when the suite runs on SQLite.
    pub fn sqlite_url(&self) -> Option<String> {
        match &self.place {
            DbPlace::Sqlite(url) => Some(url.clone()),
            DbPlace::Postgres(..) => None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn actor(&self, handle: &str) -> String {
        format!("{}/orgs/{handle}", self.public)
    }

    /// `host:port` of this instance.
    pub fn domain(&self) -> String {
        self.public.split_once("://").map_or("", |(_, rest)| rest).to_owned()
    }

    pub fn acct(&self, handle: &str) -> String {
        format!("{handle}@{}", self.domain())
    }

    pub async fn create_org(&self, handle: &str) -> Org {
        self.create_org_with(handle, false).await
    }

    pub async fn create_org_with(&self, handle: &str, approve: bool) -> Org {
        let input = NewOrgInput {
            handle: handle.into(),
            name: format!("{handle} name"),
            summary: "We know things.".into(),
            approve_followers: approve,
        };
        service::orgs::create(&self.state, &Who::Cli, &input).await.unwrap()
    }

    /// One delivery pass.
    pub async fn deliver_due(&self) -> usize {
        delivery::worker::deliver_due(&self.state).await.unwrap()
    }

    pub async fn pending(&self) -> i64 {
        store::outbox::status(&self.state.db).await.unwrap().pending
    }

    pub async fn key_of(&self, handle: &str) -> Arc<KeyPair> {
        let org = store::orgs::find_by_handle(&self.state.db, handle)
            .await
            .unwrap()
            .unwrap();
        service::keys::org_key(&self.state, org.id).await.unwrap()
    }

    /// Number of followers of `handle` in `which` state.
    pub async fn followers(&self, handle: &str, which: &str) -> Vec<String> {
        service::follows::followers(&self.state, handle, which)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.ap_id)
            .collect()
    }
}

/// A user with the password `a long enough password`, an operator if `operator`, and the owner
/// of `owner_of` when given.
pub async fn user_with_password(app: &TestApp, email: &str, operator: bool, owner_of: Option<&str>) {
    use understory::service::accounts::{self, Role};
    let role = owner_of.map(|h| (h, Role::Owner));
    let (_, link) = accounts::create_user(&app.state, &Who::Cli, email, operator, role)
        .await
        .unwrap();
    let secret = link.rsplit('/').next().unwrap();
    accounts::set_password_with_link(&app.state, secret, "a long enough password")
        .await
        .unwrap();
}

/// The notes an organisation received, newest first.
pub async fn notes_of(app: &TestApp, handle: &str) -> Vec<store::inbox::RemoteNote> {
    let org = store::orgs::find_by_handle(&app.state.db, handle)
        .await
        .unwrap()
        .unwrap();
    store::inbox::notes_for(&app.state.db, org.id, 50).await.unwrap()
}

/// An HTTP client for tests.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// GETs a page (or any text) and returns its body.
pub async fn text_of(url: &str) -> String {
    client().get(url).send().await.unwrap().text().await.unwrap()
}

/// GETs JSON with an ActivityPub Accept header; returns status and body.
pub async fn get_ap(url: &str) -> (StatusCode, Value) {
    let r = client()
        .get(url)
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// POSTs `body` signed with `key` as `key_id`, dated `date_ms`; returns the status.
pub async fn signed_post(inbox: &str, body: &[u8], key: &KeyPair, key_id: &str, date_ms: i64) -> u16 {
    let url = url::Url::parse(inbox).unwrap();
    let headers = sign_post(key, key_id, &url, body, date_ms).unwrap();
    let mut request = client().post(inbox).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    request.send().await.unwrap().status().as_u16()
}

/// A fake remote inbox that records what it receives and answers with scripted statuses.
#[derive(Clone, Default)]
pub struct Sink {
    pub received: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    /// Statuses to answer, in order; 202 once exhausted.
    pub script: Arc<Mutex<Vec<u16>>>,
    /// Signalled on every delivery taken.
    pub arrived: Arc<tokio::sync::Notify>,
}

impl Sink {
    /// Starts a sink on loopback; returns it and its base URL.
    pub async fn start() -> (Self, String) {
        let sink = Self::default();
        let router = Router::new()
            .route("/inbox", post(sink_inbox))
            .route("/users/{name}/inbox", post(sink_inbox))
            .with_state(sink.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await });
        (sink, format!("http://localhost:{port}"))
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.received.lock().unwrap().iter().map(|(_, b)| b.clone()).collect()
    }
}

async fn sink_inbox(State(sink): State<Sink>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let status = {
        let mut script = sink.script.lock().unwrap();
        if script.is_empty() { 202 } else { script.remove(0) }
    };
    if status < 300 {
        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        sink.received.lock().unwrap().push((headers, value));
        sink.arrived.notify_one();
    }
    StatusCode::from_u16(status).unwrap()
}

/// Stores a remote follower of `org` whose inboxes are on a sink (as if it had followed).
pub async fn add_follower(app: &TestApp, org: &Org, sink_base: &str, name: &str, shared: bool) {
    let pem = app.key_of(&org.handle).await.public_pem().to_owned();
    let ap_id = format!("{sink_base}/users/{name}");
    let actor = store::actors::RemoteActor {
        id: 0,
        ap_id: ap_id.clone(),
        actor_type: "Person".into(),
        username: name.into(),
        domain: sink_base.trim_start_matches("http://").into(),
        name: name.into(),
        summary: String::new(),
        url: None,
        inbox: format!("{ap_id}/inbox"),
        shared_inbox: shared.then(|| format!("{sink_base}/inbox")),
        key_id: format!("{ap_id}#main-key"),
        public_key_pem: pem,
        discoverable: false,
        indexable: false,
        fetched_at: app.state.clock.now_ms(),
        deleted_at: None,
        icon_url: None,
        image_url: None,
    };
    let mut tx = app.state.db.begin().await.unwrap();
    let id = store::actors::upsert(&mut tx, &actor).await.unwrap();
    store::follows::upsert_follower(&mut tx, org.id, id, &format!("{ap_id}#follow"), "accepted", 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}
