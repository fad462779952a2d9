//! Peering benchmark: how long a new peer takes to backfill N organisations, and search
//! latency on an instance holding organisations from many peers.
//!
//!     cargo bench --bench peering -- [--backfill 10000] [--peers 20] [--per-peer 5000] [--queries 200]
//!
//! Every instance is a real server on loopback (SQLite files); pages of `/actor/directory`
//! are fetched with signed GETs, as between production instances.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::time::Instant;

use tokio_util::sync::CancellationToken;
use understory::{
    app::{App, AppOptions},
    clock::Clock,
    config::Config,
    service::{audit::Who, keys::KeySource, open_data, peering},
    state::AppState,
    store::Db,
};

mod common;
use common::{arg, generate_prefixed};

struct Node {
    state: AppState,
    port: u16,
    _dir: tempfile::TempDir,
    _stop: CancellationToken,
}

impl Node {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("n.db").display()))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut config = Config::for_url(&format!("http://localhost:{port}"), "sqlite::memory:").unwrap();
        config.peering_policy = "open".into();
        // Benchmarks run exempt from the rate limits, as the issue asks of every benchmark.
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
        let stop = CancellationToken::new();
        tokio::spawn(app.run(stop.clone()));
        Self {
            state,
            port,
            _dir: dir,
            _stop: stop,
        }
    }

    fn domain(&self) -> String {
        format!("localhost:{}", self.port)
    }

    async fn import(&self, n: usize, prefix: &str, seed: u64) -> Vec<usize> {
        let (csv, counts) = generate_prefixed(n, prefix, seed, "true");
        let checked = open_data::check_csv(&self.state, csv.as_bytes()).await.unwrap();
        assert!(checked.errors.is_empty());
        open_data::import(&self.state, &Who::Cli, &checked.rows, |_| {})
            .await
            .unwrap();
        counts
    }

    async fn deliver(&self) {
        while understory::delivery::worker::deliver_due(&self.state).await.unwrap() > 0 {}
    }
}

/// `from` peers with `to` (open policy); returns the seconds the backfill took.
async fn peer(from: &Node, to: &Node) -> (usize, f64) {
    peering::add(&from.state, &Who::Cli, &to.domain()).await.unwrap();
    from.deliver().await;
    to.deliver().await;
    let t = Instant::now();
    let n = peering::sync(&from.state, &to.domain()).await.unwrap();
    (n, t.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() {
    let backfill: usize = arg("--backfill").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let peers: usize = arg("--peers").and_then(|v| v.parse().ok()).unwrap_or(20);
    let per_peer: usize = arg("--per-peer").and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let queries: usize = arg("--queries").and_then(|v| v.parse().ok()).unwrap_or(200);

    let a = Node::start().await;
    let b = Node::start().await;
    b.import(backfill, "b", 7).await;
    let (read, secs) = peer(&a, &b).await;
    println!(
        "backfill: {read} organisations from one peer in {secs:.1} s ({:.0}/s), {} signed pages of 100",
        read as f64 / secs,
        read.div_ceil(100)
    );

    let hub = Node::start().await;
    let mut theme_counts = vec![0; common::THEMES.len()];
    let started = Instant::now();
    let mut total_sync = 0.0;
    for p in 0..peers {
        let node = Node::start().await;
        let counts = node.import(per_peer, &format!("p{p}_"), 1000 + p as u64).await;
        for (i, c) in counts.iter().enumerate() {
            theme_counts[i] += c;
        }
        let (_, secs) = peer(&hub, &node).await;
        total_sync += secs;
        std::mem::forget(node); // keep its files and server until the process ends
    }
    let n = peers * per_peer;
    println!(
        "hub: {n} organisations from {peers} peers (set up in {:.0} s; backfills took {total_sync:.1} s in all)",
        started.elapsed().as_secs_f64()
    );
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{}/api/understory/v1/directory", hub.port);
    let t = Instant::now();
    let warm: serde_json::Value = client
        .get(format!("{base}?limit=1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    println!(
        "first query (builds the index): {:.0} ms, total {}",
        t.elapsed().as_secs_f64() * 1000.0,
        warm["total"]
    );
    common::run_mix(&client, &base, n, queries, &theme_counts).await;
    println!("targets: p99 results < 10 ms, p99 with counts < 50 ms");
}
