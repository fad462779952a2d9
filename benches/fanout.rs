//! Fan-out benchmark: one update from an organisation with followers on N distinct remote
//! inboxes, from publish until the last delivery is acknowledged, with the real release binary.
//!
//!     cargo bench --bench fanout -- [--followers 10000] [--per-port 5] [--sizes 1000,3000,10000]
//!     cargo bench --bench fanout -- --hung 10 [--instances 80] [--per-port 30] [--posts 3]
//!
//! With `--hung P`, P% of the instances accept connections and never answer; the run is made
//! twice, with none hung and with P% hung, and prints the rate at which the healthy instances
//! receive (the target: with 10% hung, at least 90% of the rate with none hung).
//!
//! The sink (this process) listens on `followers / per-port` loopback ports (each a distinct
//! instance to Understory) and verifies every signature before answering 202. Understory runs as
//! its own process (`understory serve`), so its CPU time is read from `/proc/<pid>/stat` with the
//! sink excluded, and set next to the CPU cost of one RSA-2048 signature measured here in the
//! same run (aws-lc-rs, as Understory signs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
use tokio::sync::Notify;
use understory::{
    httpsig::{KeyPair, PublicKey, SignatureHeader, verify::RequestParts},
    store::{self, Db, actors::RemoteActor},
};

mod common;
use common::arg;

const BIN: &str = env!("CARGO_BIN_EXE_understory");

/// CPU seconds (user + system) of a process, from `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().parse().unwrap()
}

#[derive(Clone)]
struct Sink {
    key: Arc<PublicKey>,
    verified: Arc<AtomicUsize>,
    bad: Arc<AtomicUsize>,
    target: usize,
    done: Arc<Notify>,
}

