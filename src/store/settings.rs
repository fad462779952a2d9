//! Instance-wide named values (the instance actor's key pair).

use super::{Db, StoreError};
use crate::on_db;

/// Reads a setting.
pub async fn get(db: &Db, name: &str) -> Result<Option<String>, StoreError> {
    let row: Option<(String,)> = on_db!(db, pool => sqlx::query_as("select value from settings where name = $1")
        .bind(name).fetch_optional(pool).await)?;
    Ok(row.map(|r| r.0))
}

/// Writes a setting only if it is not set yet; returns whether this call set it.
pub async fn set_if_absent(db: &Db, name: &str, value: &str) -> Result<bool, StoreError> {
    let done = on_db!(db, pool => sqlx::query("insert into settings (name, value) values ($1, $2) on conflict (name) do nothing")
        .bind(name).bind(value).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}
