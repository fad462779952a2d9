//! The delivery worker. Instances are sent to independently: up to [`CONCURRENCY`] instances
//! at once, each with its own position in its queue and one request at a time (its order
//! kept); when one instance's queue is done or it fails, the next due instance takes the slot.
//! A hung instance holds one slot, never the others (docs/operations/README.md, "Slow and hung
//! instances"). Each claim is leased to this process by name; a heartbeat keeps the leases of
//! the instances in flight, so a crashed process's rows are taken over within [`LEASE_MS`].

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::{
    http::metrics::Delivery,
    httpsig::KeyPair,
    net::{
        DELIVERY_TIMEOUT,
        fetch::{PostOutcome, Signer},
    },
    service::{self, Error, keys},
    state::AppState,
    store::{self, outbox::Claimed},
};

/// How long the worker idles when nothing is due before looking again (rows written by
/// another process, such as the CLI, are found within this).
pub const IDLE_POLL: Duration = Duration::from_secs(1);
/// Instances sent to at once.
pub const CONCURRENCY: usize = 64;
/// Deliveries claimed from one instance's queue at a time.
pub const INSTANCE_BATCH: i64 = 32;
/// Due instances read per look at the queue.
pub const CANDIDATES: i64 = 256;
/// Delivered ids recorded per write.
pub const FLUSH_EVERY: usize = 64;
/// How long a claim holds without a heartbeat: a crashed process's rows wait at most this.
pub const LEASE_MS: i64 = 30 * 1000;
/// How often a live worker renews the leases of the instances it is sending to.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// A delivery slower than this counts as a strike against its instance.
pub const SLOW_AFTER: Duration = Duration::from_secs(10);
/// After this many slow or timed-out deliveries in a row, an instance gets [`SLOW_TIMEOUT`].
pub const SLOW_STRIKES: u32 = 2;
/// The timeout of an instance that has been slow repeatedly (others get `DELIVERY_TIMEOUT`).
pub const SLOW_TIMEOUT: Duration = Duration::from_secs(5);
/// First retry delay; doubles per failure.
pub const BASE_BACKOFF_MS: i64 = 30 * 1000;
/// Longest retry delay.
pub const MAX_BACKOFF_MS: i64 = 24 * 3600 * 1000;
/// Activity bodies kept in memory between claims.
const BODIES_KEPT: usize = 1024;

/// Retry delay after `failures` consecutive failures: 30 s, 1 min, 2 min, ... capped at a day.
pub fn backoff_ms(failures: i32) -> i64 {
    let shift = failures.clamp(1, 32) - 1;
    BASE_BACKOFF_MS.saturating_mul(1_i64 << shift).min(MAX_BACKOFF_MS)
}

/// The name a process's leases carry: `host:pid:start-ms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lessee {
    /// The machine's host name.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// When the process started (ms since the epoch), so a later process with a reused pid
    /// is told apart.
    pub started_ms: i64,
}

impl Lessee {
    /// This process.
    pub fn this_process(started_ms: i64) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        Self {
            host: if host.is_empty() { "localhost".into() } else { host },
            pid: std::process::id(),
            started_ms,
        }
    }

    /// Parses `host:pid:start-ms`.
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.rsplitn(3, ':');
        let started_ms = parts.next()?.parse().ok()?;
        let pid = parts.next()?.parse().ok()?;
        Some(Self {
            host: parts.next()?.to_owned(),
            pid,
            started_ms,
        })
    }

    /// Whether the process named `other` is certainly gone, as far as this process can tell:
    /// on this host, with this process's pid (an earlier life, as in a restarted container),
    /// or with a pid that no longer runs. Processes on other hosts are never judged here;
    /// their leases lapse without a heartbeat.
    pub fn knows_gone(&self, other: &Self) -> bool {
        other.host == self.host
            && other != self
            && (other.pid == self.pid || !std::path::Path::new(&format!("/proc/{}", other.pid)).exists())
    }
}

impl std::fmt::Display for Lessee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.host, self.pid, self.started_ms)
    }
}

