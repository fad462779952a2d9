//! The append-only audit log: rows are inserted, never changed.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// One audit entry.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct Entry {
    /// Row id.
    pub id: i64,
    /// When (ms).
    pub at: i64,
    /// Who: a user's email, or `cli`.
    pub actor: String,
    /// Which organisation, if any.
    pub handle: Option<String>,
    /// What: `org.create`, `profile.edit`, `update.publish`, ...
    pub action: String,
    /// JSON details (before/after for edits).
    pub details: String,
}

/// Appends an entry inside the transaction of the change it records.
pub async fn record(
    tx: &mut Tx,
    at: i64,
    user_id: Option<i64>,
    actor: &str,
    org_id: Option<i64>,
    action: &str,
    details: &str,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "insert into audit_log (at, user_id, actor, org_id, action, details) values ($1, $2, $3, $4, $5, $6)")
        .bind(at).bind(user_id).bind(actor).bind(org_id).bind(action).bind(details).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Entries, newest first: all, or those of one organisation.
pub async fn list(db: &Db, org_id: Option<i64>, limit: i64) -> Result<Vec<Entry>, StoreError> {
    let sql = "select a.id, a.at, a.actor, o.handle, a.action, a.details from audit_log a \
        left join orgs o on o.id = a.org_id where ($1 is null or a.org_id = $1) order by a.id desc limit $2";
    Ok(on_db!(db, pool => sqlx::query_as(sql).bind(org_id).bind(limit).fetch_all(pool).await)?)
}
