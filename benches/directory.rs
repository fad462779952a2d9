//! Directory benchmark: generates N synthetic organisations with realistic distributions,
//! imports them through the same path as `understory org import`, starts a real server and
//! measures search latency over HTTP for a fixed mix of queries.
//!
//!     cargo bench --bench directory -- [--orgs 100000] [--queries 400] [--database postgres://...]
//!
//! The mix: 25% a country facet matching at least a quarter of organisations, 25% one theme
//! (about a tenth), 25% one or two realistic words, 25% three facets together. Each query runs
//! without counts (results) and with exact facet counts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::Instant;

mod common;
use common::{arg, generate};

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
    stop.cancel();
    if let Some((Db::Postgres(pool), schema)) = cleanup {
        sqlx::query(&format!("drop schema {schema} cascade"))
            .execute(&pool)
            .await
            .unwrap();
    }
}
