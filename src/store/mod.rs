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

use std::{str::FromStr, time::Duration};

use sqlx::{
    PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// How long a SQLite writer waits for another (the CLI beside `serve`) before giving up.
pub const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections kept per pool.
const MAX_CONNECTIONS: u32 = 8;

/// A database failure. Callers treat it as internal; unique violations are surfaced separately.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct StoreError(#[from] pub sqlx::Error);

impl StoreError {
    /// Whether the failure is a unique-constraint violation (a taken handle, a repeated id).
    pub fn is_unique_violation(&self) -> bool {
        matches!(&self.0, sqlx::Error::Database(e) if e.is_unique_violation())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self(sqlx::Error::Migrate(Box::new(e)))
    }
}

/// Serialises SQLite write transactions within this process (SQLite has one writer anyway).
#[derive(Clone, Debug, Default)]
pub struct WriteGate(std::sync::Arc<tokio::sync::Mutex<()>>);

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
    /// SQLite transaction, holding the write gate until it ends.
    Sqlite(Transaction<'static, Sqlite>, tokio::sync::OwnedMutexGuard<()>),
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
            let pool = SqlitePoolOptions::new()
                .max_connections(MAX_CONNECTIONS)
                .min_connections(0)
                .connect_with(options)
                .await?;
            Ok(Self::Sqlite(pool, WriteGate::default()))
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
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        Ok(Self::Postgres(pool))
    }

    /// Runs pending migrations (forward only); safe while another process serves.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(pool, _) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
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
                let guard = tokio::time::timeout(SQLITE_BUSY_TIMEOUT, gate.0.clone().lock_owned())
                    .await
                    .map_err(|_| StoreError(sqlx::Error::PoolTimedOut))?;
                Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?, guard)
            }
            Self::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Whether this is SQLite (some maintenance differs).
    pub fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(..))
    }

    /// A cheap round trip, for `/healthz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(self, pool => sqlx::query("select 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
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
    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(t, _gate) => t.commit().await?,
            Self::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}
