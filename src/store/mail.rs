//! Outgoing mail, queued with the event that caused it and sent by the mail worker.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// A queued message.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct Mail {
    /// Row id.
    pub id: i64,
    /// Recipient address.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body: String,
    /// Attempts so far.
    pub attempts: i32,
}

/// Queues a message inside `tx`.
pub async fn enqueue(tx: &mut Tx, recipient: &str, subject: &str, body: &str, now: i64) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "insert into mail_queue (recipient, subject, body, created_at, attempts, next_at) values ($1, $2, $3, $4, 0, $4)")
        .bind(recipient).bind(subject).bind(body).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Messages due now.
pub async fn due(db: &Db, now: i64, limit: i64) -> Result<Vec<Mail>, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select id, recipient, subject, body, attempts from mail_queue where sent_at is null and next_at <= $1 order by id limit $2")
        .bind(now).bind(limit).fetch_all(pool).await)?)
}

/// Marks a message sent.
pub async fn sent(db: &Db, id: i64, now: i64) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query("update mail_queue set sent_at = $1 where id = $2")
        .bind(now).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records a failed attempt and when to retry.
pub async fn failed(db: &Db, id: i64, attempts: i32, next_at: i64, error: &str) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query("update mail_queue set attempts = $1, next_at = $2, last_error = $3 where id = $4")
        .bind(attempts).bind(next_at).bind(error).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}
