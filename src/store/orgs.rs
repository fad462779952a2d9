//! Organisations hosted on this instance.

use std::fmt;

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

const COLUMNS: &str = "id, handle, name, summary, manually_approves_followers, public_lists, discoverable, \
    indexable, listed_in, public_key_pem, private_key_pem, created_at, updated_at, deleted_at, profile, also_known_as, moved_to, alias_set_at, avatar, header";

/// Bumped by every write to `orgs` in this process: caches of organisations compare it.
pub static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn bump() {
    GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// The current write generation (see [`GENERATION`]).
pub fn generation() -> u64 {
    GENERATION.load(std::sync::atomic::Ordering::SeqCst)
}

/// An organisation row.
#[derive(sqlx::FromRow, Clone)]
pub struct Org {
    /// Row id.
    pub id: i64,
    /// The handle in `@handle@domain`.
    pub handle: String,
    /// Display name.
    pub name: String,
    /// Plain-text summary.
    pub summary: String,
    /// Follow requests wait for staff approval.
    pub manually_approves_followers: bool,
    /// Followers and following lists are shown (not just counts).
    pub public_lists: bool,
    /// Consent to directories (`discoverable` on the actor).
    pub discoverable: bool,
    /// Consent to full-text search of updates.
    pub indexable: bool,
    /// `none`, `home`, `network` or `public`.
    pub listed_in: String,
    /// SPKI PEM, made lazily.
    pub public_key_pem: Option<String>,
    /// PKCS#8 PEM, made lazily.
    pub private_key_pem: Option<String>,
    /// Creation time (ms).
    pub created_at: i64,
    /// Last profile change (ms).
    pub updated_at: i64,
    /// Deletion time; a deleted handle stays reserved.
    pub deleted_at: Option<i64>,
    /// The structured profile as JSON (`domain::profile::Profile`).
    pub profile: String,
    /// Actors this organisation was known as, space-separated (moves to here).
    pub also_known_as: String,
    /// The actor it moved to (moves away).
    pub moved_to: Option<String>,
    /// When an alias was last added (the start of the move window).
    pub alias_set_at: Option<i64>,
    /// Avatar: the stored file's name (`<sha256>.<ext>`).
    pub avatar: Option<String>,
    /// Header picture: the stored file's name.
    pub header: Option<String>,
}

impl Org {
    /// The structured profile (empty if the stored JSON is unreadable).
    pub fn profile(&self) -> crate::domain::profile::Profile {
        serde_json::from_str(&self.profile).unwrap_or_default()
    }
}

impl fmt::Debug for Org {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Org")
            .field("id", &self.id)
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

/// Fields of a new organisation.
#[derive(Debug, Clone)]
pub struct NewOrg<'a> {
    /// Handle (already validated).
    pub handle: &'a str,
    /// Display name.
    pub name: &'a str,
    /// Summary.
    pub summary: &'a str,
    /// Approve followers by hand.
    pub manually_approves_followers: bool,
    /// Creation time (ms).
    pub now: i64,
}

/// Inserts an organisation; a taken handle (deleted or not) is a unique violation.
pub async fn insert(tx: &mut Tx, org: &NewOrg<'_>) -> Result<i64, StoreError> {
    bump();
    let sql = "insert into orgs (handle, name, summary, manually_approves_followers, public_lists, discoverable, \
        indexable, listed_in, created_at, updated_at) values ($1, $2, $3, $4, false, false, false, 'none', $5, $5) returning id";
    let row: (i64,) = on_tx!(tx, conn => sqlx::query_as(sql)
        .bind(org.handle).bind(org.name).bind(org.summary).bind(org.manually_approves_followers).bind(org.now)
        .fetch_one(conn).await)?;
    Ok(row.0)
}

/// Finds an organisation by handle, deleted or not.
pub async fn find_by_handle(db: &Db, handle: &str) -> Result<Option<Org>, StoreError> {
    let sql = format!("select {COLUMNS} from orgs where handle = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(handle).fetch_optional(pool).await)?)
}

/// Finds an organisation by handle inside a transaction.
pub async fn find_by_handle_in(tx: &mut Tx, handle: &str) -> Result<Option<Org>, StoreError> {
    let sql = format!("select {COLUMNS} from orgs where handle = $1");
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(handle).fetch_optional(conn).await)?)
}

/// Finds an organisation by row id.
pub async fn find(db: &Db, id: i64) -> Result<Option<Org>, StoreError> {
    let sql = format!("select {COLUMNS} from orgs where id = $1");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?)
}

/// Finds an organisation by row id inside a transaction.
pub async fn find_in(tx: &mut Tx, id: i64) -> Result<Option<Org>, StoreError> {
    let sql = format!("select {COLUMNS} from orgs where id = $1");
    Ok(on_tx!(tx, conn => sqlx::query_as(&sql).bind(id).fetch_optional(conn).await)?)
}

/// Whether the organisation is live, with its row locked until `tx` ends (SQLite: the write
/// gate; PostgreSQL: `FOR UPDATE`), so a publication and a deletion of it cannot interleave.
pub async fn lock_live(tx: &mut Tx, id: i64) -> Result<bool, StoreError> {
    let sql = match tx {
        Tx::Sqlite(..) => "select deleted_at from orgs where id = $1",
        Tx::Postgres(_) => "select deleted_at from orgs where id = $1 for update",
    };
    let row: Option<(Option<i64>,)> = on_tx!(tx, conn => sqlx::query_as(sql).bind(id).fetch_optional(conn).await)?;
    Ok(matches!(row, Some((None,))))
}

