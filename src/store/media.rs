//! Stored media (the rows behind the content-addressed files), attachments on updates, and the
//! cache of remote pictures.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

const COLUMNS: &str = "id, sha256, media_type, byte_size, width, height, blurhash, created_at";

/// A stored file.
#[derive(sqlx::FromRow, Clone, Debug, PartialEq, Eq)]
pub struct Media {
    /// Row id.
    pub id: i64,
    /// SHA-256 of the bytes (hex): the file's name without extension.
    pub sha256: String,
    /// `image/jpeg`, `image/png` or `application/pdf`.
    pub media_type: String,
    /// Size of the file.
    pub byte_size: i64,
    /// Width in pixels (images).
    pub width: Option<i64>,
    /// Height in pixels (images).
    pub height: Option<i64>,
    /// BlurHash placeholder (images).
    pub blurhash: Option<String>,
    /// When first stored (ms).
    pub created_at: i64,
}

impl Media {
    /// The file name: `<sha256>.<ext>`.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.sha256, crate::domain::media::extension(&self.media_type))
    }
}

/// An attachment of an update: the file and its description (alt text).
#[derive(sqlx::FromRow, Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    /// The update.
    pub post_id: i64,
    /// Order on the update, from 0.
    pub position: i64,
    /// Alt text (images) or title (documents).
    pub description: String,
    /// The file.
    #[sqlx(flatten)]
    pub media: Media,
}

/// Records a stored file, or finds the row already there for the same bytes.
pub async fn upsert(db: &Db, m: &Media) -> Result<Media, StoreError> {
    let sql = format!(
        "insert into media (sha256, media_type, byte_size, width, height, blurhash, created_at) \
        values ($1, $2, $3, $4, $5, $6, $7) on conflict (sha256) do update set sha256 = excluded.sha256 \
        returning {COLUMNS}"
    );
    Ok(on_db!(db, pool => sqlx::query_as(&sql)
        .bind(&m.sha256).bind(&m.media_type).bind(m.byte_size).bind(m.width).bind(m.height).bind(&m.blurhash)
        .bind(m.created_at).fetch_one(pool).await)?)
}

/// Finds a stored file by its hash.
pub async fn find_by_sha(db: &Db, sha256: &str) -> Result<Option<Media>, StoreError> {
    let sql = format!("select {COLUMNS} from media where sha256 = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(sha256).fetch_optional(pool).await)?)
}

/// Finds a stored file by id.
pub async fn find(db: &Db, id: i64) -> Result<Option<Media>, StoreError> {
    let sql = format!("select {COLUMNS} from media where id = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
}

/// Replaces the attachments of an update inside `tx`.
pub async fn set_attachments(tx: &mut Tx, post_id: i64, items: &[(i64, String)]) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("delete from post_attachments where post_id = $1").bind(post_id)
        .execute(conn).await.map(|r| r.rows_affected()))?;
    for (position, (media_id, description)) in items.iter().enumerate() {
        let position = position as i64;
        on_tx!(tx, conn => sqlx::query(
            "insert into post_attachments (post_id, position, media_id, description) values ($1, $2, $3, $4)")
            .bind(post_id).bind(position).bind(media_id).bind(description)
            .execute(conn).await.map(|r| r.rows_affected()))?;
    }
    Ok(())
}

const ATTACHMENT_SELECT: &str = "select a.post_id, a.position, a.description, m.id, m.sha256, m.media_type, \
    m.byte_size, m.width, m.height, m.blurhash, m.created_at from post_attachments a join media m on m.id = a.media_id";

/// Attachments of one update, in order.
pub async fn attachments(db: &Db, post_id: i64) -> Result<Vec<Attachment>, StoreError> {
    let sql = format!("{ATTACHMENT_SELECT} where a.post_id = $1 order by a.position");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(post_id).fetch_all(pool).await)?)
}

/// Attachments of an update, inside a transaction.
pub async fn attachments_in(tx: &mut Tx, post_id: i64) -> Result<Vec<Attachment>, StoreError> {
    let sql = format!("{ATTACHMENT_SELECT} where a.post_id = $1 order by a.position");
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(post_id).fetch_all(conn).await)?)
}

/// Attachments of several updates (a page of them), in order within each.
pub async fn attachments_of(db: &Db, post_ids: &[i64]) -> Result<Vec<Attachment>, StoreError> {
    if post_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=post_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "{ATTACHMENT_SELECT} where a.post_id in ({}) order by a.post_id, a.position",
        marks.join(", ")
    );
    let rows: Vec<Attachment> = on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql);
        for id in post_ids {
            query = query.bind(id);
        }
        query.fetch_all(pool).await
    })?;
    Ok(rows)
}

