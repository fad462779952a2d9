//! Staff users, their memberships in organisations, and one-time sign-in links.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// A staff user.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Sign-in email (lowercased).
    pub email: String,
    /// argon2id PHC string; `None` until the user chooses a password.
    #[sqlx(default)]
    pub password_hash: Option<String>,
    /// Runs the instance.
    pub is_operator: bool,
    /// Creation time (ms).
    pub created_at: i64,
    /// Removal time: a removed user cannot sign in and their tokens stop working.
    pub removed_at: Option<i64>,
}

const COLUMNS: &str = "id, email, password_hash, is_operator, created_at, removed_at";

/// Inserts a user and returns the id (a taken email is a unique violation).
pub async fn insert(tx: &mut Tx, email: &str, is_operator: bool, now: i64) -> Result<i64, StoreError> {
    let row: (i64,) = on_tx!(tx, conn => sqlx::query_as(
        "insert into users (email, is_operator, created_at) values ($1, $2, $3) returning id")
        .bind(email).bind(is_operator).bind(now).fetch_one(conn).await)?;
    Ok(row.0)
}

/// Finds a user by email (removed or not).
pub async fn find_by_email(db: &Db, email: &str) -> Result<Option<User>, StoreError> {
    let sql = format!("select {COLUMNS} from users where email = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(email).fetch_optional(pool).await)?)
}

/// Finds a user by id.
pub async fn find(db: &Db, id: i64) -> Result<Option<User>, StoreError> {
    let sql = format!("select {COLUMNS} from users where id = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
}

/// Every user, by email.
pub async fn list(db: &Db) -> Result<Vec<User>, StoreError> {
    let sql = format!("select {COLUMNS} from users order by email");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?)
}

/// Every user, inside a transaction.
pub async fn list_in(tx: &mut Tx) -> Result<Vec<User>, StoreError> {
    let sql = format!("select {COLUMNS} from users order by email");
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).fetch_all(conn).await)?)
}

/// Sets a user's password hash.
pub async fn set_password(tx: &mut Tx, id: i64, hash: &str) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("update users set password_hash = $1 where id = $2")
        .bind(hash).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Makes a user an operator (or not).
pub async fn set_operator(tx: &mut Tx, id: i64, is_operator: bool) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("update users set is_operator = $1 where id = $2")
        .bind(is_operator).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes a user: memberships dropped, tokens revoked, sign-in refused from now on.
pub async fn remove(tx: &mut Tx, id: i64, now: i64) -> Result<(), StoreError> {
    for sql in [
        "delete from mail_queue where sent_at is null and recipient = (select email from users where id = $1) and $2 > 0",
        "delete from sessions where user_id = $1 and $2 > 0",
        // The address, password and second factor are erased; the row stays so that the audit
        // log's references resolve, as `removed-ID@invalid`.
        "update users set email = 'removed-' || cast(id as text) || '@invalid', totp_secret = null, totp_enabled = false, \
         totp_last_step = null where id = $1 and $2 > 0",
        "delete from memberships where user_id = $1",
        "update login_links set used_at = $2 where user_id = $1 and used_at is null",
        "update api_tokens set revoked_at = $2 where user_id = $1 and revoked_at is null",
        "update users set removed_at = $2, password_hash = null, is_operator = false where id = $1",
    ] {
        on_tx!(tx, conn => sqlx::query(sql).bind(id).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// A membership with the organisation's handle.
#[derive(sqlx::FromRow, Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The user.
    pub user_id: i64,
    /// The user's email.
    pub email: String,
    /// The organisation.
    pub org_id: i64,
    /// The organisation's handle.
    pub handle: String,
    /// `owner` or `editor`.
    pub role: String,
}

const MEMBERSHIP: &str = "select m.user_id, u.email, m.org_id, o.handle, m.role from memberships m \
    join users u on u.id = m.user_id join orgs o on o.id = m.org_id";

/// Grants (or changes) a role in an organisation.
pub async fn set_membership(tx: &mut Tx, user_id: i64, org_id: i64, role: &str, now: i64) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "insert into memberships (user_id, org_id, role, created_at) values ($1, $2, $3, $4) \
         on conflict (user_id, org_id) do update set role = excluded.role")
        .bind(user_id).bind(org_id).bind(role).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The owners of an organisation (user ids), locked until `tx` ends, so two changes cannot both
/// see an owner left that the other removes: on SQLite every write transaction holds the write
/// gate; on PostgreSQL the rows are taken `FOR UPDATE`.
pub async fn lock_owners(tx: &mut Tx, org_id: i64) -> Result<Vec<i64>, StoreError> {
    let sql = match tx {
        Tx::Sqlite(..) => "select user_id from memberships where org_id = $1 and role = 'owner' order by user_id",
        Tx::Postgres(_) => {
            "select user_id from memberships where org_id = $1 and role = 'owner' order by user_id for update"
        }
    };
    let rows: Vec<(i64,)> = on_tx!(tx, conn => sqlx::query_as(sql).bind(org_id).fetch_all(conn).await)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Ends a membership; returns whether there was one.
pub async fn remove_membership(tx: &mut Tx, user_id: i64, org_id: i64) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query("delete from memberships where user_id = $1 and org_id = $2")
        .bind(user_id).bind(org_id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// A user's role in an organisation, if any.
pub async fn role(db: &Db, user_id: i64, org_id: i64) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = on_db!(db, pool => sqlx::query_as(
        "select role from memberships where user_id = $1 and org_id = $2")
        .bind(user_id).bind(org_id).fetch_optional(pool).await)?;
    Ok(row.map(|r| r.0))
}

/// Members of an organisation.
pub async fn members(db: &Db, org_id: i64) -> Result<Vec<Membership>, StoreError> {
    let sql = format!("{MEMBERSHIP} where m.org_id = $1 order by u.email");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(org_id).fetch_all(pool).await)?)
}

/// Members of an organisation, inside a transaction.
pub async fn members_in(tx: &mut Tx, org_id: i64) -> Result<Vec<Membership>, StoreError> {
    let sql = format!("{MEMBERSHIP} where m.org_id = $1 order by u.email");
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(org_id).fetch_all(conn).await)?)
}

/// Memberships of a user.
pub async fn memberships_of(db: &Db, user_id: i64) -> Result<Vec<Membership>, StoreError> {
    let sql = format!("{MEMBERSHIP} where m.user_id = $1 order by o.handle");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await)?)
}

/// Stores a sign-in link's hash.
pub async fn insert_link(
    tx: &mut Tx,
    token_hash: &str,
    user_id: i64,
    purpose: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "insert into login_links (token_hash, user_id, purpose, expires_at) values ($1, $2, $3, $4)")
        .bind(token_hash).bind(user_id).bind(purpose).bind(expires_at).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A sign-in link: `(user_id, expires_at, used_at)`.
pub async fn find_link(db: &Db, token_hash: &str) -> Result<Option<(i64, i64, Option<i64>)>, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select user_id, expires_at, used_at from login_links where token_hash = $1")
        .bind(token_hash).fetch_optional(pool).await)?)
}

/// Marks a link used, only if it was unused; returns whether this call used it.
pub async fn use_link(tx: &mut Tx, token_hash: &str, now: i64) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query(
        "update login_links set used_at = $1 where token_hash = $2 and used_at is null and expires_at > $1")
        .bind(now).bind(token_hash).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}
