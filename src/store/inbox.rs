//! What arrives in the inbox: seen activity ids, and remote notes kept for organisations.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// Records an activity id; returns false when it was seen before (a replay or a retry).
pub async fn first_sight(tx: &mut Tx, ap_id: &str, now: i64) -> Result<bool, StoreError> {
    let done = on_tx!(tx, conn => sqlx::query(
        "insert into received_activities (ap_id, received_at) values ($1, $2) on conflict (ap_id) do nothing")
        .bind(ap_id).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Whether an activity id was processed.
pub async fn seen(db: &Db, ap_id: &str) -> Result<bool, StoreError> {
    let row: Option<(String,)> = on_db!(db, pool => sqlx::query_as("select ap_id from received_activities where ap_id = $1")
        .bind(ap_id).fetch_optional(pool).await)?;
    Ok(row.is_some())
}

/// A remote note kept for an organisation.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct RemoteNote {
    /// The note's id URL.
    pub ap_id: String,
    /// Author's actor id URL.
    pub actor_ap_id: String,
    /// Which organisation it is for.
    pub org_id: i64,
    /// `reply`, `mention` or `followed`.
    pub reason: String,
    /// The update it answers, if any.
    pub post_id: Option<i64>,
    /// Sanitised HTML.
    pub content_html: String,
    /// Publication time (ms).
    pub published: i64,
    /// Last edit (ms).
    pub updated: Option<i64>,
    /// JSON array of `{url, mediaType, name}` from the note's attachments.
    pub attachments: String,
}

/// Stores a note for an organisation (one row per note id; the first reason wins).
#[allow(clippy::too_many_arguments)]
pub async fn insert_note(
    tx: &mut Tx,
    ap_id: &str,
    actor_id: i64,
    org_id: i64,
    reason: &str,
    post_id: Option<i64>,
    html: &str,
    attachments: &str,
    published: i64,
    now: i64,
) -> Result<(), StoreError> {
    let sql = "insert into remote_notes (ap_id, actor_id, org_id, reason, post_id, content_html, published, received_at, \
        attachments) values ($1, $2, $3, $4, $5, $6, $7, $8, $9) on conflict (ap_id) do nothing";
    on_tx!(tx, conn => sqlx::query(sql).bind(ap_id).bind(actor_id).bind(org_id).bind(reason).bind(post_id).bind(html)
        .bind(published).bind(now).bind(attachments).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Rewrites a stored note's content, only if `actor_id` wrote it; returns whether it did.
pub async fn update_note(tx: &mut Tx, ap_id: &str, actor_id: i64, html: &str, now: i64) -> Result<bool, StoreError> {
    let done = on_tx!(tx, conn => sqlx::query(
        "update remote_notes set content_html = $1, updated = $2 where ap_id = $3 and actor_id = $4")
        .bind(html).bind(now).bind(ap_id).bind(actor_id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// The author of a stored note, if we keep it.
pub async fn note_author(tx: &mut Tx, ap_id: &str) -> Result<Option<i64>, StoreError> {
    let row: Option<(i64,)> = on_tx!(tx, conn => sqlx::query_as("select actor_id from remote_notes where ap_id = $1")
        .bind(ap_id).fetch_optional(conn).await)?;
    Ok(row.map(|r| r.0))
}

/// Deletes a stored note.
pub async fn delete_note(tx: &mut Tx, ap_id: &str) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("delete from remote_notes where ap_id = $1").bind(ap_id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Notes kept for an organisation, newest first.
pub async fn notes_for(db: &Db, org_id: i64, limit: i64) -> Result<Vec<RemoteNote>, StoreError> {
    let sql = "select n.ap_id, a.ap_id as actor_ap_id, n.org_id, n.reason, n.post_id, n.content_html, n.published, n.updated, \
        n.attachments from remote_notes n join remote_actors a on a.id = n.actor_id where n.org_id = $1 order by n.id desc limit $2";
    Ok(on_db!(db, pool => sqlx::query_as(sql).bind(org_id).bind(limit).fetch_all(pool).await)?)
}

/// A reply to one of our updates, with its author.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct Reply {
    /// The note's id URL.
    pub ap_id: String,
    /// Sanitised HTML.
    pub content_html: String,
    /// Publication time (ms).
    pub published: i64,
    /// JSON array of the note's attachments.
    pub attachments: String,
    /// Author's actor id URL.
    pub actor_ap_id: String,
    /// Author's profile page.
    pub actor_url: Option<String>,
    /// Author's display name.
    pub name: String,
    /// Author's username.
    pub username: String,
    /// Author's domain.
    pub domain: String,
    /// Author's avatar on its server.
    pub icon_url: Option<String>,
}

/// Replies to an update, oldest first.
pub async fn replies_to(db: &Db, post_id: i64, limit: i64) -> Result<Vec<Reply>, StoreError> {
    let sql = "select n.ap_id, n.content_html, n.published, n.attachments, a.ap_id as actor_ap_id, a.url as actor_url, \
        a.name, a.username, a.domain, a.icon_url from remote_notes n join remote_actors a on a.id = n.actor_id \
        where n.post_id = $1 and n.reason = 'reply' and a.deleted_at is null order by n.published, n.id limit $2";
    Ok(on_db!(db, pool => sqlx::query_as(sql).bind(post_id).bind(limit).fetch_all(pool).await)?)
}
