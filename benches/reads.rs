//! Reads and footprint: WebFinger and actor JSON requests per second at concurrency 64 against
//! the real release binary, next to a bare axum handler returning a fixed body (the ceiling) in
//! the same run; resident memory idle and under load; start-up time to the first answered
//! request with an existing database; release binary size.
//!
//!     cargo bench --bench reads -- [--seconds 10] [--concurrency 64]
//!
//! Both servers run as their own processes; the load generator is this process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::{
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

mod common;
use common::{Proc, arg, free_port, proc_mib};

const BIN: &str = env!("CARGO_BIN_EXE_understory");

fn understory(dir: &std::path::Path, port: u16, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env(
            "UNDERSTORY_DATABASE_URL",
            format!("sqlite://{}", dir.join("reads.db").display()),
        )
        .env("UNDERSTORY_PUBLIC_URL", format!("http://localhost:{port}"))
        .env("UNDERSTORY_BIND", format!("127.0.0.1:{port}"))
        .env("UNDERSTORY_RATE_LIMIT_EXEMPT", "127.0.0.1/32")
        .env("UNDERSTORY_LOG", "warn")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Spawns and returns the process and the time until `/healthz` first answered 200.
fn start(mut cmd: Command, port: u16) -> (Proc, Duration) {
    let t0 = Instant::now();
    let child = Proc(cmd.spawn().unwrap());
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            let mut buf = [0u8; 12];
            if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.1 200") {
                return (child, t0.elapsed());
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "server did not start");
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Requests per second of GET `url` (with `accept`) at `concurrency` for `seconds`; the peak
/// resident memory of `pid` seen meanwhile.
async fn load(url: &str, accept: &str, concurrency: usize, seconds: u64, pid: u32) -> (f64, f64) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, accept, done, stop) = (
            client.clone(),
            url.to_owned(),
            accept.to_owned(),
            done.clone(),
            stop.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = client.get(&url).header("accept", &accept).send().await.unwrap();
                assert!(r.status().is_success(), "{url}: {}", r.status());
                r.bytes().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut peak: f64 = 0.0;
    let t0 = Instant::now();
    while Instant::now() < deadline {
        peak = peak.max(proc_mib(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    (n as f64 / elapsed, peak)
}

async fn bare_server(port: u16, body: String) {
    let router = axum::Router::new().route(
        "/fixed",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/activity+json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    axum::serve(listener, router).await.unwrap();
}

#[tokio::main]
async fn main() {
    if let Some(port) = arg("--bare-server") {
        let body = std::fs::read_to_string(arg("--body").unwrap()).unwrap();
        return bare_server(port.parse().unwrap(), body).await;
    }
    let seconds: u64 = arg("--seconds").map_or(10, |v| v.parse().unwrap());
    let concurrency: usize = arg("--concurrency").map_or(64, |v| v.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    assert!(
        understory(dir.path(), port, &["org", "create", "acme", "--name", "Acme Aid"])
            .status()
            .unwrap()
            .success()
    );
    // First start creates the key on the first actor fetch; then stop and time a start on the
    // existing database.
    let (first, _) = start(understory(dir.path(), port, &["serve"]), port);
    let base = format!("http://127.0.0.1:{port}");
    let actor = reqwest::Client::new()
        .get(format!("{base}/orgs/acme"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    drop(first);
    let mut startups = Vec::new();
    for _ in 0..5 {
        let (p, t) = start(understory(dir.path(), port, &["serve"]), port);
        startups.push(t);
        drop(p);
    }
    startups.sort();
    let (server, startup) = start(understory(dir.path(), port, &["serve"]), port);
    let pid = server.0.id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = proc_mib(pid, "VmRSS:");

    let webfinger = format!("{base}/.well-known/webfinger?resource=acct:acme@localhost:{port}");
    let (wf_rps, wf_peak) = load(&webfinger, "application/jrd+json", concurrency, seconds, pid).await;
    let (actor_rps, actor_peak) = load(
        &format!("{base}/orgs/acme"),
        "application/activity+json",
        concurrency,
        seconds,
        pid,
    )
    .await;
    let after = proc_mib(pid, "VmRSS:");
    drop(server);

    let body_file = dir.path().join("actor.json");
    std::fs::write(&body_file, &actor).unwrap();
    let bare_port = free_port();
    let mut bare = Command::new(std::env::current_exe().unwrap());
    bare.args([
        "--bare-server",
        &bare_port.to_string(),
        "--body",
        body_file.to_str().unwrap(),
    ])
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let bare = Proc(bare.spawn().unwrap());
    while std::net::TcpStream::connect(("127.0.0.1", bare_port)).is_err() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let (ceiling, _) = load(
        &format!("http://127.0.0.1:{bare_port}/fixed"),
        "application/activity+json",
        concurrency,
        seconds,
        bare.0.id(),
    )
    .await;
    drop(bare);

    let size = std::fs::metadata(BIN).unwrap().len() as f64 / 1024.0 / 1024.0;
    println!(
        "concurrency {concurrency}, {seconds} s each, actor document {} bytes",
        actor.len()
    );
    println!("bare axum, fixed body (ceiling): {ceiling:8.0} req/s");
    println!(
        "WebFinger:                       {wf_rps:8.0} req/s = {:5.1}% of the ceiling",
        wf_rps / ceiling * 100.0
    );
    println!(
        "actor JSON:                      {actor_rps:8.0} req/s = {:5.1}% of the ceiling",
        actor_rps / ceiling * 100.0
    );
    println!(
        "resident memory: idle {idle:.1} MiB; peak under load {:.1} MiB; after {after:.1} MiB",
        wf_peak.max(actor_peak)
    );
    println!(
        "start-up to first answered request (existing database): {:.0} ms (median of 5: {:.0} ms)",
        startup.as_secs_f64() * 1000.0,
        startups[2].as_secs_f64() * 1000.0
    );
    println!("release binary: {size:.1} MiB ({BIN})");
}
