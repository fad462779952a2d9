//! Follow relationships in both directions.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// `followers.state` / `following.state`: waiting for approval.
pub const PENDING: &str = "pending";
/// `followers.state` / `following.state`: in force.
pub const ACCEPTED: &str = "accepted";

/// Records (or refreshes) a remote actor's follow of an organisation; returns the stored state.
/// A repeated Follow keeps an accepted relationship accepted and updates the Follow id.
pub async fn upsert_follower(
    tx: &mut Tx,
    org_id: i64,
    actor_id: i64,
    follow_ap_id: &str,
    state: &str,
    now: i64,
) -> Result<String, StoreError> {
    let sql = "insert into followers (org_id, actor_id, follow_ap_id, state, created_at) values ($1, $2, $3, $4, $5) \
        on conflict (org_id, actor_id) do update set follow_ap_id = excluded.follow_ap_id, \
        state = case when followers.state = 'accepted' then 'accepted' else excluded.state end returning state";
    let row: (String,) = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(org_id).bind(actor_id).bind(follow_ap_id).bind(state).bind(now).fetch_one(conn).await)?;
    Ok(row.0)
}

/// Removes a follower; returns whether there was one.
pub async fn remove_follower(tx: &mut Tx, org_id: i64, actor_id: i64) -> Result<bool, StoreError> {
    let done = on_tx!(tx, conn => sqlx::query("delete from followers where org_id = $1 and actor_id = $2")
        .bind(org_id).bind(actor_id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// Removes the follow with this Follow id made by `actor_id`; returns whether there was one.
pub async fn remove_follower_by_activity(tx: &mut Tx, actor_id: i64, follow_ap_id: &str) -> Result<bool, StoreError> {
    let done = on_tx!(tx, conn => sqlx::query("delete from followers where actor_id = $1 and follow_ap_id = $2")
        .bind(actor_id).bind(follow_ap_id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// A follower as staff see it.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct FollowerRow {
    /// The follower's actor id URL.
    pub ap_id: String,
    /// `pending` or `accepted`.
    pub state: String,
    /// The Follow activity id (answered by Accept/Reject).
    pub follow_ap_id: String,
    /// The follower's personal inbox.
    pub inbox: String,
    /// Row id of the remote actor.
    pub actor_id: i64,
}

/// Followers of an organisation in a state, oldest first.
pub async fn followers(db: &Db, org_id: i64, state: &str) -> Result<Vec<FollowerRow>, StoreError> {
    let sql = "select a.ap_id, f.state, f.follow_ap_id, a.inbox, a.id as actor_id from followers f \
        join remote_actors a on a.id = f.actor_id where f.org_id = $1 and f.state = $2 order by f.id";
    Ok(on_db!(db, pool => sqlx::query_as(sql).bind(org_id).bind(state).fetch_all(pool).await)?)
}

/// Sets a follower's state (approval).
pub async fn set_follower_state(tx: &mut Tx, org_id: i64, actor_id: i64, state: &str) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("update followers set state = $1 where org_id = $2 and actor_id = $3")
        .bind(state).bind(org_id).bind(actor_id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Number of accepted followers.
pub async fn follower_count(db: &Db, org_id: i64) -> Result<i64, StoreError> {
    let row: (i64,) = on_db!(db, pool => sqlx::query_as(
        "select count(*) from followers where org_id = $1 and state = 'accepted'").bind(org_id).fetch_one(pool).await)?;
    Ok(row.0)
}

/// Distinct delivery inboxes of accepted followers (shared inbox where advertised), with domains.
pub async fn follower_inboxes(tx: &mut Tx, org_id: i64) -> Result<Vec<(String, String)>, StoreError> {
    let sql = "select distinct coalesce(a.shared_inbox, a.inbox), a.domain from followers f \
        join remote_actors a on a.id = f.actor_id \
        where f.org_id = $1 and f.state = 'accepted' and a.deleted_at is null order by 1";
    Ok(on_tx!(tx, conn => sqlx::query_as(sql).bind(org_id).fetch_all(conn).await)?)
}

/// Records that an organisation asked to follow a remote actor.
pub async fn upsert_following(
    tx: &mut Tx,
    org_id: i64,
    actor_id: i64,
    follow_ap_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let sql = "insert into following (org_id, actor_id, follow_ap_id, state, created_at) values ($1, $2, $3, 'pending', $4) \
        on conflict (org_id, actor_id) do update set follow_ap_id = excluded.follow_ap_id";
    on_tx!(tx, conn => sqlx::query(sql).bind(org_id).bind(actor_id).bind(follow_ap_id).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Marks our Follow accepted (`accepted`) or removes it (Reject); only when `actor_id` is its target.
pub async fn answer_following(
    tx: &mut Tx,
    follow_ap_id: &str,
    actor_id: i64,
    accepted: bool,
) -> Result<bool, StoreError> {
    let done: u64 = if accepted {
        on_tx!(tx, conn => sqlx::query("update following set state = 'accepted' where follow_ap_id = $1 and actor_id = $2")
            .bind(follow_ap_id).bind(actor_id).execute(conn).await.map(|r| r.rows_affected()))?
    } else {
        on_tx!(tx, conn => sqlx::query("delete from following where follow_ap_id = $1 and actor_id = $2")
            .bind(follow_ap_id).bind(actor_id).execute(conn).await.map(|r| r.rows_affected()))?
    };
    Ok(done > 0)
}

/// State of an organisation's follow of a remote actor, if any.
pub async fn following_state(db: &Db, org_id: i64, actor_ap_id: &str) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = on_db!(db, pool => sqlx::query_as(
        "select f.state from following f join remote_actors a on a.id = f.actor_id where f.org_id = $1 and a.ap_id = $2")
        .bind(org_id).bind(actor_ap_id).fetch_optional(pool).await)?;
    Ok(row.map(|r| r.0))
}

/// Organisations with an accepted follow of `actor_id`.
pub async fn orgs_following(tx: &mut Tx, actor_id: i64) -> Result<Vec<i64>, StoreError> {
    let rows: Vec<(i64,)> = on_tx!(tx, conn => sqlx::query_as(
        "select org_id from following where actor_id = $1 and state = 'accepted'").bind(actor_id).fetch_all(conn).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Number of accepted follows made by an organisation.
pub async fn following_count(db: &Db, org_id: i64) -> Result<i64, StoreError> {
    let row: (i64,) = on_db!(db, pool => sqlx::query_as(
        "select count(*) from following where org_id = $1 and state = 'accepted'").bind(org_id).fetch_one(pool).await)?;
    Ok(row.0)
}

/// Accounts an organisation follows or asked to follow: (actor id URL, state), oldest first.
pub async fn following(db: &Db, org_id: i64) -> Result<Vec<(String, String)>, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select a.ap_id, f.state from following f join remote_actors a on a.id = f.actor_id where f.org_id = $1 order by f.id")
        .bind(org_id).fetch_all(pool).await)?)
}

/// Inboxes (shared when they have one) of the accounts an organisation follows or asked to.
pub async fn following_inboxes(tx: &mut Tx, org_id: i64) -> Result<Vec<String>, StoreError> {
    let sql = "select distinct coalesce(a.shared_inbox, a.inbox) from following f \
        join remote_actors a on a.id = f.actor_id where f.org_id = $1 and a.deleted_at is null order by 1";
    let rows: Vec<(String,)> = on_tx!(tx, conn => sqlx::query_as(sql).bind(org_id).fetch_all(conn).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