/// At start-up: hands back the leases of processes that are gone. With SQLite only one
/// process serves, so every lease is stale; with PostgreSQL, those of processes this one
/// knows are gone (see [`Lessee::knows_gone`]) and leases without an owner (written by a
/// version before leases named their process). Returns how many rows were handed back.
pub async fn release_gone(db: &store::Db, me: &Lessee) -> service::Result<u64> {
    if db.is_sqlite() {
        return Ok(store::outbox::release_all(db).await?);
    }
    let mut released = 0;
    for owner in store::outbox::lease_owners(db).await? {
        let gone = match owner.as_deref() {
            None => true,
            Some(o) => Lessee::parse(o).is_some_and(|l| me.knows_gone(&l)),
        };
        if gone {
            released += store::outbox::release_owner(db, owner.as_deref()).await?;
        }
    }
    Ok(released)
}

/// A signing key and its key id.
type Signing = (Arc<KeyPair>, String);
/// An activity's body and the organisation that signs it (`None`: the instance actor).
type Body = (Arc<Vec<u8>>, Option<i64>);

/// What the per-instance senders of one worker share.
struct Shared {
    owner: String,
    signers: Mutex<HashMap<Option<i64>, Signing>>,
    bodies: Mutex<HashMap<i64, Body>>,
    /// Delivered ids not yet recorded (kept until a write records them: an outage of the
    /// database no longer turns a batch into re-sends).
    done: Mutex<Vec<i64>>,
    /// Consecutive slow or timed-out deliveries per instance.
    strikes: Mutex<HashMap<String, u32>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn new(state: &AppState) -> Self {
        Self {
            owner: state.lessee.to_string(),
            signers: Mutex::default(),
            bodies: Mutex::default(),
            done: Mutex::default(),
            strikes: Mutex::default(),
        }
    }

    /// Records delivered ids once more than `threshold` are waiting: few writes, and a crash
    /// re-sends at most a batch (receivers deduplicate by activity id). A failed write keeps
    /// them for the next flush.
    async fn flush(&self, state: &AppState, threshold: usize) {
        let ids = {
            let mut done = locked(&self.done);
            if done.len() <= threshold {
                return;
            }
            std::mem::take(&mut *done)
        };
        if let Err(e) = store::outbox::mark_delivered(&state.db, &ids, state.clock.now_ms()).await {
            tracing::warn!(error = %e, count = ids.len(), "recording deliveries failed; will record them again");
            locked(&self.done).extend(ids);
        }
    }

