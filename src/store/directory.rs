//! The directory: one row per listable organisation (local or remote), with native full-text
//! search (SQLite FTS5, PostgreSQL `tsvector` + GIN) behind one function.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

const COLUMNS: &str = "id, actor, org_id, handle, domain, profile_url, name, summary, kinds, themes, communities, \
    places, place_names, ways, offers, languages, terms, website, listed_in, listed, sort_name, changed_at";

/// A directory row. List fields are `;`-joined codes.
#[derive(sqlx::FromRow, Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// Row id (0 before insertion).
    pub id: i64,
    /// Actor id URL.
    pub actor: String,
    /// The local organisation, if local.
    pub org_id: Option<i64>,
    /// Handle (preferredUsername).
    pub handle: String,
    /// `host[:port]` of the home instance.
    pub domain: String,
    /// Profile page on the home instance.
    pub profile_url: String,
    /// Display name.
    pub name: String,
    /// Plain-text summary.
    pub summary: String,
    /// Kinds.
    pub kinds: String,
    /// Themes.
    pub themes: String,
    /// Communities served.
    pub communities: String,
    /// Place codes (countries implied by subdivisions are not repeated here).
    pub places: String,
    /// Free-text place names and the names of coded places.
    pub place_names: String,
    /// Ways of working.
    pub ways: String,
    /// Offers.
    pub offers: String,
    /// Languages.
    pub languages: String,
    /// Labels of all of the above, for full-text search.
    pub terms: String,
    /// Website.
    pub website: Option<String>,
    /// `none`, `home`, `network` or `public`.
    pub listed_in: String,
    /// Shown in this instance's directory.
    pub listed: bool,
    /// Lowercased name for ordering.
    pub sort_name: String,
    /// Last change (ms): how other processes' index copies find changes.
    pub changed_at: i64,
}

/// Inserts or replaces the row of an actor inside `tx`; returns its id.
pub async fn upsert(tx: &mut Tx, e: &Entry) -> Result<i64, StoreError> {
    let sql = "insert into directory (actor, org_id, handle, domain, profile_url, name, summary, kinds, themes, communities, \
        places, place_names, ways, offers, languages, terms, website, listed_in, listed, sort_name, changed_at) \
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
        ($19 and not exists (select 1 from directory_hidden h where h.actor = $1)), $20, $21) \
        on conflict (actor) do update set org_id = excluded.org_id, handle = excluded.handle, domain = excluded.domain, \
        profile_url = excluded.profile_url, name = excluded.name, summary = excluded.summary, kinds = excluded.kinds, \
        themes = excluded.themes, communities = excluded.communities, places = excluded.places, \
        place_names = excluded.place_names, ways = excluded.ways, offers = excluded.offers, languages = excluded.languages, \
        terms = excluded.terms, website = excluded.website, listed_in = excluded.listed_in, listed = excluded.listed, \
        sort_name = excluded.sort_name, changed_at = excluded.changed_at returning id";
    let row: (i64,) = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(&e.actor).bind(e.org_id).bind(&e.handle).bind(&e.domain).bind(&e.profile_url).bind(&e.name)
        .bind(&e.summary).bind(&e.kinds).bind(&e.themes).bind(&e.communities).bind(&e.places).bind(&e.place_names)
        .bind(&e.ways).bind(&e.offers).bind(&e.languages).bind(&e.terms).bind(&e.website).bind(&e.listed_in)
        .bind(e.listed).bind(&e.sort_name).bind(e.changed_at)
        .fetch_one(conn).await)?;
    bump(tx).await?;
    Ok(row.0)
}

async fn bump(tx: &mut Tx) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("update directory_state set version = version + 1 where id = 1")
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Takes an actor out of the directory (consent withdrawn, actor deleted).
pub async fn unlist(tx: &mut Tx, actor: &str, now: i64) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query("update directory set listed = false, listed_in = 'none', changed_at = $1 where actor = $2")
        .bind(now).bind(actor).execute(conn).await.map(|r| r.rows_affected()))?;
    bump(tx).await?;
    Ok(())
}

