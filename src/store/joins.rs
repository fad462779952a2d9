//! Join requests: organisations asking to be hosted here.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// A join request.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct JoinRequest {
    /// Row id.
    pub id: i64,
    /// The handle asked for.
    pub handle: String,
    /// Organisation name.
    pub name: String,
    /// Who asks (becomes the owner).
    pub email: String,
    /// Their message to the operator.
    pub message: String,
    /// `pending`, `approved` or `declined`.
    pub state: String,
    /// When (ms).
    pub created_at: i64,
}

/// Stores a request.
pub async fn insert(
    tx: &mut Tx,
    handle: &str,
    name: &str,
    email: &str,
    message: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let row: (i64,) = on_tx!(tx, conn => sqlx::query_as(
        "insert into join_requests (handle, name, email, message, state, created_at) values ($1, $2, $3, $4, 'pending', $5) returning id")
        .bind(handle).bind(name).bind(email).bind(message).bind(now).fetch_one(conn).await)?;
    Ok(row.0)
}

/// Pending requests, oldest first.
pub async fn pending(db: &Db) -> Result<Vec<JoinRequest>, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select id, handle, name, email, message, state, created_at from join_requests where state = 'pending' order by id")
        .fetch_all(pool).await)?)
}

/// A request by id.
pub async fn find(db: &Db, id: i64) -> Result<Option<JoinRequest>, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select id, handle, name, email, message, state, created_at from join_requests where id = $1")
        .bind(id).fetch_optional(pool).await)?)
}

/// Answers a pending request; returns whether it was pending.
pub async fn answer(tx: &mut Tx, id: i64, state: &str, by: &str, now: i64) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query(
        "update join_requests set state = $1, answered_by = $2, answered_at = $3 where id = $4 and state = 'pending'")
        .bind(state).bind(by).bind(now).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Whether a pending request already asks for this handle.
pub async fn handle_pending(db: &Db, handle: &str) -> Result<bool, StoreError> {
    let row: Option<(i64,)> = on_db!(db, pool => sqlx::query_as(
        "select id from join_requests where handle = $1 and state = 'pending'").bind(handle).fetch_optional(pool).await)?;
    Ok(row.is_some())
}
