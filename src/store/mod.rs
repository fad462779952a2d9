//! All SQL lives here, written once with `$N` placeholders for both SQLite and PostgreSQL.
//!
//! `Db` is chosen from the database URL at start-up; `on_db!` and `on_tx!` run one body against
//! whichever backend is active, so each query is type-checked once per backend.

pub mod actors;
pub mod audit;
pub mod directory;
pub mod follows;
pub mod inbox;
pub mod joins;
pub mod mail;
pub mod media;
pub mod orgs;
pub mod outbox;
pub mod peers;
pub mod posts;
pub mod reports;
pub mod retention;
pub mod sessions;
pub mod settings;
pub mod tokens;
pub mod users;

use std::{path::PathBuf, str::FromStr, sync::Arc, time::Duration};

use sqlx::{
    Connection, PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// How long a SQLite writer waits for another (the CLI beside `serve`) before giving up.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections kept per pool.
const MAX_CONNECTIONS: u32 = 8;
/// How long a request waits for a PostgreSQL connection before it is answered 503 with
/// `Retry-After`. It was 30 s: during an outage every request hung that long.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// A database failure. Callers treat it as internal; unique violations are surfaced separately.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(#[from] pub sqlx::Error);

impl StoreError {
    /// Whether the failure is a unique-constraint violation (a taken handle, a repeated id).
    pub fn is_unique_violation(&self) -> bool {
        matches!(&self.0, sqlx::Error::Database(e) if e.is_unique_violation())
    }

    /// Whether the database is out of space (SQLite's SQLITE_FULL, PostgreSQL's `disk_full`).
    pub fn is_disk_full(&self) -> bool {
        match &self.0 {
            sqlx::Error::Database(e) => {
                let code = e.code().unwrap_or_default();
                // SQLite reports the primary code 13, or an extended code whose low byte is 13.
                code == "53100" || code.parse::<i32>().is_ok_and(|c| c & 0xff == 13)
            }
            _ => false,
        }
    }

    /// Whether the database cannot be reached or is out of space right now: the request may
    /// succeed later (503 with `Retry-After`), rather than an error in the request or in us.
    pub fn is_unavailable(&self) -> bool {
        match &self.0 {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            sqlx::Error::Database(e) => {
                // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, too many clients.
                let code = e.code().unwrap_or_default();
                matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300") || self.is_disk_full()
            }
            _ => false,
        }
    }
}

/// Free space on the filesystem holding `file`, for logs ("12.5 MiB free in /srv/understory").
pub fn free_space(file: &std::path::Path) -> String {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    match rustix::fs::statvfs(dir) {
        Ok(s) => {
            let bytes = s.f_bavail.saturating_mul(s.f_frsize);
            #[allow(clippy::cast_precision_loss)]
            let mib = bytes as f64 / (1024.0 * 1024.0);
            format!("{mib:.1} MiB free in {}", dir.display())
        }
        Err(e) => format!("free space in {} unknown ({e})", dir.display()),
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self(sqlx::Error::Migrate(Box::new(e)))
    }
}

/// Serialises SQLite write transactions within this process (SQLite has one writer anyway),
/// and names the database file (for free-space reports when a write fails).
#[derive(Clone, Debug, Default)]
pub struct WriteGate {
    lock: Arc<tokio::sync::Mutex<()>>,
    file: Arc<PathBuf>,
}

/// The database: one pool of whichever backend the URL names.
#[derive(Clone, Debug)]
pub enum Db {
    /// SQLite (the default): one file, WAL mode, and the gate its write transactions queue at.
    Sqlite(SqlitePool, WriteGate),
    /// PostgreSQL, for instances that outgrow one machine.
    Postgres(PgPool),
}

/// An open transaction on either backend.
pub enum Tx {
    /// SQLite transaction, holding the write gate until it ends (and the database file).
    Sqlite(
        Transaction<'static, Sqlite>,
        (tokio::sync::OwnedMutexGuard<()>, Arc<PathBuf>),
    ),
    /// PostgreSQL transaction.
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$pool` bound to the active pool.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool, _) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the transaction's connection.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(t, _) => {
                let $conn = &mut **t;
                $body
            }
            $crate::store::Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

impl Db {
    /// Connects to the URL (creating a missing SQLite file) without migrating.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true);
            let file = Arc::new(options.get_filename().to_path_buf());
            let watched = file.clone();
            let pool = SqlitePoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .min_connections(0)
                .after_release(move |conn, _| {
                    let file = watched.clone();
                    Box::pin(async move { Ok(sqlite_connection_reusable(conn, &file).await) })
                })
                .connect_with(options)
                .await?;
            Ok(Self::Sqlite(
                pool,
                WriteGate {
                    lock: Arc::default(),
                    file,
                },
            ))
        } else {
            Self::connect_postgres(PgConnectOptions::from_str(url)?).await
        }
    }

    /// Connects to PostgreSQL with `schema` as the search path (tests give each run its own).
    pub async fn connect_postgres_schema(url: &str, schema: &str) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)?.options([("search_path", schema)]);
        Self::connect_postgres(options).await
    }

    async fn connect_postgres(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Self::Postgres(pool))
    }

    /// Runs pending migrations (forward only); safe while another process serves.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(pool, gate) => {
                // sqlx takes no lock on SQLite: a CLI command starting beside a starting server
                // ran the same migration twice ("table media already exists"). A lock file
                // beside the database serialises migrations between processes.
                let _lock = migration_lock(&gate.file).await?;
                sqlx::migrate!("./migrations/sqlite").run(pool).await?
            }
            Self::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Opens a transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            // Write transactions queue at the gate without holding a connection, then BEGIN
            // IMMEDIATE. Without the gate, 64 concurrent inbox requests each held a pooled
            // connection while waiting for SQLite's write lock, and the one holding the lock
            // could not get a second connection for its reads: the pool starved for 30 s (found
            // by the inbox load test). IMMEDIATE keeps another process (the CLI) from turning a
            // read into a failed write upgrade.
            Self::Sqlite(pool, gate) => {
                let guard = tokio::time::timeout(SQLITE_BUSY_TIMEOUT, gate.lock.clone().lock_owned())
                    .await
                    .map_err(|_| StoreError(sqlx::Error::PoolTimedOut))?;
                Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?, (guard, gate.file.clone()))
            }
            Self::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Whether this is SQLite (some maintenance differs).
    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(..))
    }

    /// A cheap round trip.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query("select 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// For `/healthz`: whether a write transaction can begin and commit (one small row in
    /// `settings`), so a full disk, a read-only file or a lost database shows as unhealthy.
    pub async fn write_check(&self, now: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, conn => sqlx::query("insert into settings (name, value) values ('health_checked_at', $1) \
            on conflict (name) do update set value = excluded.value")
            .bind(now.to_string()).execute(conn).await.map(|r| r.rows_affected()))?;
        tx.commit().await
    }

    /// Free space beside the database file (SQLite), for the health check's answer.
    pub fn free_space(&self) -> Option<String> {
        match self {
            Self::Sqlite(_, gate) => Some(free_space(&gate.file)),
            Self::Postgres(_) => None,
        }
    }

    /// Writes a consistent copy of a SQLite database to `path` while it is in use.
    pub async fn backup_sqlite(&self, path: &str) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(pool, _) => {
                sqlx::query("vacuum into $1").bind(path).execute(pool).await?;
                Ok(())
            }
            Self::Postgres(_) => Err(StoreError(sqlx::Error::Protocol(
                "backup of PostgreSQL: use pg_dump -Fc".into(),
            ))),
        }
    }

    /// Number of tables in the database (the current schema on PostgreSQL): 0 when empty.
    pub async fn table_count(&self) -> Result<i64, StoreError> {
        let row: (i64,) = match self {
            Self::Sqlite(pool, _) => {
                sqlx::query_as("select count(*) from sqlite_master where type = 'table'")
                    .fetch_one(pool)
                    .await?
            }
            Self::Postgres(pool) => {
                sqlx::query_as("select count(*) from information_schema.tables where table_schema = current_schema()")
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(row.0)
    }

    /// Closes every connection (the last step of shutdown).
    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await);
    }
}

impl Tx {
    /// Commits the transaction. A commit that fails for want of disk space says in the log how
    /// much is left (docs/operations/README.md, "When the disk fills").
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(t, (_gate, file)) => t.commit().await.map_err(|e| {
                let e = StoreError(e);
                if e.is_disk_full() {
                    tracing::error!(error = %e, space = %free_space(&file), "database write failed: the disk is full");
                }
                e
            })?,
            Self::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// Holds an exclusive lock on `<database>-migrate.lock` until dropped (no lock for an
/// in-memory database).
async fn migration_lock(file: &std::path::Path) -> Result<Option<std::fs::File>, StoreError> {
    if file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:") {
        return Ok(None);
    }
    let mut path = file.as_os_str().to_owned();
    path.push("-migrate.lock");
    let lock = tokio::task::spawn_blocking(move || -> std::io::Result<std::fs::File> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(f)
    })
    .await
    .map_err(|e| StoreError(sqlx::Error::Protocol(e.to_string())))?
    .map_err(|e| StoreError(sqlx::Error::Io(e)))?;
    Ok(Some(lock))
}

/// Whether a SQLite connection can go back to the pool. When SQLite ends a transaction itself
/// (SQLITE_FULL rolls it back), sqlx-sqlite 0.8's own ROLLBACK then fails and it keeps counting
/// the connection as inside a transaction: every later `BEGIN IMMEDIATE` on it failed, until
/// a restart, once all 8 pooled connections had met a full disk. Such a connection is closed
/// instead (the pool opens a fresh one). A dropped transaction's ROLLBACK is queued on the
/// connection's worker thread; the ping waits for it, so only a connection still counted as
/// inside a transaction after its rollback is closed.
async fn sqlite_connection_reusable(conn: &mut sqlx::SqliteConnection, file: &std::path::Path) -> bool {
    if !conn.is_in_transaction() {
        return true;
    }
    if conn.ping().await.is_err() || conn.is_in_transaction() {
        tracing::warn!(space = %free_space(file), "closing a database connection left inside a failed transaction (after a failed write)");
        return false;
    }
    true
}
