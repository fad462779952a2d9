//! API tokens (only their SHA-256 is stored).

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// A token row.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct Token {
    /// Row id (what `token revoke` takes).
    pub id: i64,
    /// Owner.
    pub user_id: i64,
    /// Owner's email.
    pub email: String,
    /// The organisation it is scoped to.
    pub org_id: Option<i64>,
    /// That organisation's handle.
    pub handle: Option<String>,
    /// Operator scope.
    pub operator: bool,
    /// Label.
    pub name: String,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last use (ms).
    pub last_used_at: Option<i64>,
    /// Revocation time.
    pub revoked_at: Option<i64>,
}

const SELECT: &str = "select t.id, t.user_id, u.email, t.org_id, o.handle, t.operator, t.name, t.created_at, \
    t.last_used_at, t.revoked_at from api_tokens t join users u on u.id = t.user_id left join orgs o on o.id = t.org_id";

/// Stores a new token.
pub async fn insert(
    tx: &mut Tx,
    hash: &str,
    user_id: i64,
    org_id: Option<i64>,
    operator: bool,
    name: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let row: (i64,) = on_tx!(tx, conn => sqlx::query_as(
        "insert into api_tokens (token_hash, user_id, org_id, operator, name, created_at) values ($1, $2, $3, $4, $5, $6) returning id")
        .bind(hash).bind(user_id).bind(org_id).bind(operator).bind(name).bind(now).fetch_one(conn).await)?;
    Ok(row.0)
}

/// Finds a live token by hash.
pub async fn find_live(db: &Db, hash: &str) -> Result<Option<Token>, StoreError> {
    let sql = format!("{SELECT} where t.token_hash = $1 and t.revoked_at is null and u.removed_at is null");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(hash).fetch_optional(pool).await)?)
}

/// Records a use (at most once a minute per token, to keep reads cheap).
pub async fn touch(db: &Db, id: i64, now: i64) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query(
        "update api_tokens set last_used_at = $1 where id = $2 and (last_used_at is null or last_used_at < $3)")
        .bind(now).bind(id).bind(now - 60_000).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Tokens, all or of one user.
pub async fn list(db: &Db, user_id: Option<i64>) -> Result<Vec<Token>, StoreError> {
    let sql = format!("{SELECT} where ($1 is null or t.user_id = $1) order by t.id");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await)?)
}

/// Finds a token by id.
pub async fn find(db: &Db, id: i64) -> Result<Option<Token>, StoreError> {
    let sql = format!("{SELECT} where t.id = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
}

/// Revokes a token; returns whether it was live.
pub async fn revoke(tx: &mut Tx, id: i64, now: i64) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query("update api_tokens set revoked_at = $1 where id = $2 and revoked_at is null")
        .bind(now).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
