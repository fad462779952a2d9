//! Directory benchmark: generates N synthetic organisations with realistic distributions,
//! imports them through the same path as `understory org import`, starts a real server and
//! measures search latency over HTTP for a fixed mix of queries.
//!
//!     cargo bench --bench directory -- [--orgs 100000] [--queries 400] [--database postgres://...]
//!         [--during-import 100000]
//!
//! The mix: 25% a country facet matching at least a quarter of organisations, 25% one theme
//! (about a tenth), 25% one or two realistic words, 25% three facets together. Each query runs
//! without counts (results) and with exact facet counts.
//!
//! With `--during-import M` it then imports M more organisations through the same path while
//! the server answers the mix over HTTP without pause, and prints the latency of those searches
//! beside the same mix idle (issue 24 item 4), the import's duration, and how long after the
//! import the index was current.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

mod common;
use common::{KINDS, Rng, THEMES, WORDS, arg, generate, generate_prefixed, percentile};

use indicatif::{ProgressBar, ProgressStyle};
use tokio_util::sync::CancellationToken;
use understory::{
    app::{App, AppOptions},
    clock::Clock,
    config::Config,
    service::{self, audit::Who, keys::KeySource, open_data},
    store::Db,
};

#[tokio::main]
async fn main() {
    let n: usize = arg("--orgs").and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let queries: usize = arg("--queries").and_then(|v| v.parse().ok()).unwrap_or(400);
    let dir = tempfile::tempdir().unwrap();
    let mut cleanup: Option<(Db, String)> = None;
    let (db, label) = match arg("--database") {
        Some(url) if url.starts_with("postgres") => {
            let schema = format!("bench_{}", service::token());
            let admin = Db::connect(&url).await.unwrap();
            if let Db::Postgres(pool) = &admin {
                sqlx::query(&format!("create schema {schema}"))
                    .execute(pool)
                    .await
                    .unwrap();
            }
            cleanup = Some((admin, schema.clone()));
            (Db::connect_postgres_schema(&url, &schema).await.unwrap(), "PostgreSQL")
        }
        _ => (
            Db::connect(&format!("sqlite://{}", dir.path().join("bench.db").display()))
                .await
                .unwrap(),
            "SQLite",
        ),
    };
    db.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = Config::for_url(&format!("http://localhost:{port}"), "sqlite::memory:").unwrap();
    // Benchmarks run exempt from the rate limits (UNDERSTORY_RATE_LIMIT_EXEMPT=127.0.0.1/32).
    config.rate_limit_exempt = understory::http::limit::parse_list("127.0.0.1/32").unwrap();
    let app = App::build(
        config,
        db,
        listener,
        AppOptions {
            clock: Clock::System,
            keys: KeySource::Generate,
            workers: false,
        },
    )
    .await
    .unwrap();
    let state = app.state().clone();

    println!("directory benchmark: {n} organisations on {label}, {queries} queries per kind");
    let (csv, theme_counts) = generate(n);
    let started = Instant::now();
    let checked = open_data::check_csv(&state, csv.as_bytes()).await.unwrap();
    assert!(
        checked.errors.is_empty(),
        "{:?}",
        &checked.errors[..checked.errors.len().min(5)]
    );
    let bar = ProgressBar::new(n as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} imported ({per_sec})") {
        bar.set_style(style);
    }
    open_data::import(&state, &Who::Cli, &checked.rows, |w| bar.set_position(w as u64))
        .await
        .unwrap();
    bar.finish_and_clear();
    let import_s = started.elapsed().as_secs_f64();
    println!(
        "import: {n} organisations in {import_s:.1} s ({:.0}/s), no keys made",
        n as f64 / import_s
    );

    let stop = CancellationToken::new();
    tokio::spawn(app.run(stop.clone()));
    // The background index refresher, as `understory serve` runs it.
    tokio::spawn(service::directory::run_refresher(state.clone(), stop.child_token()));
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}/api/understory/v1/directory");
    let started = Instant::now();
    let warm: serde_json::Value = client
        .get(format!("{base}?limit=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!(
        "first query (builds the in-memory index): {:.0} ms, total {}",
        started.elapsed().as_secs_f64() * 1000.0,
        warm["total"]
    );

    common::run_mix(&client, &base, n, queries, &theme_counts).await;
    println!("targets: p99 results < 10 ms, p99 with counts < 50 ms, import of 100,000 < 60 s");
    if let Some(m) = arg("--during-import").and_then(|v| v.parse().ok()) {
        during_import(&state, &client, &base, n, m, queries, &theme_counts).await;
    }
    stop.cancel();
    if let Some((Db::Postgres(pool), schema)) = cleanup {
        sqlx::query(&format!("drop schema {schema} cascade"))
            .execute(&pool)
            .await
            .unwrap();
    }
}