    /// The final flush: tries for a while (a database outage at shutdown), then gives up and
    /// leaves the rows to be sent again.
    async fn flush_all(&self, state: &AppState) {
        for attempt in 0..5 {
            self.flush(state, 0).await;
            if locked(&self.done).is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
    }

    async fn body(&self, state: &AppState, outbox_id: i64) -> service::Result<Body> {
        if let Some(b) = locked(&self.bodies).get(&outbox_id) {
            return Ok(b.clone());
        }
        let (body, org_id) = store::outbox::activity(&state.db, outbox_id)
            .await?
            .ok_or_else(|| Error::Internal(format!("outbox row {outbox_id} missing")))?;
        let entry = (Arc::new(body.into_bytes()), org_id);
        let mut bodies = locked(&self.bodies);
        if bodies.len() >= BODIES_KEPT {
            bodies.clear();
        }
        bodies.insert(outbox_id, entry.clone());
        Ok(entry)
    }

    async fn signer(&self, state: &AppState, org_id: Option<i64>) -> service::Result<Signing> {
        if let Some(s) = locked(&self.signers).get(&org_id) {
            return Ok(s.clone());
        }
        let signer = signer_for(state, org_id).await?;
        locked(&self.signers).insert(org_id, signer.clone());
        Ok(signer)
    }

    fn timeout_for(&self, domain: &str) -> Duration {
        if locked(&self.strikes).get(domain).copied().unwrap_or(0) >= SLOW_STRIKES {
            SLOW_TIMEOUT
        } else {
            DELIVERY_TIMEOUT
        }
    }

    /// Counts a strike for a slow or timed-out delivery; a prompt answer clears them.
    fn note_speed(&self, domain: &str, took: Duration, timed_out: bool) {
        let mut strikes = locked(&self.strikes);
        if timed_out || took >= SLOW_AFTER {
            *strikes.entry(domain.to_owned()).or_default() += 1;
        } else {
            strikes.remove(domain);
        }
    }
}

async fn signer_for(state: &AppState, org_id: Option<i64>) -> service::Result<Signing> {
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

/// Delivers everything due now, instance by instance (tests and `understory deliver`-like
/// callers use it; the server runs [`run`]). Returns how many deliveries were attempted.
pub async fn deliver_due(state: &AppState) -> service::Result<usize> {
    let shared = Arc::new(Shared::new(state));
    let attempted = schedule(state, &shared, None).await;
    shared.flush_all(state).await;
    attempted
}

/// The worker loop, until `stop`: instances in flight finish their current delivery and hand
/// back the rest of their claim.
pub async fn run(state: AppState, stop: CancellationToken) {
    let shared = Arc::new(Shared::new(&state));
    if let Err(e) = schedule(&state, &shared, Some(&stop)).await {
        tracing::warn!(error = %e, "delivery worker stopped");
    }
    shared.flush_all(&state).await;
}

/// Keeps up to [`CONCURRENCY`] instances in flight. With `stop`, runs until it is cancelled;
/// without, until nothing more is due.
async fn schedule(state: &AppState, shared: &Arc<Shared>, stop: Option<&CancellationToken>) -> service::Result<usize> {
    let mut tasks: JoinSet<(String, usize)> = JoinSet::new();
    let mut active: HashSet<String> = HashSet::new();
    let mut candidates: VecDeque<(String, i32)> = VecDeque::new();
    let mut exhausted = false;
    let mut attempted = 0;
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut poll = tokio::time::interval(IDLE_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = stop.is_some_and(CancellationToken::is_cancelled);
        while !stopping && tasks.len() < CONCURRENCY {
            if candidates.is_empty() && !exhausted {
                match store::outbox::due_instances(&state.db, state.clock.now_ms(), CANDIDATES).await {
                    Ok(list) => candidates.extend(list.into_iter().filter(|(d, _)| !active.contains(d))),
                    Err(e) if stop.is_none() => return Err(e.into()),
                    Err(e) => tracing::warn!(error = %e, "reading the delivery queue failed"),
                }
                exhausted = candidates.is_empty();
            }
            let Some((domain, failures)) = candidates.pop_front() else {
                break;
            };
            if !active.insert(domain.clone()) {
                continue;
            }
            let (state, shared, stop) = (state.clone(), shared.clone(), stop.cloned());
            tasks.spawn(async move {
                let n = send_instance(&state, &shared, &domain, failures > 0, stop.as_ref()).await;
                (domain, n)
            });
        }
        if tasks.is_empty() && (stop.is_none() || stopping) {
            return Ok(attempted);
        }
        if tasks.is_empty() {
            // Idle: record what was delivered now. Until recorded, a delivered row keeps its
            // lease, and its instance is not sent anything new (that held a Create behind an
            // already delivered Accept for the 30 s of the lease).
            shared.flush(state, 0).await;
        }
        tokio::select! {
            joined = tasks.join_next(), if !tasks.is_empty() => match joined {
                Some(Ok((domain, n))) => {
                    active.remove(&domain);
                    attempted += n;
                    shared.flush(state, FLUSH_EVERY).await;
                }
                Some(Err(e)) => tracing::error!(error = %e, "an instance's sender failed"),
                None => {}
            },
            () = stopped(stop), if !stopping => {}
            () = state.delivery_notify.notified(), if stop.is_some() => exhausted = false,
            _ = poll.tick(), if stop.is_some() => {
                exhausted = false;
                shared.flush(state, 0).await;
            }
            _ = heartbeat.tick() => {
                let domains: Vec<String> = active.iter().cloned().collect();
                let until = state.clock.now_ms() + LEASE_MS;
                if let Err(e) = store::outbox::extend_leases(&state.db, &shared.owner, &domains, until).await {
                    tracing::warn!(error = %e, "renewing delivery leases failed");
                }
            }
        }
    }
}

async fn stopped(stop: Option<&CancellationToken>) {
    match stop {
        Some(s) => s.cancelled().await,
        None => std::future::pending().await,
    }
}

/// Sends one instance's due deliveries in order, a claim at a time, until none is due, one
/// fails (the rest wait for the instance's backoff) or `stop`. Returns the attempts made.
async fn send_instance(
    state: &AppState,
    shared: &Shared,
    domain: &str,
    was_failing: bool,
    stop: Option<&CancellationToken>,
) -> usize {
    let mut attempted = 0;
    let mut delivered_any = false;
    'claims: loop {
        let now = state.clock.now_ms();
        let claimed =
            match store::outbox::claim_instance(&state.db, domain, &shared.owner, now, now + LEASE_MS, INSTANCE_BATCH)
                .await
            {
                Ok(c) if !c.is_empty() => c,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, domain, "claiming deliveries failed");
                    break;
                }
            };
        let mut rows = claimed.into_iter();
        while let Some(row) = rows.next() {
            if stop.is_some_and(CancellationToken::is_cancelled) {
                let rest: Vec<i64> = std::iter::once(row.id).chain(rows.map(|r| r.id)).collect();
                if let Err(e) = store::outbox::release(&state.db, &rest).await {
                    tracing::warn!(error = %e, domain, "handing back deliveries failed");
                }
                break 'claims;
            }
            attempted += 1;
            match send_one(state, shared, domain, &row).await {
                PostOutcome::Delivered => {
                    state.metrics.delivery(Delivery::Delivered);
                    delivered_any = true;
                    locked(&shared.done).push(row.id);
                    shared.flush(state, FLUSH_EVERY).await;
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
                    break 'claims;
                }
            }
        }
    }
    if delivered_any
        && was_failing
        && let Err(e) = store::outbox::instance_succeeded(&state.db, domain, state.clock.now_ms()).await
    {
        tracing::warn!(error = %e, domain, "recording instance health failed");
    }
    attempted
}

