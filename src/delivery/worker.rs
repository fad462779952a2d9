//! The delivery worker: claims due deliveries, signs each at send time, sends them in order per
//! instance (many instances at once), and records the outcome in batches.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use futures_util::{StreamExt, stream};
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    http::metrics::Delivery,
    httpsig::KeyPair,
    net::fetch::{PostOutcome, Signer},
    service::{self, Error, keys},
    state::AppState,
    store::{self, outbox::Claimed},
};

/// How long the worker idles when nothing is due before looking again (rows written by
/// another process, such as the CLI, are found within this).
pub const IDLE_POLL: Duration = Duration::from_secs(1);
/// Deliveries claimed per pass.
pub const CLAIM_BATCH: i64 = 512;
/// Instances sent to at once.
pub const CONCURRENCY: usize = 64;
/// Delivered ids recorded per write.
pub const FLUSH_EVERY: usize = 64;
/// How long a claim holds before another worker may take the row (a crashed worker's rows).
pub const LEASE_MS: i64 = 5 * 60 * 1000;
/// First retry delay; doubles per failure.
pub const BASE_BACKOFF_MS: i64 = 30 * 1000;
/// Longest retry delay.
pub const MAX_BACKOFF_MS: i64 = 24 * 3600 * 1000;

/// Retry delay after `failures` consecutive failures: 30 s, 1 min, 2 min, ... capped at a day.
pub fn backoff_ms(failures: i32) -> i64 {
    let shift = failures.clamp(1, 32) - 1;
    BASE_BACKOFF_MS.saturating_mul(1_i64 << shift).min(MAX_BACKOFF_MS)
}

type Signers = HashMap<Option<i64>, (Arc<KeyPair>, String)>;