/// Keeps an actor out of this instance's directory whatever it consents to.
pub async fn hide(tx: &mut Tx, actor: &str, reason: &str, now: i64) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "insert into directory_hidden (actor, reason, created_at) values ($1, $2, $3) on conflict (actor) do update set reason = excluded.reason")
        .bind(actor).bind(reason).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
    on_tx!(tx, conn => sqlx::query("update directory set listed = false, changed_at = $1 where actor = $2")
        .bind(now).bind(actor).execute(conn).await.map(|r| r.rows_affected()))?;
    bump(tx).await
}

/// Lifts a hide; returns whether there was one (the row is listed again on its next update).
pub async fn unhide(tx: &mut Tx, actor: &str) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => sqlx::query("delete from directory_hidden where actor = $1")
        .bind(actor).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Hidden actors with reasons.
pub async fn hidden(db: &Db) -> Result<Vec<(String, String, i64)>, StoreError> {
    Ok(
        on_db!(db, pool => sqlx::query_as("select actor, reason, created_at from directory_hidden order by actor").fetch_all(pool).await)?,
    )
}

/// Takes every organisation of a domain out of the directory (peering ended, domain blocked).
pub async fn unlist_domain(tx: &mut Tx, domain: &str, now: i64) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "update directory set listed = false, changed_at = $1 where domain = $2 and org_id is null and listed = true")
        .bind(now).bind(domain).execute(conn).await.map(|r| r.rows_affected()))?;
    bump(tx).await?;
    Ok(())
}

/// Local organisations' rows changed after `(changed_at, id)`, in that order:
/// `(row id, changed_at, org_id)`.
pub async fn local_changed_after(
    db: &Db,
    changed_at: i64,
    id: i64,
    limit: i64,
) -> Result<Vec<(i64, i64, i64)>, StoreError> {
    let sql = "select id, changed_at, org_id from directory where org_id is not null \
        and (changed_at > $1 or (changed_at = $1 and id > $2)) order by changed_at, id limit $3";
    Ok(on_db!(db, pool => sqlx::query_as(sql).bind(changed_at).bind(id).bind(limit).fetch_all(pool).await)?)
}

/// Rows changed at or after `since` (ms), oldest first.
pub async fn changed_since(db: &Db, since: i64) -> Result<Vec<Entry>, StoreError> {
    let sql = format!("select {COLUMNS} from directory where changed_at >= $1 order by changed_at, id");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(since).fetch_all(pool).await)?)
}

/// What the in-memory facet index needs of a directory row (the rest stays in the database).
#[derive(sqlx::FromRow, Clone, Debug, Default, PartialEq, Eq)]
pub struct IndexRow {
    /// Row id.
    pub id: i64,
    /// `host[:port]` of the home instance.
    pub domain: String,
    /// Kinds.
    pub kinds: String,
    /// Themes.
    pub themes: String,
    /// Communities served.
    pub communities: String,
    /// Place codes.
    pub places: String,
    /// Ways of working.
    pub ways: String,
    /// Offers.
    pub offers: String,
    /// Languages.
    pub languages: String,
    /// Shown in this instance's directory.
    pub listed: bool,
    /// Lowercased name for ordering.
    pub sort_name: String,
    /// Last change (ms).
    pub changed_at: i64,
}

/// Up to `limit` rows changed at or after `changed_at`, after the position `(changed_at, id)`,
/// in that order (keyset paging: each batch starts where the last one ended). Only the columns
/// the facet index needs.
pub async fn index_rows_after(db: &Db, changed_at: i64, id: i64, limit: i64) -> Result<Vec<IndexRow>, StoreError> {
    let sql = "select id, domain, kinds, themes, communities, places, ways, offers, languages, listed, sort_name, \
        changed_at from directory where changed_at >= $1 and (changed_at > $1 or id > $2) \
        order by changed_at, id limit $3";
    Ok(on_db!(db, pool => sqlx::query_as(sql).bind(changed_at).bind(id).bind(limit).fetch_all(pool).await)?)
}

/// The directory's version (bumped by every write) and its latest change time (ms).
pub async fn version(db: &Db) -> Result<(i64, Option<i64>), StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select s.version, (select max(changed_at) from directory) from directory_state s where s.id = 1")
        .fetch_one(pool).await)?)
}

