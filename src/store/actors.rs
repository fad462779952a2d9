//! Remote actors we have fetched: followers, authors of replies, accounts our organisations follow.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

const COLUMNS: &str = "id, ap_id, actor_type, username, domain, name, summary, url, inbox, shared_inbox, key_id, \
    public_key_pem, discoverable, indexable, fetched_at, deleted_at, icon_url, image_url";

/// A remote actor as stored (HTML already sanitised).
#[derive(sqlx::FromRow, Clone, Debug, PartialEq, Eq)]
pub struct RemoteActor {
    /// Row id (0 before insertion).
    pub id: i64,
    /// The actor's id URL.
    pub ap_id: String,
    /// `Person`, `Organization`, `Service`, ...
    pub actor_type: String,
    /// `preferredUsername`.
    pub username: String,
    /// `host[:port]` of the id.
    pub domain: String,
    /// Display name (plain text).
    pub name: String,
    /// Sanitised HTML summary.
    pub summary: String,
    /// Profile page.
    pub url: Option<String>,
    /// Personal inbox.
    pub inbox: String,
    /// Shared inbox, if advertised.
    pub shared_inbox: Option<String>,
    /// `publicKey.id`.
    pub key_id: String,
    /// `publicKey.publicKeyPem`.
    pub public_key_pem: String,
    /// Directory consent.
    pub discoverable: bool,
    /// Search consent.
    pub indexable: bool,
    /// When we last fetched it (ms).
    pub fetched_at: i64,
    /// When we learned it was deleted.
    pub deleted_at: Option<i64>,
    /// Avatar URL on its server (shown only through our cache).
    pub icon_url: Option<String>,
    /// Header URL on its server (shown only through our cache).
    pub image_url: Option<String>,
}

impl RemoteActor {
    /// Where deliveries for this actor go: the shared inbox when there is one.
    pub fn delivery_inbox(&self) -> &str {
        self.shared_inbox.as_deref().unwrap_or(&self.inbox)
    }
}

/// Bumped by every write to remote actors in this process, so cached reads are dropped at once
/// (`state::ReadCache`; other processes' writes show within the cache's time to live).
pub static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The current write generation (see [`GENERATION`]).
pub fn generation() -> u64 {
    GENERATION.load(std::sync::atomic::Ordering::SeqCst)
}

fn bump() {
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// Inserts or refreshes an actor by id inside `tx` and returns its row id.
pub async fn upsert(tx: &mut Tx, a: &RemoteActor) -> Result<i64, StoreError> {
    bump();
    let sql = "insert into remote_actors (ap_id, actor_type, username, domain, name, summary, url, inbox, shared_inbox, \
        key_id, public_key_pem, discoverable, indexable, fetched_at, deleted_at, icon_url, image_url) \
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, null, $15, $16) \
        on conflict (ap_id) do update set actor_type = excluded.actor_type, username = excluded.username, \
        domain = excluded.domain, name = excluded.name, summary = excluded.summary, url = excluded.url, \
        inbox = excluded.inbox, shared_inbox = excluded.shared_inbox, key_id = excluded.key_id, \
        public_key_pem = excluded.public_key_pem, discoverable = excluded.discoverable, \
        indexable = excluded.indexable, fetched_at = excluded.fetched_at, deleted_at = null, \
        icon_url = excluded.icon_url, image_url = excluded.image_url returning id";
    let row: (i64,) = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(&a.ap_id).bind(&a.actor_type).bind(&a.username).bind(&a.domain).bind(&a.name).bind(&a.summary)
        .bind(&a.url).bind(&a.inbox).bind(&a.shared_inbox).bind(&a.key_id).bind(&a.public_key_pem)
        .bind(a.discoverable).bind(a.indexable).bind(a.fetched_at).bind(&a.icon_url).bind(&a.image_url)
        .fetch_one(conn).await)?;
    Ok(row.0)
}

/// Finds a live actor by its id URL.
pub async fn find_by_ap_id(db: &Db, ap_id: &str) -> Result<Option<RemoteActor>, StoreError> {
    let sql = format!("select {COLUMNS} from remote_actors where ap_id = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(ap_id).fetch_optional(pool).await)?)
}

/// Finds an actor by id inside a transaction.
pub async fn find_by_ap_id_in(tx: &mut Tx, ap_id: &str) -> Result<Option<RemoteActor>, StoreError> {
    let sql = format!("select {COLUMNS} from remote_actors where ap_id = $1");
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(ap_id).fetch_optional(conn).await)?)
}

/// Finds an actor by the id of its key.
pub async fn find_by_key_id(db: &Db, key_id: &str) -> Result<Option<RemoteActor>, StoreError> {
    let sql = format!("select {COLUMNS} from remote_actors where key_id = $1 and deleted_at is null");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(key_id).fetch_optional(pool).await)?)
}

/// Marks an actor deleted and drops its follows, interactions and stored notes, inside `tx`.
pub async fn mark_deleted(tx: &mut Tx, id: i64, now: i64) -> Result<(), StoreError> {
    bump();
    for sql in [
        "delete from followers where actor_id = $1",
        "delete from following where actor_id = $1",
        "delete from interactions where actor_id = $1",
        "delete from remote_notes where actor_id = $1",
    ] {
        on_tx!(tx, conn => sqlx::query(sql).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    }
    on_tx!(tx, conn => sqlx::query("update remote_actors set deleted_at = $1 where id = $2")
        .bind(now).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Domains of every remote actor we know (the Mastodon-style peers list).
pub async fn known_domains(db: &Db) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = on_db!(db, pool => sqlx::query_as(
        "select distinct domain from remote_actors order by domain").fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Listed remote directory entries fetched before `before` (ms), oldest first.
pub async fn stale_listed(db: &Db, before: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = on_db!(db, pool => sqlx::query_as(
        "select a.ap_id from remote_actors a join directory d on d.actor = a.ap_id \
         where d.listed = true and d.org_id is null and a.deleted_at is null and a.fetched_at < $1 \
         order by a.fetched_at limit $2")
        .bind(before).bind(limit).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