async fn send_one(state: &AppState, shared: &Shared, domain: &str, row: &Claimed) -> PostOutcome {
    let retry = |reason: String| PostOutcome::Retry {
        reason,
        retry_after: None,
    };
    let (body, org_id) = match shared.body(state, row.outbox_id).await {
        Ok(b) => b,
        Err(e) => return retry(e.to_string()),
    };
    let (key, key_id) = match shared.signer(state, org_id).await {
        Ok(s) => s,
        Err(e) => return retry(format!("no signing key: {e}")),
    };
    let Ok(inbox) = Url::parse(&row.inbox) else {
        return PostOutcome::Refused(0);
    };
    let signer = Signer {
        key: &key,
        key_id: &key_id,
    };
    let timeout = shared.timeout_for(domain);
    let started = Instant::now();
    let outcome = match state
        .http
        .post_activity(&inbox, &signer, &body, state.clock.now_ms(), timeout)
        .await
    {
        Ok(outcome) => outcome,
        Err(e) => retry(e.to_string()),
    };
    let took = started.elapsed();
    let timed_out = took >= timeout && matches!(outcome, PostOutcome::Retry { .. });
    shared.note_speed(domain, took, timed_out);
    outcome
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps_at_a_day() {
        assert_eq!(backoff_ms(1), 30_000);
        assert_eq!(backoff_ms(2), 60_000);
        assert_eq!(backoff_ms(40), MAX_BACKOFF_MS);
    }

    #[test]
    fn lessees_round_trip_and_an_earlier_life_is_gone() {
        let me = Lessee {
            host: "web-1".into(),
            pid: 7,
            started_ms: 1_000,
        };
        assert_eq!(Lessee::parse(&me.to_string()), Some(me.clone()));
        let earlier = Lessee {
            started_ms: 10,
            ..me.clone()
        };
        assert!(
            me.knows_gone(&earlier),
            "same host and pid, earlier start: a restarted container"
        );
        assert!(!me.knows_gone(&me), "not itself");
        let elsewhere = Lessee {
            host: "web-2".into(),
            ..earlier
        };
        assert!(
            !me.knows_gone(&elsewhere),
            "another host's process is left to its lease"
        );
        assert_eq!(Lessee::parse("no-colons"), None);
    }
}
