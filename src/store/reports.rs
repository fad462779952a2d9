//! Reports (`Flag`): received from other instances, and sent by our operators.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// A report.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct Report {
    /// Row id.
    pub id: i64,
    /// `received` or `sent`.
    pub direction: String,
    /// The Flag's id.
    pub ap_id: String,
    /// Who reported (an actor id).
    pub reporter: String,
    /// The reported actor.
    pub target: String,
    /// Reported objects, space-separated.
    pub objects: String,
    /// The reporter's comment (plain text).
    pub content: String,
    /// When (ms).
    pub created_at: i64,
    /// When an operator marked it resolved.
    pub resolved_at: Option<i64>,
}

/// Stores a report (a repeated Flag id changes nothing).
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut Tx,
    direction: &str,
    ap_id: &str,
    reporter: &str,
    target: &str,
    objects: &str,
    content: &str,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "insert into reports (direction, ap_id, reporter, target, objects, content, created_at) values ($1, $2, $3, $4, $5, $6, $7) \
         on conflict (ap_id) do nothing")
        .bind(direction).bind(ap_id).bind(reporter).bind(target).bind(objects).bind(content).bind(now)
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Reports, newest first.
pub async fn list(db: &Db) -> Result<Vec<Report>, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select id, direction, ap_id, reporter, target, objects, content, created_at, resolved_at from reports order by id desc")
        .fetch_all(pool).await)?)
}

/// Marks a report resolved; returns whether it was open.
pub async fn resolve(tx: &mut Tx, id: i64, now: i64) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query("update reports set resolved_at = $1 where id = $2 and resolved_at is null")
        .bind(now).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
