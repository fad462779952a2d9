//! Web sessions (a hash of the cookie secret) and users' second factors.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// A live session with its user.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct Session {
    /// Hash of the cookie secret.
    pub id_hash: String,
    /// The user.
    pub user_id: i64,
    /// The user's email.
    pub email: String,
    /// Whether the user is an operator.
    pub is_operator: bool,
    /// Whether the user has a second factor on.
    pub totp_enabled: bool,
    /// The session's CSRF token.
    pub csrf: String,
    /// The second factor was checked (or is not required).
    pub mfa_ok: bool,
    /// Last activity (ms).
    pub last_seen_at: i64,
}

/// Stores a new session.
pub async fn insert(
    tx: &mut Tx,
    id_hash: &str,
    user_id: i64,
    csrf: &str,
    mfa_ok: bool,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "insert into sessions (id_hash, user_id, csrf, mfa_ok, created_at, last_seen_at, expires_at) values ($1, $2, $3, $4, $5, $5, $6)")
        .bind(id_hash).bind(user_id).bind(csrf).bind(mfa_ok).bind(now).bind(expires_at).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A live session by hash.
pub async fn find(db: &Db, id_hash: &str, now: i64) -> Result<Option<Session>, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select s.id_hash, s.user_id, u.email, u.is_operator, u.totp_enabled, s.csrf, s.mfa_ok, s.last_seen_at from sessions s \
         join users u on u.id = s.user_id where s.id_hash = $1 and s.revoked_at is null and s.expires_at > $2 and u.removed_at is null")
        .bind(id_hash).bind(now).fetch_optional(pool).await)?)
}

/// Records activity (sliding expiry).
pub async fn touch(db: &Db, id_hash: &str, now: i64, expires_at: i64) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query("update sessions set last_seen_at = $1, expires_at = $2 where id_hash = $3")
        .bind(now).bind(expires_at).bind(id_hash).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Marks the second factor checked.
pub async fn set_mfa_ok(tx: &mut Tx, id_hash: &str) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("update sessions set mfa_ok = true where id_hash = $1")
        .bind(id_hash).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends one session.
pub async fn revoke(db: &Db, id_hash: &str, now: i64) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query("update sessions set revoked_at = $1 where id_hash = $2 and revoked_at is null")
        .bind(now).bind(id_hash).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Ends every session of a user; returns how many.
pub async fn revoke_all(tx: &mut Tx, user_id: i64, now: i64) -> Result<u64, StoreError> {
    Ok(
        on_tx!(tx, conn => sqlx::query("update sessions set revoked_at = $1 where user_id = $2 and revoked_at is null")
        .bind(now).bind(user_id).execute(conn).await.map(|r| r.rows_affected()))?,
    )
}

/// A user's TOTP secret (base32), whether it is on, and the last step used.
pub async fn totp(db: &Db, user_id: i64) -> Result<(Option<String>, bool, Option<i64>), StoreError> {
    Ok(
        on_db!(db, pool => sqlx::query_as("select totp_secret, totp_enabled, totp_last_step from users where id = $1")
        .bind(user_id).fetch_one(pool).await)?,
    )
}

/// Stores a new (not yet enabled) TOTP secret.
pub async fn set_totp_secret(db: &Db, user_id: i64, secret: &str) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query("update users set totp_secret = $1, totp_enabled = false where id = $2")
        .bind(secret).bind(user_id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Turns the second factor on and/or records the step just used (a code works once).
pub async fn use_totp_step(tx: &mut Tx, user_id: i64, step: i64, enable: bool) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query(
        "update users set totp_last_step = $1, totp_enabled = (totp_enabled or $2) where id = $3 and (totp_last_step is null or totp_last_step < $1)")
        .bind(step).bind(enable).bind(user_id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
