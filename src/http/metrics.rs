//! Prometheus metrics at `/metrics` (`UNDERSTORY_METRICS=true`), answered only to addresses in
//! `UNDERSTORY_METRICS_ALLOW`. Counters live in memory (per process, from start); queue gauges
//! are read from the database at scrape time. docs/operations/monitoring.md lists them.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::limit::ClientAddr;
use crate::{state::AppState, store};

/// Upper bounds (seconds) of the search latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
/// Most instances listed by the per-instance gauges (the busiest first).
pub const MAX_INSTANCES: i64 = 100;

/// The in-memory counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(String, u16), u64>>,
    delivered: AtomicU64,
    retried: AtomicU64,
    refused: AtomicU64,
    search: Histogram,
}

/// What a delivery attempt came to, for `understory_deliveries_total`.
#[derive(Clone, Copy)]
pub enum Delivery {
    /// 2xx.
    Delivered,
    /// To be tried again.
    Retry,
    /// Refused for good.
    Refused,
}

#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Metrics {
    /// Counts a delivery attempt.
    pub fn delivery(&self, outcome: Delivery) {
        let counter = match outcome {
            Delivery::Delivered => &self.delivered,
            Delivery::Retry => &self.retried,
            Delivery::Refused => &self.refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records how long a directory search took.
    pub fn search(&self, took: Duration) {
        let h = &self.search;
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            h.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        h.count.fetch_add(1, Ordering::Relaxed);
        h.sum_micros
            .fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn request(&self, route: String, status: u16) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((route, status))
            .or_default() += 1;
    }
}

/// Counts each request by its route pattern and status (a route layer, so the pattern is known).
pub async fn count(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    state.metrics.request(route, response.status().as_u16());
    response
}

/// `GET /metrics`: 404 when off, 403 to addresses outside `UNDERSTORY_METRICS_ALLOW`.
pub async fn metrics(State(state): State<AppState>, request: Request) -> Response {
    if !state.config.metrics {
        return (StatusCode::NOT_FOUND, "metrics are off (UNDERSTORY_METRICS)").into_response();
    }
    let allowed = request
        .extensions()
        .get::<ClientAddr>()
        .is_some_and(|ClientAddr(ip)| state.config.metrics_allow.iter().any(|c| c.contains(*ip)));
    if !allowed {
        return (StatusCode::FORBIDDEN, "not an address in UNDERSTORY_METRICS_ALLOW").into_response();
    }
    match render(&state).await {
        Ok(body) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
            body,
        )
            .into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database unavailable: {e}")).into_response(),
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One sample per instance of a gauge labelled `instance`.
fn per_instance(out: &mut String, name: &str, rows: &[(String, i64)]) {
    for (domain, n) in rows {
        let _ = writeln!(out, "{name}{{instance=\"{}\"}} {n}", label(domain));
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

async fn render(state: &AppState) -> Result<String, store::StoreError> {
    let m = &state.metrics;
    let now = state.clock.now_ms();
    let queue = store::outbox::status(&state.db).await?;
    let gauges = store::outbox::metrics(&state.db, MAX_INSTANCES).await?;
    let orgs = store::orgs::count(&state.db).await?;
    let mut out = String::new();
    family(&mut out, "understory_build_info", "gauge", "The running version.");
    let _ = writeln!(
        out,
        "understory_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    family(
        &mut out,
        "understory_http_requests_total",
        "counter",
        "HTTP requests by route pattern and status.",
    );
    let mut requests: Vec<_> = m
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    requests.sort();
    for ((route, status), n) in requests {
        let _ = writeln!(
            out,
            "understory_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
            label(&route)
        );
    }
    family(
        &mut out,
        "understory_deliveries_total",
        "counter",
        "Delivery attempts by outcome.",
    );
    for (outcome, n) in [
        ("delivered", &m.delivered),
        ("retry", &m.retried),
        ("refused", &m.refused),
    ] {
        let _ = writeln!(
            out,
            "understory_deliveries_total{{outcome=\"{outcome}\"}} {}",
            n.load(Ordering::Relaxed)
        );
    }
    family(
        &mut out,
        "understory_deliveries_pending",
        "gauge",
        "Deliveries not yet made.",
    );
    let _ = writeln!(out, "understory_deliveries_pending {}", queue.pending);
    family(
        &mut out,
        "understory_deliveries_pending_by_instance",
        "gauge",
        "Deliveries not yet made, for the instances with the most.",
    );
    per_instance(
        &mut out,
        "understory_deliveries_pending_by_instance",
        &gauges.pending_by_instance,
    );
    family(
        &mut out,
        "understory_instance_failures",
        "gauge",
        "Consecutive failed delivery attempts of each failing instance.",
    );
    per_instance(&mut out, "understory_instance_failures", &gauges.failing);
    family(
        &mut out,
        "understory_instances_dead",
        "gauge",
        "Instances failing for three days (tried daily).",
    );
    let _ = writeln!(out, "understory_instances_dead {}", queue.dead_instances);
    family(
        &mut out,
        "understory_delivery_queue_oldest_seconds",
        "gauge",
        "Age of the oldest delivery not yet made.",
    );
    let oldest = gauges.oldest_pending.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0);
    let _ = writeln!(out, "understory_delivery_queue_oldest_seconds {oldest}");
    family(
        &mut out,
        "understory_organisations",
        "gauge",
        "Organisations on this instance.",
    );
    let _ = writeln!(out, "understory_organisations {orgs}");
    family(
        &mut out,
        "understory_search_duration_seconds",
        "histogram",
        "Directory searches.",
    );
    let mut cumulative = 0;
    for (bound, n) in BUCKETS.iter().zip(&m.search.buckets) {
        cumulative += n.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "understory_search_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
        );
    }
    let count = m.search.count.load(Ordering::Relaxed);
    let _ = writeln!(out, "understory_search_duration_seconds_bucket{{le=\"+Inf\"}} {count}");
    let sum = m.search.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
    let _ = writeln!(
        out,
        "understory_search_duration_seconds_sum {sum}\nunderstory_search_duration_seconds_count {count}"
    );
    Ok(out)
}
