//! Memory under hostile load, for issue items 3 and 4 of the audit (docs/security.md): the
//! release binary (or `--binary PATH`, to compare with an older build) as its own process.
//!
//! 1. Remote pictures: 16 PNGs of 7680x4320 served by this process, registered as reply
//!    attachments, then 64 concurrent first views of `/media/remote/{key}` (4 per picture):
//!    peak resident memory (VmHWM) and fetches made.
//! 2. Sign-in: 40 concurrent wrong passwords for one email, each from its own address through
//!    the trusted loopback proxy: how many were checked (401) and limited (429). Then 100
//!    concurrent wrong sign-ins for 100 accounts: peak memory, memory after, threads.
//!
//!     cargo bench --bench hardening -- [--binary target/release/understory]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::{
    process::{Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use understory::store::{self, Db};

mod common;
use common::{Proc, arg, free_port, proc_mib, proc_status};

fn start(bin: &str, dir: &std::path::Path, port: u16, exempt: bool) -> Proc {
    let mut cmd = Command::new(bin);
    cmd.arg("serve")
        .env(
            "UNDERSTORY_DATABASE_URL",
            format!("sqlite://{}", dir.join("h.db").display()),
        )
        .env("UNDERSTORY_PUBLIC_URL", format!("http://localhost:{port}"))
        .env("UNDERSTORY_BIND", format!("127.0.0.1:{port}"))
        .env("UNDERSTORY_MEDIA_DIR", dir.join("media"))
        .env("UNDERSTORY_LOG", "error")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if exempt {
        cmd.env("UNDERSTORY_RATE_LIMIT_EXEMPT", "127.0.0.1/32");
    }
    let child = Proc(cmd.spawn().unwrap());
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(30), "server did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

async fn database(dir: &std::path::Path) -> Db {
    let db = Db::connect(&format!("sqlite://{}", dir.join("h.db").display()))
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db
}

async fn pictures(bin: &str) {
    let dir = tempfile::tempdir().unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let mut png = Vec::new();
    image::RgbImage::from_pixel(7680, 4320, image::Rgb([30, 120, 200]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let served = (fetches.clone(), Arc::new(png));
    let router = axum::Router::new().route(
        "/p/{n}",
        axum::routing::get(move || {
            let (fetches, png) = served.clone();
            async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                ([("content-type", "image/png")], png.as_ref().clone())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let images = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let db = database(dir.path()).await;
    let mut keys = Vec::new();
    let mut tx = db.begin().await.unwrap();
    for n in 0..16 {
        let url = format!("{images}/p/{n}");
        let key = understory::service::media::remote_key(&url);
        store::media::register_remote(&mut tx, &key, &url, "preview", 0)
            .await
            .unwrap();
        keys.push(key);
    }
    tx.commit().await.unwrap();
    db.close().await;
    let port = free_port();
    let server = start(bin, dir.path(), port, true);
    let pid = server.0.id();
    let idle = proc_mib(pid, "VmRSS:");
    let client = reqwest::Client::new();
    let t0 = Instant::now();
    let views = (0..64).map(|i| {
        let url = format!("http://127.0.0.1:{port}/media/remote/{}", keys[i % 16]);
        let client = client.clone();
        async move { client.get(&url).send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    });
    let statuses = futures_util::future::join_all(views).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    println!(
        "pictures: 64 first views of 16 7680x4320 PNGs: {ok} answered 200 in {:.1} s, {} fetches; RSS idle {idle:.0} MiB, peak {:.0} MiB, after {:.0} MiB",
        t0.elapsed().as_secs_f64(),
        fetches.load(Ordering::SeqCst),
        proc_mib(pid, "VmHWM:"),
        proc_mib(pid, "VmRSS:"),
    );
}

/// The CSRF cookie and field of the sign-in form.
async fn csrf(client: &reqwest::Client, base: &str) -> (String, String) {
    let r = client.get(format!("{base}/login")).send().await.unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("understory_csrf="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let page = r.text().await.unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = page[at..at + page[at..].find('"').unwrap()].to_owned();
    (cookie, token)
}

async fn sign_ins(bin: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    let phc = understory::service::accounts::hash_password("a long enough password").unwrap();
    let mut tx = db.begin().await.unwrap();
    for i in 0..101 {
        let id = store::users::insert(&mut tx, &format!("u{i}@example.org"), false, 0)
            .await
            .unwrap();
        store::users::set_password(&mut tx, id, &phc).await.unwrap();
    }
    tx.commit().await.unwrap();
    db.close().await;
    let port = free_port();
    let server = start(bin, dir.path(), port, false);
    let pid = server.0.id();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, token) = csrf(&client, &base).await;
    let attempt = |email: String, address: String| {
        let (client, base, cookie, token) = (client.clone(), base.clone(), cookie.clone(), token.clone());
        async move {
            client
                .post(format!("{base}/login"))
                .header("cookie", cookie)
                .header("x-forwarded-for", address)
                .form(&[
                    ("email", email.as_str()),
                    ("password", "not the password"),
                    ("code", ""),
                    ("csrf", token.as_str()),
                ])
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };
    let idle = proc_mib(pid, "VmRSS:");
    let one_email =
        futures_util::future::join_all((0..40).map(|i| attempt("u0@example.org".into(), format!("198.51.100.{i}"))))
            .await;
    let checked = one_email.iter().filter(|s| **s == 401).count();
    let limited = one_email.iter().filter(|s| **s == 429).count();
    println!("sign-in: 40 concurrent wrong passwords for one email: {checked} checked (401), {limited} limited (429)");
    let t0 = Instant::now();
    let many = futures_util::future::join_all(
        (1..=100).map(|i| attempt(format!("u{i}@example.org"), format!("203.0.113.{}", i % 250))),
    )
    .await;
    let answered = many.iter().filter(|s| **s == 401 || **s == 429).count();
    println!(
        "sign-in: 100 concurrent wrong sign-ins for 100 accounts: {answered} answered in {:.1} s; RSS idle {idle:.0} MiB, peak {:.0} MiB, after {:.0} MiB, threads {}",
        t0.elapsed().as_secs_f64(),
        proc_mib(pid, "VmHWM:"),
        proc_mib(pid, "VmRSS:"),
        proc_status(pid, "Threads:"),
    );
}

#[tokio::main]
async fn main() {
    let default = env!("CARGO_BIN_EXE_understory").to_owned();
    let bin = arg("--binary").unwrap_or(default);
    println!("binary: {bin}");
    pictures(&bin).await;
    sign_ins(&bin).await;
}