/// The `i`th query of the mix (the four kinds in turn, as `common::run_mix` makes them).
fn mix_query(i: usize, rng: &mut Rng, tenth: usize) -> String {
    match i % 4 {
        0 => "place=GB".to_owned(),
        1 => format!("theme={}", THEMES[tenth]),
        2 if rng.below(2) == 0 => format!("q={}", WORDS[rng.below(WORDS.len())]),
        2 => format!("q={}+{}", WORDS[rng.below(8)], WORDS[rng.below(WORDS.len())]),
        _ => format!(
            "theme={}&place=GB&kind={}",
            THEMES[rng.skewed(8)],
            KINDS[rng.below(KINDS.len())]
        ),
    }
}

/// Runs the mix (each query without and with counts) until `until` says stop or `max` queries
/// were sent; returns every request's latency by query kind (in mix order), each sorted.
async fn timed_mix(
    client: &reqwest::Client,
    base: &str,
    tenth: usize,
    max: usize,
    until: impl Fn() -> bool,
) -> [Vec<Duration>; 4] {
    let mut rng = Rng(42);
    let mut took: [Vec<Duration>; 4] = Default::default();
    let mut i = 0;
    while i < max && !until() {
        let q = mix_query(i, &mut rng, tenth);
        for url in [format!("{base}?{q}&counts=false"), format!("{base}?{q}")] {
            let t = Instant::now();
            let r = client.get(url).send().await.unwrap();
            assert!(r.status().is_success(), "{}", r.status());
            let _ = r.bytes().await.unwrap();
            took[i % 4].push(t.elapsed());
        }
        i += 1;
    }
    for kind in &mut took {
        kind.sort();
    }
    took
}

fn whole(kinds: &[Vec<Duration>; 4]) -> Vec<Duration> {
    let mut all: Vec<Duration> = kinds.iter().flatten().copied().collect();
    all.sort();
    all
}

fn latency_row(name: &str, took: &[Duration]) {
    if took.is_empty() {
        println!("{name:<16} {:>8}", 0);
        return;
    }
    println!(
        "{name:<16} {:>8} {:>9.2} ms {:>9.2} ms {:>9.2} ms {:>9.2} ms",
        took.len(),
        percentile(took, 0.5),
        percentile(took, 0.95),
        percentile(took, 0.99),
        took.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    );
}

async fn total(client: &reqwest::Client, base: &str) -> u64 {
    let body: serde_json::Value = client
        .get(format!("{base}?limit=1&counts=false"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["total"].as_u64().unwrap_or(0)
}

/// Issue 24 item 4: search latency while `m` organisations are imported, beside the same mix idle.
async fn during_import(
    state: &understory::state::AppState,
    client: &reqwest::Client,
    base: &str,
    n: usize,
    m: usize,
    queries: usize,
    theme_counts: &[usize],
) {
    let tenth = (0..THEMES.len())
        .min_by_key(|i| (theme_counts[*i] as i64 - n as i64 / 10).abs())
        .unwrap();
    let (csv, _) = generate_prefixed(m, "imp", 0x0dd_ba11_5eed_7777, "true");
    let checked = open_data::check_csv(state, csv.as_bytes()).await.unwrap();
    assert!(
        checked.errors.is_empty(),
        "{:?}",
        &checked.errors[..checked.errors.len().min(5)]
    );

    let idle = timed_mix(client, base, tenth, queries * 4, || false).await;

    let done = Arc::new(AtomicBool::new(false));
    let importer = {
        let (state, done) = (state.clone(), done.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            open_data::import(&state, &Who::Cli, &checked.rows, |_| {})
                .await
                .unwrap();
            let took = started.elapsed();
            done.store(true, Ordering::Release);
            took
        })
    };
    let batches_before = state.directory.batches_applied();
    let busy = timed_mix(client, base, tenth, usize::MAX, || done.load(Ordering::Acquire)).await;
    let batches = state.directory.batches_applied() - batches_before;
    let import = importer.await.unwrap();
    let ended = Instant::now();
    while total(client, base).await < (n + m) as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let caught_up = ended.elapsed();

    println!();
    println!(
        "during import: {m} more organisations imported in {:.1} s ({:.0}/s) while searching",
        import.as_secs_f64(),
        m as f64 / import.as_secs_f64()
    );
    println!(
        "{:<16} {:>8} {:>12} {:>12} {:>12} {:>12}",
        "whole mix", "requests", "p50", "p95", "p99", "max"
    );
    latency_row("idle", &whole(&idle));
    latency_row("during import", &whole(&busy));
    for (k, name) in ["country facet", "one theme", "free text", "three facets"]
        .iter()
        .enumerate()
    {
        println!("{name}:");
        latency_row("  idle", &idle[k]);
        latency_row("  during import", &busy[k]);
    }
    println!(
        "refresh batches during the import: {batches} (the refresher's up to {} rows, a search's up to {})",
        service::directory::REFRESH_BATCH,
        service::directory::SEARCH_REFRESH_BATCH
    );
    println!(
        "index current with all {} organisations {:.0} ms after the import ended",
        n + m,
        caught_up.as_secs_f64() * 1000.0
    );
    println!("target: p99 during the import < 50 ms");
}