/// One pass: claims due deliveries and attempts each once. Returns how many were attempted.
pub async fn deliver_due(state: &AppState) -> service::Result<usize> {
    let now = state.clock.now_ms();
    let claimed = store::outbox::claim(&state.db, now, now + LEASE_MS, CLAIM_BATCH).await?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let attempted = claimed.len();
    let mut bodies: HashMap<i64, Arc<Vec<u8>>> = HashMap::new();
    let mut org_of: HashMap<i64, Option<i64>> = HashMap::new();
    let mut signers: Signers = HashMap::new();
    let mut by_domain: Vec<(String, Vec<Claimed>)> = Vec::new();
    for c in claimed {
        if let std::collections::hash_map::Entry::Vacant(e) = bodies.entry(c.outbox_id) {
            let (body, org_id) = store::outbox::activity(&state.db, c.outbox_id)
                .await?
                .ok_or_else(|| Error::Internal(format!("outbox row {} missing", c.outbox_id)))?;
            e.insert(Arc::new(body.into_bytes()));
            org_of.insert(c.outbox_id, org_id);
            if let std::collections::hash_map::Entry::Vacant(slot) = signers.entry(org_id) {
                slot.insert(signer_for(state, org_id).await?);
            }
        }
        match by_domain.iter_mut().find(|(d, _)| *d == c.domain) {
            Some((_, rows)) => rows.push(c),
            None => by_domain.push((c.domain.clone(), vec![c])),
        }
    }
    let failing: HashSet<String> = store::outbox::failing_domains(&state.db).await?.into_iter().collect();
    let pass = Arc::new(Pass {
        signers,
        bodies,
        org_of,
        failing,
        done: Mutex::new(Vec::new()),
    });
    stream::iter(by_domain)
        .map(|(domain, rows)| {
            let (state, pass) = (state.clone(), pass.clone());
            async move { send_domain(&state, &domain, rows, &pass).await }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    pass.flush(state, 0).await;
    Ok(attempted)
}

/// What one pass shares between its concurrent per-instance senders.
struct Pass {
    signers: Signers,
    bodies: HashMap<i64, Arc<Vec<u8>>>,
    org_of: HashMap<i64, Option<i64>>,
    /// Instances that were failing when the pass began (their recovery is recorded).
    failing: HashSet<String>,
    /// Delivered ids not yet recorded.
    done: Mutex<Vec<i64>>,
}

impl Pass {
    /// Records delivered ids once more than `threshold` are waiting: few writes, and a crash
    /// re-sends at most a batch (receivers deduplicate by activity id).
    async fn flush(&self, state: &AppState, threshold: usize) {
        let ids = {
            let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
            if done.len() <= threshold {
                return;
            }
            std::mem::take(&mut *done)
        };
        if let Err(e) = store::outbox::mark_delivered(&state.db, &ids, state.clock.now_ms()).await {
            tracing::warn!(error = %e, count = ids.len(), "recording deliveries failed; they will be sent again");
        }
    }
}

async fn signer_for(state: &AppState, org_id: Option<i64>) -> service::Result<(Arc<KeyPair>, String)> {
    match org_id {
        Some(id) => {
            let org = store::orgs::find(&state.db, id)
                .await?
                .ok_or_else(|| Error::NotFound("organisation".into()))?;
            Ok((
                keys::org_key(state, id).await?,
                format!("{}#main-key", state.urls.org(&org.handle)),
            ))
        }
        None => Ok((
            keys::instance_key(state).await?,
            format!("{}#main-key", state.urls.instance_actor()),
        )),
    }
}

/// Sends one instance's rows in order; stops at the first retryable failure and hands the rest
/// back. Delivered ids go to the pass's batch; permanent refusals are recorded here.
async fn send_domain(state: &AppState, domain: &str, rows: Vec<Claimed>, pass: &Pass) {
    let mut delivered_any = false;
    let mut rows = rows.into_iter();
    while let Some(row) = rows.next() {
        match send_one(state, &row, pass).await {
            PostOutcome::Delivered => {
                state.metrics.delivery(Delivery::Delivered);
                delivered_any = true;
                pass.done.lock().unwrap_or_else(|e| e.into_inner()).push(row.id);
                pass.flush(state, FLUSH_EVERY).await;
            }
            PostOutcome::Refused(status) => {
                state.metrics.delivery(Delivery::Refused);
                tracing::info!(inbox = %row.inbox, status, "delivery refused for good");
                let error = format!("HTTP {status}");
                if let Err(e) = store::outbox::mark_refused(&state.db, row.id, state.clock.now_ms(), &error).await {
                    tracing::warn!(error = %e, "recording a refused delivery failed");
                }
            }
            PostOutcome::Retry { reason, retry_after } => {
                state.metrics.delivery(Delivery::Retry);
                let rest: Vec<i64> = rows.map(|r| r.id).collect();
                record_failure(state, domain, &row, &reason, retry_after, &rest).await;
                return;
            }
        }
    }
    if delivered_any
        && pass.failing.contains(domain)
        && let Err(e) = store::outbox::instance_succeeded(&state.db, domain, state.clock.now_ms()).await
    {
        tracing::warn!(error = %e, domain, "recording instance health failed");
    }
}

async fn send_one(state: &AppState, row: &Claimed, pass: &Pass) -> PostOutcome {
    let (Some(body), Some(org_id)) = (pass.bodies.get(&row.outbox_id), pass.org_of.get(&row.outbox_id)) else {
        return PostOutcome::Refused(0);
    };
    let Some((key, key_id)) = pass.signers.get(org_id) else {
        return PostOutcome::Refused(0);
    };
    let Ok(inbox) = Url::parse(&row.inbox) else {
        return PostOutcome::Refused(0);
    };
    let signer = Signer { key, key_id };
    match state
        .http
        .post_activity(&inbox, &signer, body, state.clock.now_ms())
        .await
    {
        Ok(outcome) => outcome,
        Err(e) => PostOutcome::Retry {
            reason: e.to_string(),
            retry_after: None,
        },
    }
}

async fn record_failure(
    state: &AppState,
    domain: &str,
    row: &Claimed,
    reason: &str,
    retry_after: Option<Duration>,
    rest: &[i64],
) {
    let now = state.clock.now_ms();
    let failures = store::outbox::instance_fail_count(&state.db, domain).await.unwrap_or(0) + 1;
    let wait =
        backoff_ms(failures).max(retry_after.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(MAX_BACKOFF_MS)));
    let retry_at = now + wait.min(MAX_BACKOFF_MS);
    tracing::info!(inbox = %row.inbox, reason, failures, retry_in_s = wait / 1000, "delivery failed; will retry");
    let results = [
        store::outbox::instance_failed(&state.db, domain, now, retry_at)
            .await
            .map(|_| ()),
        store::outbox::mark_failed(&state.db, row.id, row.attempts + 1, retry_at, reason).await,
        store::outbox::release(&state.db, rest).await,
    ];
    for r in results {
        if let Err(e) = r {
            tracing::warn!(error = %e, domain, "recording a failed delivery failed");
        }
    }
}

/// The worker loop: a pass, then (when idle) wait for a notify, the poll interval or shutdown.
/// A pass in progress finishes before the loop sees the shutdown.
pub async fn run(state: AppState, stop: CancellationToken) {
    while !stop.is_cancelled() {
        let sent = deliver_due(&state).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "delivery pass failed");
            0
        });
        if sent == 0 {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = state.delivery_notify.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_at_a_day() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(40), MAX_BACKOFF_MS);
    }
}
