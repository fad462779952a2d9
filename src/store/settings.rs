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

/// Writes a setting (replacing it).
pub async fn set(db: &Db, name: &str, value: &str) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query("insert into settings (name, value) values ($1, $2) on conflict (name) do update set value = excluded.value")
        .bind(name).bind(value).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Removes a setting.
pub async fn delete(db: &Db, name: &str) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query("delete from settings where name = $1").bind(name).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}
