//! Updates published by organisations, and the likes and boosts they receive.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

const COLUMNS: &str = "id, org_id, source, content_html, tags, lang, published, updated, deleted_at, content_warning";

/// An update row.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct Post {
    /// Row id: the `{id}` in `/orgs/{handle}/updates/{id}`.
    pub id: i64,
    /// Author.
    pub org_id: i64,
    /// Plain text as written.
    pub source: String,
    /// Rendered HTML.
    pub content_html: String,
    /// JSON array of lowercased hashtag names.
    pub tags: String,
    /// BCP 47 language.
    pub lang: String,
    /// Publication time (ms).
    pub published: i64,
    /// Last edit (ms).
    pub updated: Option<i64>,
    /// Deletion time: the object then answers 410.
    pub deleted_at: Option<i64>,
    /// Content warning shown before the text.
    pub content_warning: Option<String>,
}

impl Post {
    /// Hashtag names.
    pub fn tag_names(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }
}

/// Inserts an update inside `tx` and returns its id.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    tx: &mut Tx,
    org_id: i64,
    source: &str,
    html: &str,
    tags: &str,
    lang: &str,
    warning: Option<&str>,
    now: i64,
) -> Result<i64, StoreError> {
    let sql = "insert into posts (org_id, source, content_html, tags, lang, published, content_warning) \
        values ($1, $2, $3, $4, $5, $6, $7) returning id";
    let row: (i64,) = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(org_id).bind(source).bind(html).bind(tags).bind(lang).bind(now).bind(warning).fetch_one(conn).await)?;
    Ok(row.0)
}

/// Rewrites an update's text and content warning inside `tx`.
pub async fn update_with_warning(
    tx: &mut Tx,
    id: i64,
    source: &str,
    html: &str,
    tags: &str,
    warning: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("update posts set source = $1, content_html = $2, tags = $3, updated = $4, content_warning = $6 where id = $5")
        .bind(source).bind(html).bind(tags).bind(now).bind(id).bind(warning).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Marks an update deleted inside `tx`.
pub async fn mark_deleted(tx: &mut Tx, id: i64, now: i64) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("update posts set deleted_at = $1 where id = $2").bind(now).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Finds an update of an organisation, deleted or not.
pub async fn find(db: &Db, org_id: i64, id: i64) -> Result<Option<Post>, StoreError> {
    let sql = format!("select {COLUMNS} from posts where org_id = $1 and id = $2");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(org_id).bind(id).fetch_optional(pool).await)?)
}

/// Finds an update inside a transaction.
pub async fn find_in(tx: &mut Tx, org_id: i64, id: i64) -> Result<Option<Post>, StoreError> {
    let sql = format!("select {COLUMNS} from posts where org_id = $1 and id = $2");
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(org_id).bind(id).fetch_optional(conn).await)?)
}

/// Live updates of an organisation, newest first, with ids below `before` (for paging).
pub async fn list(db: &Db, org_id: i64, before: i64, limit: i64) -> Result<Vec<Post>, StoreError> {
    let sql = format!(
        "select {COLUMNS} from posts where org_id = $1 and id < $2 and deleted_at is null order by id desc limit $3"
    );
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(org_id).bind(before).bind(limit).fetch_all(pool).await)?)
}

/// An update with its organisation's handle.
#[derive(sqlx::FromRow)]
struct Tagged {
    handle: String,
    #[sqlx(flatten)]
    post: Post,
}

/// Live updates using a hashtag (lowercased), newest first, with their organisation's handle.
pub async fn with_tag(db: &Db, tag: &str, limit: i64) -> Result<Vec<(String, Post)>, StoreError> {
    let pattern = format!("%\"{tag}\"%");
    let sql = "select o.handle, p.id, p.org_id, p.source, p.content_html, p.tags, p.lang, p.published, p.updated, \
        p.deleted_at, p.content_warning from posts p join orgs o on o.id = p.org_id \
        where p.deleted_at is null and o.deleted_at is null and p.tags like $1 order by p.id desc limit $2";
    let rows: Vec<Tagged> = on_db!(db, pool => sqlx::query_as(sql).bind(&pattern).bind(limit).fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| (r.handle, r.post)).collect())
}

/// Number of live updates of an organisation (or all organisations with `None`).
pub async fn count(db: &Db, org_id: Option<i64>) -> Result<i64, StoreError> {
    let row: (i64,) = on_db!(db, pool => sqlx::query_as(
        "select count(*) from posts where deleted_at is null and ($1 is null or org_id = $1)")
        .bind(org_id).fetch_one(pool).await)?;
    Ok(row.0)
}

/// Records a like or boost; a repeated activity id changes nothing.
pub async fn add_interaction(
    tx: &mut Tx,
    activity_ap_id: &str,
    kind: &str,
    actor_id: i64,
    post_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    let sql = "insert into interactions (activity_ap_id, kind, actor_id, post_id, created_at) values ($1, $2, $3, $4, $5) \
        on conflict (activity_ap_id) do nothing";
    on_tx!(tx, conn => sqlx::query(sql).bind(activity_ap_id).bind(kind).bind(actor_id).bind(post_id).bind(now)
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes a like or boost made by `actor_id` (Undo); returns whether one was there.
pub async fn remove_interaction(tx: &mut Tx, activity_ap_id: &str, actor_id: i64) -> Result<bool, StoreError> {
    let done = on_tx!(tx, conn => sqlx::query("delete from interactions where activity_ap_id = $1 and actor_id = $2")
        .bind(activity_ap_id).bind(actor_id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// Number of interactions of a kind (`like`, `announce`) on an update.
pub async fn interaction_count(db: &Db, post_id: i64, kind: &str) -> Result<i64, StoreError> {
    let row: (i64,) = on_db!(db, pool => sqlx::query_as(
        "select count(*) from interactions where post_id = $1 and kind = $2").bind(post_id).bind(kind).fetch_one(pool).await)?;
    Ok(row.0)
}
