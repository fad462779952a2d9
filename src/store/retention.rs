//! Pruning of what is kept only for a while (docs/privacy.md): each query deletes what is older
//! than its cut-off, and returns how many rows went.

use super::{Db, StoreError};
use crate::on_db;

/// One day in milliseconds.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Sessions, sign-in links and sent mail are kept this long after they ended.
pub const ENDED_KEEP_DAYS: i64 = 30;
/// A deleted organisation's private key is kept at most this long for its `Delete` to reach
/// instances that were down.
pub const DELETED_KEY_KEEP_DAYS: i64 = 30;

/// What one pass removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// Ids of received activities.
    pub activity_ids: u64,
    /// Done deliveries.
    pub deliveries: u64,
    /// Outbox activities with no delivery left.
    pub activities: u64,
    /// Replies, mentions and posts received from other servers.
    pub remote_notes: u64,
    /// Ended sessions, used or expired sign-in links, sent mail, declined join requests.
    pub sessions_links_mail: u64,
    /// Private keys of deleted organisations.
    pub keys: u64,
    /// Stored files nothing live uses (deleted updates and organisations, replaced pictures).
    pub media: u64,
}

/// Rows deleted per statement: a first pass over years of rows must not hold SQLite's write
/// lock (and the inbox behind it) for the whole deletion.
pub const BATCH: i64 = 5_000;

/// Deletes the rows of `table` matching `condition` (`$1` is the cut-off) in batches of
/// [`BATCH`] keys, until none is left.
async fn delete_batched(db: &Db, table: &str, key: &str, condition: &str, cutoff: i64) -> Result<u64, StoreError> {
    let sql = format!("delete from {table} where {key} in (select {key} from {table} where {condition} limit {BATCH})");
    let mut total = 0;
    loop {
        let n = on_db!(db, pool => sqlx::query(&sql).bind(cutoff).execute(pool).await.map(|r| r.rows_affected()))?;
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
        // Let requests waiting for the database in.
        tokio::task::yield_now().await;
    }
}

/// Ids of activities received before `cutoff`.
pub async fn activity_ids(db: &Db, cutoff: i64) -> Result<u64, StoreError> {
    delete_batched(db, "received_activities", "ap_id", "received_at < $1", cutoff).await
}

/// Deliveries done (delivered or refused) before `cutoff`, then outbox rows made before it
/// with no delivery left. Returns (deliveries, activities).
pub async fn deliveries(db: &Db, cutoff: i64) -> Result<(u64, u64), StoreError> {
    let done = delete_batched(
        db,
        "deliveries",
        "id",
        "delivered_at is not null and delivered_at < $1",
        cutoff,
    )
    .await?;
    let activities = delete_batched(
        db,
        "outbox",
        "id",
        "created_at < $1 and not exists (select 1 from deliveries d where d.outbox_id = outbox.id)",
        cutoff,
    )
    .await?;
    Ok((done, activities))
}

/// Remote notes received before `cutoff`.
pub async fn remote_notes(db: &Db, cutoff: i64) -> Result<u64, StoreError> {
    delete_batched(db, "remote_notes", "id", "received_at < $1", cutoff).await
}

/// Sessions, sign-in links, sent mail and declined join requests that ended before `cutoff`.
pub async fn ended(db: &Db, cutoff: i64) -> Result<u64, StoreError> {
    Ok(
        delete_batched(db, "sessions", "id_hash", "expires_at < $1 or revoked_at < $1", cutoff).await?
            + delete_batched(
                db,
                "login_links",
                "token_hash",
                "expires_at < $1 or used_at < $1",
                cutoff,
            )
            .await?
            + delete_batched(db, "mail_queue", "id", "sent_at < $1", cutoff).await?
            + delete_batched(
                db,
                "join_requests",
                "id",
                "state = 'declined' and answered_at < $1",
                cutoff,
            )
            .await?,
    )
}

/// Private keys of organisations deleted before `cutoff`, or whose deliveries are all done.
pub async fn deleted_keys(db: &Db, cutoff: i64) -> Result<u64, StoreError> {
    let sql = "update orgs set private_key_pem = null where deleted_at is not null and private_key_pem is not null \
         and (deleted_at < $1 or not exists (select 1 from outbox o join deliveries d on d.outbox_id = o.id \
         where o.org_id = orgs.id and d.delivered_at is null))";
    Ok(on_db!(db, pool => sqlx::query(sql).bind(cutoff).execute(pool).await.map(|r| r.rows_affected()))?)
}