/// A remote picture we may show, by the hash of its URL.
#[derive(sqlx::FromRow, Clone, Debug)]
pub struct RemoteMedia {
    /// SHA-256 of the URL (hex).
    pub key: String,
    /// The remote URL.
    pub url: String,
    /// `avatar`, `header` or `preview`.
    pub purpose: String,
    /// Hash of the cached file, once fetched.
    pub sha256: Option<String>,
    /// Media type of the cached file.
    pub media_type: Option<String>,
    /// Size of the cached file.
    pub byte_size: i64,
    /// When fetched (ms).
    pub fetched_at: Option<i64>,
    /// When the last fetch failed (ms).
    pub failed_at: Option<i64>,
}

/// Registers a remote picture so our pages may show it (idempotent).
pub async fn register_remote(tx: &mut Tx, key: &str, url: &str, purpose: &str, now: i64) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "insert into remote_media (key, url, purpose, last_used) values ($1, $2, $3, $4) on conflict (key) do nothing")
        .bind(key).bind(url).bind(purpose).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Finds a registered remote picture.
pub async fn find_remote(db: &Db, key: &str) -> Result<Option<RemoteMedia>, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select key, url, purpose, sha256, media_type, byte_size, fetched_at, failed_at from remote_media where key = $1")
        .bind(key).fetch_optional(pool).await)?)
}

/// Records a cached copy of a remote picture.
pub async fn remote_fetched(
    db: &Db,
    key: &str,
    sha256: &str,
    media_type: &str,
    size: i64,
    now: i64,
) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query(
        "update remote_media set sha256 = $2, media_type = $3, byte_size = $4, fetched_at = $5, failed_at = null, \
        last_used = $5 where key = $1")
        .bind(key).bind(sha256).bind(media_type).bind(size).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records a failed fetch (not retried for a while).
pub async fn remote_failed(db: &Db, key: &str, now: i64) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query("update remote_media set failed_at = $2 where key = $1")
        .bind(key).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Marks a cached picture used now (the cache evicts the least recently used).
pub async fn touch_remote(db: &Db, key: &str, now: i64) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query("update remote_media set last_used = $2 where key = $1")
        .bind(key).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Total bytes of cached remote pictures.
pub async fn remote_cache_bytes(db: &Db) -> Result<i64, StoreError> {
    let row: (Option<i64>,) = on_db!(db, pool => sqlx::query_as(
        "select cast(sum(byte_size) as bigint) from remote_media where fetched_at is not null").fetch_one(pool).await)?;
    Ok(row.0.unwrap_or(0))
}

/// The least recently used cached pictures: (key, sha256, media type, size).
pub async fn least_used_remote(db: &Db, limit: i64) -> Result<Vec<(String, String, String, i64)>, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select key, sha256, media_type, byte_size from remote_media where fetched_at is not null and sha256 is not null \
        order by last_used limit $1").bind(limit).fetch_all(pool).await)?)
}

/// Forgets a cached copy (the registration stays, so it can be fetched again).
pub async fn evict_remote(db: &Db, key: &str) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query(
        "update remote_media set sha256 = null, media_type = null, byte_size = 0, fetched_at = null where key = $1")
        .bind(key).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether another cached picture still uses the file with this hash.
pub async fn remote_file_in_use(db: &Db, sha256: &str) -> Result<bool, StoreError> {
    let row: (i64,) = on_db!(db, pool => sqlx::query_as(
        "select count(*) from remote_media where sha256 = $1").bind(sha256).fetch_one(pool).await)?;
    Ok(row.0 > 0)
}

/// Stored files made before `cutoff` that nothing live uses any more: no live update has them
/// attached and no live organisation has them as avatar or header (at most `limit`).
pub async fn orphans(db: &Db, cutoff: i64, limit: i64) -> Result<Vec<Media>, StoreError> {
    let sql = format!(
        "select {COLUMNS} from media m where m.created_at < $1 \
         and not exists (select 1 from post_attachments pa join posts p on p.id = pa.post_id \
                         where pa.media_id = m.id and p.deleted_at is null) \
         and not exists (select 1 from orgs o where o.deleted_at is null \
                         and (o.avatar like m.sha256 || '.%' or o.header like m.sha256 || '.%')) \
         order by m.id limit $2"
    );
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(cutoff).bind(limit).fetch_all(pool).await)?)
}

/// Forgets a stored file (and its attachment rows on deleted updates); the caller removes the file.
pub async fn forget(db: &Db, id: i64) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    for sql in [
        "delete from post_attachments where media_id = $1",
        "delete from media where id = $1",
    ] {
        on_tx!(&mut tx, conn => sqlx::query(sql).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    }
    tx.commit().await
}
