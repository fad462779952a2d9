//! Directory peers (instance actors following each other) and blocked domains.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

const COLUMNS: &str = "domain, actor, inbox, outgoing, outgoing_follow, incoming, incoming_follow, synced_until, \
    last_sync_at, last_sync_error, created_at";

/// A peer instance.
#[derive(sqlx::FromRow, Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// `host[:port]`.
    pub domain: String,
    /// Its instance actor.
    pub actor: String,
    /// Its instance actor's inbox.
    pub inbox: String,
    /// Our follow of it: `none`, `pending`, `accepted`, `rejected`.
    pub outgoing: String,
    /// Our Follow's id.
    pub outgoing_follow: Option<String>,
    /// Its follow of us: `none`, `pending`, `accepted`, `rejected`.
    pub incoming: String,
    /// Its Follow's id.
    pub incoming_follow: Option<String>,
    /// Backfill cursor: its `updated` times already read (ms).
    pub synced_until: i64,
    /// Last sync attempt (ms).
    pub last_sync_at: Option<i64>,
    /// Why the last sync failed.
    pub last_sync_error: Option<String>,
    /// First contact (ms).
    pub created_at: i64,
}

/// Inserts a peer or updates its actor and inbox; returns the row.
pub async fn upsert(tx: &mut Tx, domain: &str, actor: &str, inbox: &str, now: i64) -> Result<Peer, StoreError> {
    let sql = format!(
        "insert into peers (domain, actor, inbox, outgoing, incoming, synced_until, created_at) \
         values ($1, $2, $3, 'none', 'none', 0, $4) on conflict (domain) do update set actor = excluded.actor, \
         inbox = excluded.inbox returning {COLUMNS}"
    );
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(domain).bind(actor).bind(inbox).bind(now).fetch_one(conn).await)?)
}

/// Sets our side of the relationship.
pub async fn set_outgoing(tx: &mut Tx, domain: &str, state: &str, follow: Option<&str>) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("update peers set outgoing = $1, outgoing_follow = coalesce($2, outgoing_follow) where domain = $3")
        .bind(state).bind(follow).bind(domain).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets their side of the relationship.
pub async fn set_incoming(tx: &mut Tx, domain: &str, state: &str, follow: Option<&str>) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("update peers set incoming = $1, incoming_follow = coalesce($2, incoming_follow) where domain = $3")
        .bind(state).bind(follow).bind(domain).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A peer by domain.
pub async fn find(db: &Db, domain: &str) -> Result<Option<Peer>, StoreError> {
    let sql = format!("select {COLUMNS} from peers where domain = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(domain).fetch_optional(pool).await)?)
}

/// A peer by domain, inside a transaction.
pub async fn find_in(tx: &mut Tx, domain: &str) -> Result<Option<Peer>, StoreError> {
    let sql = format!("select {COLUMNS} from peers where domain = $1");
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(domain).fetch_optional(conn).await)?)
}

/// A peer by its instance actor.
pub async fn find_by_actor(db: &Db, actor: &str) -> Result<Option<Peer>, StoreError> {
    let sql = format!("select {COLUMNS} from peers where actor = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(actor).fetch_optional(pool).await)?)
}

/// Every peer, by domain.
pub async fn list(db: &Db) -> Result<Vec<Peer>, StoreError> {
    let sql = format!("select {COLUMNS} from peers order by domain");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?)
}

/// Inboxes of peers that follow us (accepted): where Add, Update and Remove go.
pub async fn follower_inboxes(tx: &mut Tx) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = on_tx!(tx, conn => sqlx::query_as("select inbox from peers where incoming = 'accepted' order by domain")
        .fetch_all(conn).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Records a sync: the new cursor, or the error.
pub async fn synced(db: &Db, domain: &str, until: i64, now: i64, error: Option<&str>) -> Result<(), StoreError> {
    let sql = "update peers set synced_until = case when $4 > synced_until then $4 else synced_until end, \
        last_sync_at = $1, last_sync_error = $2 where domain = $3";
    on_db!(db, pool => sqlx::query(sql)
        .bind(now).bind(error).bind(domain).bind(until).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Forgets a peer.
pub async fn remove(tx: &mut Tx, domain: &str) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query("delete from peers where domain = $1").bind(domain).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Blocks a domain.
pub async fn block(tx: &mut Tx, domain: &str, reason: &str, now: i64) -> Result<(), StoreError> {
    BLOCK_GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    on_tx!(tx, conn => sqlx::query(
        "insert into domain_blocks (domain, reason, created_at) values ($1, $2, $3) on conflict (domain) do update set reason = excluded.reason")
        .bind(domain).bind(reason).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Lifts a block; returns whether there was one.
pub async fn unblock(tx: &mut Tx, domain: &str) -> Result<bool, StoreError> {
    BLOCK_GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let n = on_tx!(tx, conn => sqlx::query("delete from domain_blocks where domain = $1").bind(domain).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Blocked domains with reasons.
pub async fn blocks(db: &Db) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(
        on_db!(db, pool => sqlx::query_as("select domain, reason, created_at from domain_blocks order by domain").fetch_all(pool).await)?,
    )
}

/// Bumped by every change to domain blocks in this process (see `state::ReadCache`).
pub static BLOCK_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The current generation of domain blocks (see [`BLOCK_GENERATION`]).
pub fn block_generation() -> u64 {
    BLOCK_GENERATION.load(std::sync::atomic::Ordering::SeqCst)
}

/// Whether a domain is blocked.
pub async fn is_blocked(db: &Db, domain: &str) -> Result<bool, StoreError> {
    let row: Option<(String,)> = on_db!(db, pool => sqlx::query_as("select domain from domain_blocks where domain = $1")
        .bind(domain).fetch_optional(pool).await)?;
    Ok(row.is_some())
}

/// Inboxes of every peer we follow or that follows us (or asked to).
pub async fn all_inboxes(tx: &mut Tx) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = on_tx!(tx, conn => sqlx::query_as(
        "select inbox from peers where incoming in ('accepted', 'pending') or outgoing in ('accepted', 'pending') order by domain")
        .fetch_all(conn).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