/// Rows by id, in no particular order.
pub async fn by_ids(db: &Db, ids: &[i64]) -> Result<Vec<Entry>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    match db {
        Db::Sqlite(pool, _) => {
            let sql = format!("select {COLUMNS} from directory where id in (select value from json_each($1))");
            Ok(sqlx::query_as(&sql)
                .bind(serde_json::to_string(ids).unwrap_or_default())
                .fetch_all(pool)
                .await?)
        }
        Db::Postgres(pool) => {
            let sql = format!("select {COLUMNS} from directory where id = any($1)");
            Ok(sqlx::query_as(&sql).bind(ids).fetch_all(pool).await?)
        }
    }
}

/// Whether the actor is one of this instance's own organisations.
pub async fn is_local_actor(db: &Db, actor: &str) -> Result<bool, StoreError> {
    let row: Option<(i64,)> = on_db!(db, pool => sqlx::query_as("select id from directory where actor = $1 and org_id is not null")
        .bind(actor).fetch_optional(pool).await)?;
    Ok(row.is_some())
}

/// [`is_local_actor`] inside a transaction.
pub async fn is_local_actor_in(tx: &mut Tx, actor: &str) -> Result<bool, StoreError> {
    let row: Option<(i64,)> = on_tx!(tx, conn => sqlx::query_as("select id from directory where actor = $1 and org_id is not null")
        .bind(actor).fetch_optional(conn).await)?;
    Ok(row.is_some())
}

/// The row of a local organisation.
pub async fn of_org(db: &Db, org_id: i64) -> Result<Option<Entry>, StoreError> {
    let sql = format!("select {COLUMNS} from directory where org_id = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(org_id).fetch_optional(pool).await)?)
}

/// Local organisations' rows (all, or only those listed in public or network reach), by name.
pub async fn local(db: &Db, listed_only: bool) -> Result<Vec<Entry>, StoreError> {
    let sql = format!(
        "select {COLUMNS} from directory where org_id is not null and ($1 = false or listed_in in ('home', 'network', 'public')) \
         order by sort_name, id"
    );
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(listed_only).fetch_all(pool).await)?)
}

/// Ids of rows whose text matches every word (prefix match), natively on each backend.
/// `words` must be lowercase letters and digits only. The ids come back as one aggregated
/// string: one row instead of tens of thousands keeps broad queries fast.
pub async fn text_matches(db: &Db, words: &[String]) -> Result<Vec<i64>, StoreError> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let (ids,): (Option<String>,) = match db {
        Db::Sqlite(pool, _) => {
            let query = words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" ");
            sqlx::query_as("select group_concat(rowid) from directory_fts where directory_fts match $1")
                .bind(query)
                .fetch_one(pool)
                .await?
        }
        Db::Postgres(pool) => {
            let query = words.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & ");
            sqlx::query_as("select string_agg(id::text, ',') from directory where search @@ to_tsquery('simple', $1)")
                .bind(query)
                .fetch_one(pool)
                .await?
        }
    };
    Ok(ids
        .unwrap_or_default()
        .split(',')
        .filter_map(|i| i.parse().ok())
        .collect())
}

/// Pictures of directory entries by actor: (actor, our avatar file, remote icon URL).
pub async fn avatars(db: &Db, actors: &[String]) -> Result<Vec<(String, Option<String>, Option<String>)>, StoreError> {
    if actors.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=actors.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "select d.actor, o.avatar, r.icon_url from directory d left join orgs o on o.id = d.org_id \
        left join remote_actors r on r.ap_id = d.actor where d.actor in ({})",
        marks.join(", ")
    );
    Ok(on_db!(db, pool => {
        let mut query = sqlx::query_as(&sql);
        for a in actors {
            query = query.bind(a);
        }
        query.fetch_all(pool).await
    })?)
}

/// Number of directory rows (listed or not).
pub async fn count(db: &Db) -> Result<i64, StoreError> {
    let row: (i64,) = on_db!(db, pool => sqlx::query_as("select count(*) from directory").fetch_one(pool).await)?;
    Ok(row.0)
}
