//! The persistent outbox: activities, their per-inbox deliveries, and remote instance health.

use super::{Db, StoreError, Tx};
use crate::{on_db, on_tx};

/// Rows per multi-row insert (5 parameters each, well under both backends' limits).
const INSERT_CHUNK: usize = 500;
/// An instance failing this long is marked dead (it is still retried, at the longest backoff).
pub const DEAD_AFTER_MS: i64 = 3 * 24 * 3600 * 1000;

/// One delivery target: an inbox URL and the `host[:port]` it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Inbox URL.
    pub inbox: String,
    /// `host[:port]` of the inbox.
    pub domain: String,
}

/// Writes an activity and one delivery per target inside `tx`; returns the outbox id.
pub async fn enqueue(
    tx: &mut Tx,
    ap_id: &str,
    org_id: Option<i64>,
    body: &str,
    targets: &[Target],
    now: i64,
) -> Result<i64, StoreError> {
    let row: (i64,) = on_tx!(tx, conn => sqlx::query_as(
        "insert into outbox (ap_id, org_id, body, created_at) values ($1, $2, $3, $4) returning id")
        .bind(ap_id).bind(org_id).bind(body).bind(now).fetch_one(conn).await)?;
    let outbox_id = row.0;
    for chunk in targets.chunks(INSERT_CHUNK) {
        let mut sql = String::from(
            "insert into deliveries (outbox_id, inbox, domain, attempts, next_attempt_at, created_at) values ",
        );
        for i in 0..chunk.len() {
            let b = i * 2 + 3;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("($1, ${b}, ${}, 0, $2, $2)", b + 1));
        }
        on_tx!(tx, conn => {
            let mut q = sqlx::query(&sql).bind(outbox_id).bind(now);
            for t in chunk {
                q = q.bind(&t.inbox).bind(&t.domain);
            }
            q.execute(conn).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(outbox_id)
}

/// A claimed delivery with the activity it carries.
#[derive(sqlx::FromRow, Debug, Clone)]
pub struct Claimed {
    /// Delivery row id.
    pub id: i64,
    /// Outbox row id.
    pub outbox_id: i64,
    /// Target inbox.
    pub inbox: String,
    /// Target `host[:port]`.
    pub domain: String,
    /// Attempts so far.
    pub attempts: i32,
}

/// Instances with deliveries due now, the longest waiting first, each with its current
/// failure count: not in backoff, and with no delivery under a live lease (another worker,
/// here or in another process, is sending to it; one sender per instance keeps its order).
/// One scan of the due rows, grouped by instance.
pub async fn due_instances(db: &Db, now: i64, limit: i64) -> Result<Vec<(String, i32)>, StoreError> {
    Ok(on_db!(db, pool => sqlx::query_as(
        "select d.domain, cast(coalesce(max(i.fail_count), 0) as integer) from deliveries d \
         left join remote_instances i on i.domain = d.domain \
         where d.delivered_at is null and d.next_attempt_at <= $1 \
         and (i.next_retry_at is null or i.next_retry_at <= $1) \
         group by d.domain having max(case when d.lease_until >= $1 then 1 else 0 end) = 0 \
         order by min(d.id) limit $2")
        .bind(now).bind(limit).fetch_all(pool).await)?)
}

/// Claims up to `limit` of one instance's due deliveries, in order, for `owner` until
/// `lease_until`; none when another owner holds a live lease on that instance. On PostgreSQL
/// claims of one instance are serialised by an advisory lock, so two processes never send to
/// one instance at once.
pub async fn claim_instance(
    db: &Db,
    domain: &str,
    owner: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Claimed>, StoreError> {
    const CLAIM: &str = "update deliveries set lease_until = $1, lease_owner = $4 where id in (\
        select d.id from deliveries d where d.domain = $5 and d.delivered_at is null and d.next_attempt_at <= $2 \
        and (d.lease_until is null or d.lease_until < $2) \
        and not exists (select 1 from deliveries l where l.domain = $5 and l.delivered_at is null \
            and l.lease_until >= $2 and l.lease_owner is distinct from $4) \
        order by d.id limit $3) returning id, outbox_id, inbox, domain, attempts";
    let mut rows: Vec<Claimed> = match db {
        Db::Sqlite(pool, _) => {
            sqlx::query_as(CLAIM)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .bind(owner)
                .bind(domain)
                .fetch_all(pool)
                .await?
        }
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            sqlx::query("select pg_advisory_xact_lock(hashtext($1))")
                .bind(domain)
                .execute(&mut *tx)
                .await?;
            let rows = sqlx::query_as(CLAIM)
                .bind(lease_until)
                .bind(now)
                .bind(limit)
                .bind(owner)
                .bind(domain)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows
        }
    };
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

/// Keeps `owner`'s leases on these instances alive until `lease_until` (the heartbeat).
pub async fn extend_leases(db: &Db, owner: &str, domains: &[String], lease_until: i64) -> Result<u64, StoreError> {
    if domains.is_empty() {
        return Ok(0);
    }
    let json = serde_json::to_string(domains).unwrap_or_default();
    let done = match db {
        Db::Sqlite(pool, _) => sqlx::query(
            "update deliveries set lease_until = $1 where lease_owner = $2 and delivered_at is null \
             and lease_until is not null and domain in (select value from json_each($3))",
        )
        .bind(lease_until)
        .bind(owner)
        .bind(json)
        .execute(pool)
        .await?
        .rows_affected(),
        Db::Postgres(pool) => sqlx::query(
            "update deliveries set lease_until = $1 where lease_owner = $2 and delivered_at is null \
             and lease_until is not null and domain = any($3)",
        )
        .bind(lease_until)
        .bind(owner)
        .bind(domains)
        .execute(pool)
        .await?
        .rows_affected(),
    };
    Ok(done)
}

/// The owners of live or expired leases still standing (for the start-up release).
pub async fn lease_owners(db: &Db) -> Result<Vec<Option<String>>, StoreError> {
    let rows: Vec<(Option<String>,)> = on_db!(db, pool => sqlx::query_as(
        "select distinct lease_owner from deliveries where lease_until is not null and delivered_at is null")
        .fetch_all(pool).await)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Hands back every lease of `owner` (`None`: leases written before leases named their owner).
pub async fn release_owner(db: &Db, owner: Option<&str>) -> Result<u64, StoreError> {
    let done = on_db!(db, pool => sqlx::query(
        "update deliveries set lease_until = null, lease_owner = null where delivered_at is null \
         and lease_until is not null and lease_owner is not distinct from $1")
        .bind(owner).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done)
}

/// The JSON body and signing organisation (`None`: the instance actor) of an outbox row.
pub async fn activity(db: &Db, outbox_id: i64) -> Result<Option<(String, Option<i64>)>, StoreError> {
    Ok(
        on_db!(db, pool => sqlx::query_as("select body, org_id from outbox where id = $1")
        .bind(outbox_id).fetch_optional(pool).await)?,
    )
}

/// Marks deliveries done in one statement.
pub async fn mark_delivered(db: &Db, ids: &[i64], now: i64) -> Result<(), StoreError> {
    update_ids(
        db,
        "update deliveries set delivered_at = $1, lease_until = null where",
        ids,
        now,
    )
    .await
}

/// Hands claimed deliveries back without counting an attempt (shutdown, instance backoff).
pub async fn release(db: &Db, ids: &[i64]) -> Result<(), StoreError> {
    update_ids(db, "update deliveries set lease_until = null where $1 = $1 and", ids, 0).await
}

async fn update_ids(db: &Db, prefix: &str, ids: &[i64], now: i64) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    match db {
        Db::Sqlite(pool, _) => {
            let json = serde_json::to_string(ids).unwrap_or_default();
            let sql = format!("{prefix} id in (select value from json_each($2))");
            sqlx::query(&sql).bind(now).bind(json).execute(pool).await?;
        }
        Db::Postgres(pool) => {
            let sql = format!("{prefix} id = any($2)");
            sqlx::query(&sql).bind(now).bind(ids).execute(pool).await?;
        }
    }
    Ok(())
}

/// Records a failed attempt and when to try again.
pub async fn mark_failed(db: &Db, id: i64, attempts: i32, next_attempt_at: i64, error: &str) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query(
        "update deliveries set attempts = $1, next_attempt_at = $2, last_error = $3, lease_until = null where id = $4")
        .bind(attempts).bind(next_attempt_at).bind(error).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Gives up on a delivery the receiver refused for good (a 4xx other than 408/429).
pub async fn mark_refused(db: &Db, id: i64, now: i64, error: &str) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query(
        "update deliveries set delivered_at = $1, last_error = $2, lease_until = null where id = $3")
        .bind(now).bind(error).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records that an instance answered: it is alive, its backoff is cleared.
pub async fn instance_succeeded(db: &Db, domain: &str, now: i64) -> Result<(), StoreError> {
    on_db!(db, pool => sqlx::query(
        "insert into remote_instances (domain, fail_count, last_success_at, dead) values ($1, 0, $2, false) \
         on conflict (domain) do update set fail_count = 0, first_failure_at = null, next_retry_at = null, \
         dead = false, last_success_at = excluded.last_success_at")
        .bind(domain).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records that an instance failed and must not be tried before `retry_at`; returns its failure count.
pub async fn instance_failed(db: &Db, domain: &str, now: i64, retry_at: i64) -> Result<i32, StoreError> {
    let row: (i32,) = on_db!(db, pool => sqlx::query_as(
        "insert into remote_instances (domain, fail_count, first_failure_at, next_retry_at, dead) values ($1, 1, $2, $3, false) \
         on conflict (domain) do update set fail_count = remote_instances.fail_count + 1, \
         first_failure_at = coalesce(remote_instances.first_failure_at, excluded.first_failure_at), \
         next_retry_at = excluded.next_retry_at, \
         dead = coalesce(remote_instances.first_failure_at, excluded.first_failure_at) < $4 returning fail_count")
        .bind(domain).bind(now).bind(retry_at).bind(now - DEAD_AFTER_MS).fetch_one(pool).await)?;
    Ok(row.0)
}

/// Current failure count of an instance (0 when healthy or unknown).
pub async fn instance_fail_count(db: &Db, domain: &str) -> Result<i32, StoreError> {
    let row: Option<(i32,)> = on_db!(db, pool => sqlx::query_as("select fail_count from remote_instances where domain = $1")
        .bind(domain).fetch_optional(pool).await)?;
    Ok(row.map_or(0, |r| r.0))
}

/// Queue figures for operators.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueStatus {
    /// Deliveries not yet done.
    pub pending: i64,
    /// Instances currently failing.
    pub failing_instances: i64,
    /// Instances marked dead.
    pub dead_instances: i64,
}

/// Counts pending deliveries and failing instances.
pub async fn status(db: &Db) -> Result<QueueStatus, StoreError> {
    let (pending,): (i64,) = on_db!(db, pool => sqlx::query_as(
        "select count(*) from deliveries where delivered_at is null").fetch_one(pool).await)?;
    let (failing, dead): (i64, i64) = on_db!(db, pool => sqlx::query_as(
        "select count(*), coalesce(sum(case when dead then 1 else 0 end), 0) from remote_instances where fail_count > 0")
        .fetch_one(pool).await)?;
    Ok(QueueStatus {
        pending,
        failing_instances: failing,
        dead_instances: dead,
    })
}

/// The next time any pending delivery becomes due (for the worker's sleep), if any.
pub async fn next_due(db: &Db) -> Result<Option<i64>, StoreError> {
    let row: (Option<i64>,) = on_db!(db, pool => sqlx::query_as(
        "select min(next_attempt_at) from deliveries where delivered_at is null").fetch_one(pool).await)?;
    Ok(row.0)
}

/// Hands back every lease (start-up of the only process serving a SQLite database, after a crash).
pub async fn release_all(db: &Db) -> Result<u64, StoreError> {
    let done = on_db!(db, pool => sqlx::query("update deliveries set lease_until = null where lease_until is not null and delivered_at is null")
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(done)
}

/// Queue gauges for `/metrics`.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Pending deliveries per instance, the most first.
    pub pending_by_instance: Vec<(String, i64)>,
    /// Consecutive failures of failing instances, the most first.
    pub failing: Vec<(String, i64)>,
    /// Creation time of the oldest pending delivery (ms).
    pub oldest_pending: Option<i64>,
}

/// Reads the queue gauges, at most `limit` instances per list.
pub async fn metrics(db: &Db, limit: i64) -> Result<Gauges, StoreError> {
    let pending_by_instance: Vec<(String, i64)> = on_db!(db, pool => sqlx::query_as(
        "select domain, count(*) from deliveries where delivered_at is null group by domain order by 2 desc, 1 limit $1")
        .bind(limit).fetch_all(pool).await)?;
    let failing: Vec<(String, i64)> = on_db!(db, pool => sqlx::query_as(
        "select domain, cast(fail_count as bigint) from remote_instances where fail_count > 0 order by 2 desc, 1 limit $1")
        .bind(limit).fetch_all(pool).await)?;
    let (oldest_pending,): (Option<i64>,) = on_db!(db, pool => sqlx::query_as(
        "select min(created_at) from deliveries where delivered_at is null").fetch_one(pool).await)?;
    Ok(Gauges {
        pending_by_instance,
        failing,
        oldest_pending,
    })
}