async fn inbox(
    State(sink): State<Sink>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Bytes,
) -> axum::http::StatusCode {
    let ok = SignatureHeader::from_headers(&headers).is_ok_and(|sig| {
        let parts = RequestParts {
            method: "post",
            path: uri.path(),
            query: uri.query(),
            headers: &headers,
            host_fallback: "",
        };
        sig.verify(&parts, &sink.key).is_ok()
    }) && understory::httpsig::verify::check_digest(&headers, &body).is_ok();
    if ok {
        if sink.verified.fetch_add(1, Ordering::Relaxed) + 1 == sink.target {
            sink.done.notify_one();
        }
        axum::http::StatusCode::ACCEPTED
    } else {
        sink.bad.fetch_add(1, Ordering::Relaxed);
        axum::http::StatusCode::UNAUTHORIZED
    }
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Never answers: a hung instance.
async fn hang() -> axum::http::StatusCode {
    std::future::pending::<()>().await;
    axum::http::StatusCode::ACCEPTED
}

/// One run: `followers` personal inboxes, `per_port` per instance, the first `hung` instances
/// never answering, `posts` updates. Returns the healthy deliveries and the seconds they took.
async fn run_once(followers: usize, per_port: usize, sign_cost: f64, posts: usize, hung: usize) -> (usize, f64) {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("fanout.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = |cmd: &mut Command| {
        cmd.env("UNDERSTORY_DATABASE_URL", &db_url)
            .env("UNDERSTORY_PUBLIC_URL", format!("http://localhost:{port}"))
            .env("UNDERSTORY_BIND", format!("127.0.0.1:{port}"))
            .env("UNDERSTORY_RATE_LIMIT_EXEMPT", "127.0.0.1/32")
            .env("UNDERSTORY_LOG", "warn")
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    };
    let mut create = Command::new(BIN);
    create.args(["org", "create", "acme", "--name", "Acme"]);
    env(&mut create);
    assert!(create.status().unwrap().success());

    // The sink: followers / per_port instances, each with per_port personal inboxes.
    let db = Db::connect(&db_url).await.unwrap();
    let org = store::orgs::find_by_handle(&db, "acme").await.unwrap().unwrap();
    let server = Server {
        child: {
            let mut serve = Command::new(BIN);
            serve.arg("serve");
            env(&mut serve);
            serve.spawn().unwrap()
        },
    };
    let base = format!("http://127.0.0.1:{port}");
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The organisation's key is made on first use: fetch the actor once to make it.
    reqwest::Client::new()
        .get(format!("{base}/orgs/acme"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    let org = store::orgs::find_by_handle(&db, "acme").await.unwrap().unwrap_or(org);
    let key = PublicKey::from_pem(org.public_key_pem.as_deref().unwrap()).unwrap();
    let sink = Sink {
        key: Arc::new(key),
        verified: Arc::default(),
        bad: Arc::default(),
        target: (followers - (hung * per_port).min(followers)) * posts,
        done: Arc::default(),
    };
    let mut tx = db.begin().await.unwrap();
    let ports = followers.div_ceil(per_port);
    let mut n = 0;
    for p in 0..ports {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = format!("localhost:{}", listener.local_addr().unwrap().port());
        let router = if p < hung {
            Router::new()
                .route("/users/{name}/inbox", post(hang))
                .with_state(sink.clone())
        } else {
            Router::new()
                .route("/users/{name}/inbox", post(inbox))
                .with_state(sink.clone())
        };
        tokio::spawn(async move { axum::serve(listener, router).await });
        for _ in 0..per_port {
            if n == followers {
                break;
            }
            let ap_id = format!("http://{host}/users/f{n}");
            let actor = RemoteActor {
                id: 0,
                ap_id: ap_id.clone(),
                actor_type: "Person".into(),
                username: format!("f{n}"),
                domain: host.clone(),
                name: format!("f{n}"),
                summary: String::new(),
                url: None,
                inbox: format!("{ap_id}/inbox"),
                shared_inbox: None,
                key_id: format!("{ap_id}#main-key"),
                public_key_pem: String::new(),
                discoverable: false,
                indexable: false,
                fetched_at: 0,
                deleted_at: None,
                icon_url: None,
                image_url: None,
            };
            let id = store::actors::upsert(&mut tx, &actor).await.unwrap();
            store::follows::upsert_follower(&mut tx, org.id, id, &format!("{ap_id}#follow"), "accepted", 0)
                .await
                .unwrap();
            n += 1;
        }
    }
    tx.commit().await.unwrap();
    db.close().await;

    let pid = server.child.id().to_string();
    let cpu_before = cpu_seconds(&pid);
    let started = Instant::now();
    // Publish through the staff API, so the server writes and delivers at once.
    let mut token = Command::new(BIN);
    token.args([
        "admin",
        "create-user",
        "ops@example.org",
        "--org",
        "acme",
        "--role",
        "owner",
    ]);
    env(&mut token);
    token.status().unwrap();
    let mut make = Command::new(BIN);
    make.args(["token", "create", "ops@example.org", "--org", "acme"]);
    env(&mut make);
    make.stdout(Stdio::piped());
    let secret = String::from_utf8(make.output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned();
    let cpu_before_publish = cpu_seconds(&pid);
    let t0 = Instant::now();
    let client = reqwest::Client::new();
    for n in 0..posts {
        let r = client
            .post(format!("{base}/api/understory/v1/orgs/acme/updates"))
            .bearer_auth(secret.lines().last().unwrap_or(&secret))
            .json(&serde_json::json!({"text": format!("Fan-out benchmark {n} #Benchmark")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
    let target = sink.target;
    tokio::time::timeout(Duration::from_secs(600), sink.done.notified())
        .await
        .expect("every delivery within 10 minutes");
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(&pid) - cpu_before_publish;
    let _ = (cpu_before, started);
    let per_delivery = cpu / target as f64;
    if hung == 0 && posts == 1 {
        println!(
            "fan-out {followers:>6} inboxes on {ports:>5} instances: {elapsed:6.2} s, {:7.0} deliveries/s, \
             Understory CPU {cpu:6.2} s = {:.3} ms/delivery = {:.2} x one signature ({:.3} ms); bad signatures {}",
            target as f64 / elapsed,
            per_delivery * 1000.0,
            per_delivery / sign_cost,
            sign_cost * 1000.0,
            sink.bad.load(Ordering::Relaxed),
        );
    }
    drop(server);
    drop(dir);
    (target, elapsed)
}

/// CPU seconds of one RSA-2048 PKCS#1 v1.5 SHA-256 signature (aws-lc-rs), on this thread.
fn signature_cost() -> f64 {
    let key = KeyPair::generate().unwrap();
    let msg = b"(request-target): post /users/f1/inbox\nhost: localhost:1\ndate: x\ndigest: y";
    for _ in 0..50 {
        key.sign(msg).unwrap();
    }
    let n = 2000;
    let before = cpu_seconds("thread-self");
    for _ in 0..n {
        key.sign(msg).unwrap();
    }
    (cpu_seconds("thread-self") - before) / f64::from(n)
}

#[tokio::main]
async fn main() {
    let per_port: usize = arg("--per-port").map_or(5, |v| v.parse().unwrap());
    let sizes: Vec<usize> = match (arg("--sizes"), arg("--followers")) {
        (Some(list), _) => list.split(',').map(|s| s.parse().unwrap()).collect(),
        (None, Some(n)) => vec![n.parse().unwrap()],
        (None, None) => vec![1000, 3000, 10000],
    };
    let sign_cost = signature_cost();
    println!(
        "one RSA-2048 signature: {:.3} ms CPU (aws-lc-rs, measured in this run)",
        sign_cost * 1000.0
    );
    if let Some(percent) = arg("--hung").map(|v| v.parse::<usize>().unwrap()) {
        let instances: usize = arg("--instances").map_or(80, |v| v.parse().unwrap());
        let per_port: usize = arg("--per-port").map_or(30, |v| v.parse().unwrap());
        let posts: usize = arg("--posts").map_or(3, |v| v.parse().unwrap());
        let hung = instances * percent / 100;
        let followers = instances * per_port;
        let (n0, t0) = run_once(followers, per_port, sign_cost, posts, 0).await;
        let (n1, t1) = run_once(followers, per_port, sign_cost, posts, hung).await;
        let (r0, r1) = (n0 as f64 / t0, n1 as f64 / t1);
        println!(
            "{followers} followers on {instances} instances, {posts} updates:\n  \
             none hung:        {n0:>6} deliveries in {t0:6.2} s = {r0:7.0}/s\n  \
             {hung} hung ({percent}%): {n1:>6} healthy deliveries in {t1:6.2} s = {r1:7.0}/s = {:.0}% of the rate with none hung",
            100.0 * r1 / r0
        );
        return;
    }
    for n in sizes {
        run_once(n, per_port, sign_cost, 1, 0).await;
    }
}
