//! Inbox load test: C concurrent senders deliver signed activities into the shared inbox of a
//! real instance for a fixed time; reports how many were accepted, rejected and lost.
//!
//!     cargo bench --bench inbox -- [--seconds 10] [--concurrency 64] [--bad-every 20]
//!         [--database postgres://postgres@127.0.0.1:5432/test]
//!
//! SQLite in a temporary file by default; with `--database` a PostgreSQL URL, in a fresh schema
//! (dropped afterwards).
//!
//! Loopback only. Every sender is a real actor served by a small HTTP server (fetched and
//! verified by the instance on first use); each activity is a `Like` with a new id, signed at
//! send time. Every `--bad-every`-th request has its body changed after signing and must be
//! refused. "Lost" is accepted minus stored: it must be zero.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Json, Router, extract::Path, routing::get};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use understory::{
    app::{App, AppOptions},
    clock::Clock,
    config::Config,
    httpsig::{KeyPair, sign_post},
    service::{self, audit::Who, keys::KeySource},
    store::{self, Db},
};

mod common;
use common::{arg, percentile};

#[tokio::main]
async fn main() {
    let seconds: u64 = arg("--seconds").map_or(10, |v| v.parse().unwrap());
    let concurrency: usize = arg("--concurrency").map_or(64, |v| v.parse().unwrap());
    let bad_every: u64 = arg("--bad-every").map_or(20, |v| v.parse().unwrap());

    let dir = tempfile::tempdir().unwrap();
    let postgres = arg("--database").filter(|u| u.starts_with("postgres"));
    let schema = format!("bench_inbox_{}", std::process::id());
    let db = match &postgres {
        Some(url) => {
            if let Db::Postgres(pool) = &Db::connect(url).await.unwrap() {
                sqlx::query(&format!("create schema {schema}"))
                    .execute(pool)
                    .await
                    .unwrap();
            }
            Db::connect_postgres_schema(url, &schema).await.unwrap()
        }
        None => Db::connect(&format!("sqlite://{}", dir.path().join("inbox.db").display()))
            .await
            .unwrap(),
    };
    db.migrate().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut config = Config::for_url(&format!("http://localhost:{port}"), "sqlite::memory:").unwrap();
    config.rate_limit_exempt = understory::http::limit::parse_list("127.0.0.1/32").unwrap();
    config.media_dir = dir.path().join("media");
    let options = AppOptions {
        clock: Clock::System,
        keys: KeySource::Generate,
        workers: false,
    };
    let app = App::build(config, db, listener, options).await.unwrap();
    let state = app.state().clone();
    let stop = CancellationToken::new();
    tokio::spawn(app.run(stop.clone()));
    service::orgs::create(
        &state,
        &Who::Cli,
        &service::orgs::NewOrgInput {
            handle: "acme".into(),
            name: "Acme".into(),
            summary: String::new(),
            approve_followers: false,
        },
    )
    .await
    .unwrap();
    let post = service::posts::publish(&state, &Who::Cli, "acme", "Load test target", None)
        .await
        .unwrap();
    let object = format!("http://localhost:{port}/orgs/acme/updates/{}", post.id);

    // The senders: one key, one actor per concurrent sender.
    let key = Arc::new(KeyPair::generate().unwrap());
    let senders = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let senders_base = format!("http://localhost:{}", senders.local_addr().unwrap().port());
    let pem = key.public_pem().to_owned();
    let base = senders_base.clone();
    let router = Router::new().route(
        "/users/{n}",
        get(move |Path(n): Path<String>| {
            let (pem, base) = (pem.clone(), base.clone());
            async move {
                let id = format!("{base}/users/{n}");
                Json(
                    json!({"@context": "https://www.w3.org/ns/activitystreams", "id": id, "type": "Person",
                    "preferredUsername": format!("s{n}"), "inbox": format!("{id}/inbox"),
                    "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": pem}}),
                )
            }
        }),
    );
    tokio::spawn(async move { axum::serve(senders, router).await });

    let inbox = url::Url::parse(&format!("http://localhost:{port}/inbox")).unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let (accepted, rejected, failed, sent) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..concurrency {
        let (client, key, inbox, object) = (client.clone(), key.clone(), inbox.clone(), object.clone());
        let actor = format!("{senders_base}/users/{n}");
        let (accepted, rejected, failed, sent, latencies) = (
            accepted.clone(),
            rejected.clone(),
            failed.clone(),
            sent.clone(),
            latencies.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let seq = sent.fetch_add(1, Ordering::Relaxed) + 1;
                let like = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{actor}#likes/{i}"),
                    "type": "Like", "actor": actor, "object": object});
                let body = serde_json::to_vec(&like).unwrap();
                let now = chrono::Utc::now().timestamp_millis();
                let headers = sign_post(&key, &format!("{actor}#main-key"), &inbox, &body, now).unwrap();
                let bad = bad_every > 0 && seq % bad_every == 0;
                let sent_body = if bad {
                    serde_json::to_vec(&json!({"id": format!("{actor}#tampered/{i}"), "type": "Like", "actor": actor, "object": object})).unwrap()
                } else {
                    body
                };
                let mut request = client.post(inbox.clone()).body(sent_body);
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                let t0 = Instant::now();
                match request.send().await {
                    Ok(r) if r.status().as_u16() == 202 && !bad => {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) if r.status().is_client_error() && bad => {
                        rejected.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        eprintln!("unexpected {} (tampered: {bad})", r.status());
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("transport: {e}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies.lock().unwrap().push(t0.elapsed());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stored = store::posts::interaction_count(&state.db, post.id, "like")
        .await
        .unwrap() as u64;
    let accepted = accepted.load(Ordering::Relaxed);
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort();
    println!(
        "inbox load: {} s at concurrency {concurrency}: sent {}, accepted {accepted} ({:.0}/s), rejected {} (tampered, all refused), failed {}, stored {stored}, lost {}",
        seconds,
        sent.load(Ordering::Relaxed),
        accepted as f64 / elapsed,
        rejected.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        accepted.saturating_sub(stored),
    );
    println!(
        "latency p50 {:.2} ms, p99 {:.2} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99)
    );
    assert_eq!(accepted, stored, "every accepted activity is stored");
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request failed");
    stop.cancel();
    if let Some(url) = &postgres {
        state.db.close().await;
        if let Db::Postgres(pool) = &Db::connect(url).await.unwrap() {
            sqlx::query(&format!("drop schema {schema} cascade"))
                .execute(pool)
                .await
                .unwrap();
        }
    }
}