/// Lists live organisations by handle.
pub async fn list(db: &Db) -> Result<Vec<Org>, StoreError> {
    let sql = format!("select {COLUMNS} from orgs where deleted_at is null order by handle");
    Ok(on_db!(db, pool => sqlx::query_as(&sql).fetch_all(pool).await)?)
}

/// Stores a key pair unless one is already there (another process may have won the race).
pub async fn set_keys_if_absent(db: &Db, id: i64, public_pem: &str, private_pem: &str) -> Result<(), StoreError> {
    bump();
    on_db!(db, pool => sqlx::query(
        "update orgs set public_key_pem = $1, private_key_pem = $2 where id = $3 and private_key_pem is null")
        .bind(public_pem).bind(private_pem).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Profile fields an edit may change.
#[derive(Debug, Clone)]
pub struct ProfileChange {
    /// Display name.
    pub name: String,
    /// Summary.
    pub summary: String,
    /// Approve followers by hand.
    pub manually_approves_followers: bool,
    /// Show follower lists.
    pub public_lists: bool,
    /// Directory consent.
    pub discoverable: bool,
    /// Search consent.
    pub indexable: bool,
    /// Reach.
    pub listed_in: String,
    /// The structured profile as JSON.
    pub profile: String,
}

/// Writes a profile change inside `tx`.
pub async fn update_profile(tx: &mut Tx, id: i64, change: &ProfileChange, now: i64) -> Result<(), StoreError> {
    bump();
    let sql = "update orgs set name = $1, summary = $2, manually_approves_followers = $3, public_lists = $4, \
        discoverable = $5, indexable = $6, listed_in = $7, updated_at = $8, profile = $10 where id = $9";
    on_tx!(tx, conn => sqlx::query(sql)
        .bind(&change.name).bind(&change.summary).bind(change.manually_approves_followers).bind(change.public_lists)
        .bind(change.discoverable).bind(change.indexable).bind(&change.listed_in).bind(now).bind(id).bind(&change.profile)
        .execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets the actors an organisation was known as (space-separated).
pub async fn set_also_known_as(tx: &mut Tx, id: i64, aliases: &str, now: i64) -> Result<(), StoreError> {
    bump();
    on_tx!(tx, conn => sqlx::query("update orgs set also_known_as = $1, updated_at = $2, alias_set_at = $2 where id = $3")
        .bind(aliases).bind(now).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records where an organisation moved.
pub async fn set_moved_to(tx: &mut Tx, id: i64, target: &str, now: i64) -> Result<(), StoreError> {
    bump();
    on_tx!(tx, conn => sqlx::query("update orgs set moved_to = $1, updated_at = $2 where id = $3")
        .bind(target).bind(now).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Every handle ever used (deleted organisations keep theirs).
pub async fn all_handles(db: &Db) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = on_db!(db, pool => sqlx::query_as("select handle from orgs").fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Handles and names of live organisations that a CSV import created (to resume an import).
pub async fn imported(db: &Db) -> Result<Vec<(String, String)>, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select o.handle, o.name from orgs o where o.deleted_at is null and exists \
        (select 1 from audit_log a where a.org_id = o.id and a.action = 'org.import')").fetch_all(pool).await)?)
}

/// Number of live organisations.
pub async fn count(db: &Db) -> Result<i64, StoreError> {
    let row: (i64,) = on_db!(db, pool => sqlx::query_as("select count(*) from orgs where deleted_at is null")
        .fetch_one(pool).await)?;
    Ok(row.0)
}

/// Sets (or clears) the avatar or header picture inside `tx`; `which` is `avatar` or `header`.
pub async fn set_picture(tx: &mut Tx, id: i64, which: Picture, file: Option<&str>, now: i64) -> Result<(), StoreError> {
    bump();
    let sql = match which {
        Picture::Avatar => "update orgs set avatar = $1, updated_at = $2 where id = $3",
        Picture::Header => "update orgs set header = $1, updated_at = $2 where id = $3",
    };
    on_tx!(tx, conn => sqlx::query(sql).bind(file).bind(now).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Which of an organisation's pictures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Picture {
    /// The square avatar (`icon`).
    Avatar,
    /// The wide header (`image`).
    Header,
}

/// Deletes an organisation for good, inside `tx`: the row stays (its handle reserved, its
/// deletion time served in Tombstones) with the profile emptied; its updates are marked
/// deleted with their text wiped; followers, follows, memberships, received notes,
/// interactions and API tokens go. The private key stays until the `Delete` it signs is
/// delivered (the pruning job removes it).
pub async fn erase(tx: &mut Tx, id: i64, now: i64) -> Result<(), StoreError> {
    for sql in [
        "update orgs set deleted_at = $2, name = '', summary = '', profile = '{}', avatar = null, header = null, \
         listed_in = 'none', discoverable = false, indexable = false, also_known_as = '', updated_at = $2 where id = $1",
        "update posts set deleted_at = coalesce(deleted_at, $2), source = '', content_html = '' where org_id = $1",
        "update api_tokens set revoked_at = $2 where org_id = $1 and revoked_at is null",
    ] {
        on_tx!(tx, conn => sqlx::query(sql).bind(id).bind(now).execute(conn).await.map(|r| r.rows_affected()))?;
    }
    for sql in [
        "delete from interactions where post_id in (select id from posts where org_id = $1)",
        "delete from post_attachments where post_id in (select id from posts where org_id = $1)",
        "delete from remote_notes where org_id = $1",
        "delete from followers where org_id = $1",
        "delete from following where org_id = $1",
        "delete from memberships where org_id = $1",
    ] {
        on_tx!(tx, conn => sqlx::query(sql).bind(id).execute(conn).await.map(|r| r.rows_affected()))?;
    }
    bump();
    Ok(())
}
