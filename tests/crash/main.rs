//! Crash tests: the real binary is killed with SIGKILL during a fan-out and started again;
//! every delivery still arrives. The only tests allowed to wait on real time (with deadlines).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::{
    collections::{HashMap, HashSet},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::StatusCode,
    routing::post,
};
use serde_json::Value;
use understory::store::{self, Db, actors::RemoteActor};

/// The binary under test: this build's, or `UNDERSTORY_TEST_BIN` (to run these tests against
/// an earlier build and see them fail there).
fn bin() -> String {
    std::env::var("UNDERSTORY_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_understory").to_owned())
}

#[derive(Clone, Default)]
struct Sink {
    /// (inbox path, activity id) -> times received.
    got: Arc<Mutex<HashMap<(String, String), u32>>>,
    /// Requests still to be answered 500.
    failures_left: Arc<Mutex<u32>>,
    /// How long each request takes (`None`: never answered, a hung instance).
    delay: Option<Duration>,
}

async fn inbox(State(sink): State<Sink>, Path(name): Path<String>, body: Bytes) -> StatusCode {
    match sink.delay {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
    {
        let mut left = sink.failures_left.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    let v: Value = serde_json::from_slice(&body).unwrap();
    let id = v["id"].as_str().unwrap().to_owned();
    *sink.got.lock().unwrap().entry((name, id)).or_default() += 1;
    StatusCode::ACCEPTED
}

async fn start_sink(failures: u32) -> (Sink, String) {
    start_sink_with(failures, Some(Duration::from_millis(40))).await
}

async fn start_sink_with(failures: u32, delay: Option<Duration>) -> (Sink, String) {
    let sink = Sink {
        failures_left: Arc::new(Mutex::new(failures)),
        delay,
        ..Default::default()
    };
    let app = Router::new()
        .route("/users/{name}/inbox", post(inbox))
        .with_state(sink.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (sink, base)
}

struct Instance {
    dir: tempfile::TempDir,
    port: u16,
}

impl Instance {
    fn new() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            dir: tempfile::tempdir().unwrap(),
            port,
        }
    }

    fn db_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("crash.db").display())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.args(args)
            .env("UNDERSTORY_DATABASE_URL", self.db_url())
            .env("UNDERSTORY_PUBLIC_URL", format!("http://localhost:{}", self.port))
            .env("UNDERSTORY_BIND", format!("127.0.0.1:{}", self.port))
            .env("UNDERSTORY_LOG", "warn")
            .current_dir(self.dir.path());
        cmd
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.command(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn serve(&self) -> Child {
        self.serve_with(&[])
    }

    fn serve_with(&self, env: &[(&str, &str)]) -> Child {
        let mut cmd = self.command(&["serve"]);
        cmd.envs(env.iter().copied());
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    }
}

async fn add_followers(db_url: &str, handle: &str, sinks: &[String], per_sink: usize) -> usize {
    let db = Db::connect(db_url).await.unwrap();
    let org = store::orgs::find_by_handle(&db, handle).await.unwrap().unwrap();
    let mut tx = db.begin().await.unwrap();
    for base in sinks {
        for i in 0..per_sink {
            let ap_id = format!("{base}/users/f{i}");
            let actor = RemoteActor {
                id: 0,
                ap_id: ap_id.clone(),
                actor_type: "Person".into(),
                username: format!("f{i}"),
                domain: base.trim_start_matches("http://").into(),
                name: format!("f{i}"),
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
        }
    }
    tx.commit().await.unwrap();
    db.close().await;
    sinks.len() * per_sink
}

fn received(sinks: &[Sink]) -> (usize, u32) {
    let mut distinct = 0;
    let mut total = 0;
    for s in sinks {
        let got = s.got.lock().unwrap();
        distinct += got.len();
        total += got.values().sum::<u32>();
    }
    (distinct, total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_fan_out_loses_nothing() {
    let instance = Instance::new();
    instance.run(&["org", "create", "acme", "--name", "Acme"]);
    let mut sinks = Vec::new();
    let mut bases = Vec::new();
    for n in 0..4 {
        // One instance fails its first request (a 30 s backoff): it must still get everything.
        let (sink, base) = start_sink(if n == 0 { 1 } else { 0 }).await;
        sinks.push(sink);
        bases.push(base);
    }
    let followers = add_followers(&instance.db_url(), "acme", &bases, 10).await;

    let mut server = instance.serve();
    let posts = 15;
    let mut ids = HashSet::new();
    for n in 0..posts {
        let url = instance.run(&["org", "post", "acme", &format!("Update number {n} #crash")]);
        ids.insert(format!("{}/activity", url.trim()));
    }
    let expected = followers * posts;
    // Wait until the fan-out is under way, then kill the server mid-flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    while received(&sinks).0 < expected / 10 {
        assert!(Instant::now() < deadline, "deliveries did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let at_kill = received(&sinks).0;
    assert!(
        at_kill < expected,
        "the kill came too late to test anything ({at_kill} of {expected})"
    );

    let mut server = instance.serve();
    let deadline = Instant::now() + Duration::from_secs(120);
    while received(&sinks).0 < expected {
        assert!(
            Instant::now() < deadline,
            "only {:?} of {expected} deliveries after restart",
            received(&sinks)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for sink in &sinks {
        for (_, id) in sink.got.lock().unwrap().keys() {
            assert!(ids.contains(id), "unexpected activity {id}");
        }
    }
    let (distinct, total) = received(&sinks);
    eprintln!(
        "delivered {distinct} of {expected} after SIGKILL at {at_kill}; {} duplicates (at-least-once)",
        total as usize - distinct
    );

    // A graceful stop after the queue drained.
    let pid = server.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = server.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    let out = instance.run(&["deliveries"]);
    assert!(out.contains("pending deliveries: 0"), "{out}");
}

#[test]
fn cli_errors_are_clear_and_exit_non_zero() {
    let instance = Instance::new();
    let out = instance
        .command(&["org", "create", "Bad-Handle", "--name", "X"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lowercase only"));
    instance.run(&["org", "create", "acme", "--name", "Acme"]);
    let out = instance
        .command(&["org", "create", "acme", "--name", "Again"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("taken"));
    let out = instance.command(&["org", "post", "nobody", "hi"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    let help = instance.command(&["--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("serve"));
    let out = instance
        .command(&["serve"])
        .env("UNDERSTORY_PUBLIC_URL", "ftp://nope")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("UNDERSTORY_PUBLIC_URL"));
    let backup = instance.dir.path().join("copy");
    instance.run(&["backup", backup.to_str().unwrap()]);
    assert!(backup.join("manifest.json").exists());
    let out = instance
        .command(&["backup", backup.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success(), "refuses to overwrite");
}

#[test]
fn an_operator_bootstraps_accounts_from_the_cli() {
    let instance = Instance::new();
    let fails = |args: &[&str], expect: &str| {
        let out = instance.command(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{args:?}: {err}");
    };
    instance.run(&["org", "create", "acme", "--name", "Acme"]);
    let link = instance.run(&["admin", "create-user", "op@example.org", "--operator"]);
    assert!(
        link.trim()
            .starts_with(&format!("http://localhost:{}/login/link/", instance.port))
    );
    instance.run(&[
        "admin",
        "create-user",
        "own@example.org",
        "--org",
        "acme",
        "--role",
        "owner",
    ]);
    fails(&["admin", "create-user", "own@example.org"], "exists");
    fails(&["admin", "create-user", "not-an-email"], "email");
    fails(&["admin", "create-user", "x@example.org", "--org", "acme"], "--role");
    fails(
        &[
            "admin",
            "create-user",
            "x@example.org",
            "--org",
            "acme",
            "--role",
            "boss",
        ],
        "owner or editor",
    );
    fails(
        &[
            "admin",
            "create-user",
            "x@example.org",
            "--org",
            "ghost",
            "--role",
            "editor",
        ],
        "not found",
    );

    let token = instance.run(&[
        "token",
        "create",
        "own@example.org",
        "--org",
        "acme",
        "--name",
        "laptop",
    ]);
    assert!(token.trim().starts_with("ust_"));
    instance.run(&["token", "create", "op@example.org", "--operator"]);
    fails(&["token", "create", "own@example.org", "--operator"], "not an operator");
    fails(&["token", "create", "op@example.org", "--org", "acme"], "not a member");
    fails(&["token", "create", "own@example.org"], "--org");
    let list = instance.run(&["token", "list"]);
    assert!(list.contains("own@example.org\tacme\tlaptop\tlive"), "{list}");
    assert_eq!(instance.run(&["token", "revoke", "1"]).trim(), "revoked token 1");
    fails(&["token", "revoke", "1"], "already revoked");

    let users = instance.run(&["admin", "list-users"]);
    assert!(users.contains("op@example.org\tinvited\toperator"), "{users}");
    assert!(users.contains("own@example.org\tinvited\t-\tacme:owner"), "{users}");
    assert!(
        instance
            .run(&["admin", "reset-password", "op@example.org"])
            .contains("/login/link/")
    );
    fails(&["admin", "remove-user", "own@example.org"], "last owner");
    instance.run(&["admin", "remove-user", "op@example.org"]);
    // The address is erased with the account: it is unknown now, and free to be invited again.
    fails(&["admin", "reset-password", "op@example.org"], "not found");
    let listed = instance.run(&["admin", "list-users"]);
    assert!(!listed.contains("op@example.org"), "{listed}");

    let audit = instance.run(&["audit", "--org", "acme"]);
    for action in ["org.create", "member.add", "token.create", "token.revoke"] {
        assert!(
            audit.contains(&format!("\tcli\tacme\t{action}\t")),
            "{action} missing from:\n{audit}"
        );
    }
    let all = instance.run(&["audit"]);
    assert!(
        all.contains("user.remove") && all.contains("user.reset_password"),
        "{all}"
    );
}

#[test]
fn profiles_import_and_export_from_the_cli() {
    let instance = Instance::new();
    let fails = |args: &[&str], expect: &str| {
        let out = instance.command(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expect), "{args:?}: {err}");
        err.into_owned()
    };
    instance.run(&["org", "create", "acme", "--name", "Acme"]);
    instance.run(&["org", "edit", "acme", "--listed-in", "network", "--indexable", "true"]);
    fails(&["org", "edit", "acme", "--listed-in", "galaxy"], "listed_in");
    fails(
        &["org", "edit", "acme", "--listed-in", "home", "--discoverable", "true"],
        "cannot be used with",
    );
    instance.run(&["org", "edit", "acme", "--discoverable", "true"]);

    let dir = instance.dir.path();
    let toml = dir.join("profile.toml");
    std::fs::write(
        &toml,
        "summary = \"Tenant-led housing advice\"\nkinds = [\"community-group\"]\nthemes = [\"HousingAndHomelessness\"]\n\
         places = [\"GB-MAN\", \"Salford\"]\nlanguages = [\"en\"]\nwebsite = \"https://acme.example\"\n\
         [[offers]]\ncode = \"co-design\"\nterms = \"paid\"\n",
    )
    .unwrap();
    instance.run(&["org", "import-profile", "acme", toml.to_str().unwrap()]);
    let bad = dir.join("bad.json");
    std::fs::write(&bad, r#"{"themes": ["not a tag"], "kinds": ["alien"]}"#).unwrap();
    let err = fails(&["org", "import-profile", "acme", bad.to_str().unwrap()], "themes[0]");
    assert!(err.contains("kinds[0]"), "{err}");

    let csv = dir.join("orgs.csv");
    std::fs::write(
        &csv,
        "handle,name,summary,kind,themes,places,ways_of_working,offers,languages,website,identifiers,discoverable\n\
         one,One,,charity,Health,GB,,,en,,,true\n\
         two,Two,,alien,Health,GB,,,en,,,true\n\
         three,Three,,ngo,Health;MentalHealth,FR;Lyon,,advisory,fr,,,false\n",
    )
    .unwrap();
    let err = fails(
        &["org", "import", csv.to_str().unwrap()],
        "line 3: kind[0]: unknown code",
    );
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(
        !instance.run(&["org", "list"]).contains("one\t"),
        "nothing imported while a row is bad"
    );
    let out = instance.run(&["org", "import", csv.to_str().unwrap(), "--skip-invalid"]);
    assert!(out.contains("imported 2 organisations"), "{out}");

    let exported = instance.run(&["org", "export", "--format", "csv"]);
    assert!(exported.starts_with(
        "handle,name,summary,kind,themes,places,ways_of_working,offers,languages,website,identifiers,discoverable"
    ));
    assert!(
        exported.contains("\nthree,Three,,ngo,Health;MentalHealth,FR;Lyon,,advisory,fr,,,false,"),
        "the CLI export includes unlisted organisations:\n{exported}"
    );
    assert!(
        exported.contains("acme,Acme,Tenant-led housing advice,community-group,HousingAndHomelessness,GB-MAN;Salford"),
        "{exported}"
    );
    let ld: serde_json::Value = serde_json::from_str(&instance.run(&["org", "export", "--format", "jsonld"])).unwrap();
    assert_eq!(ld["@graph"].as_array().unwrap().len(), 3);
    let hsds: serde_json::Value = serde_json::from_str(&instance.run(&["org", "export", "--format", "hsds"])).unwrap();
    assert_eq!(hsds.as_array().unwrap().len(), 3);
    fails(&["org", "export", "--format", "xml"], "csv, jsonld or hsds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_add_makes_the_other_directory_searchable_within_seconds() {
    let (a, b) = (Instance::new(), Instance::new());
    b.run(&["org", "create", "tenants", "--name", "Salford Tenants"]);
    b.run(&["org", "edit", "tenants", "--listed-in", "network"]);
    b.run(&["org", "create", "quiet", "--name", "Quiet Org"]);
    b.run(&["org", "edit", "quiet", "--listed-in", "home"]);
    let open = [("UNDERSTORY_PEERING_POLICY", "open")];
    let mut server_a = a.serve_with(&open);
    let mut server_b = b.serve_with(&open);
    let started = Instant::now();
    let out = a.run(&["peer", "add", &format!("localhost:{}", b.port)]);
    assert!(out.starts_with("peering requested with localhost:"), "{out}");
    let url = format!("http://127.0.0.1:{}/api/understory/v1/directory", a.port);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let found = loop {
        let page: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
        if page["total"].as_u64() == Some(1) {
            break page;
        }
        assert!(Instant::now() < deadline, "B's organisation never reached A: {page}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    eprintln!(
        "B's listed organisation searchable on A {:.1} s after `peer add`",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        found["results"][0]["handle"], "tenants",
        "home-only organisations stay home"
    );
    let list = a.run(&["peer", "list"]);
    assert!(list.contains("we follow: accepted"), "{list}");
    assert!(b.run(&["peer", "list"]).contains("they follow: accepted"));
    assert!(a.run(&["peer", "requests"]).is_empty());
    a.run(&["domain", "block", "spam.example", "--reason", "spam"]);
    assert!(a.run(&["domain", "list"]).contains("spam.example"));
    let out = a.command(&["peer", "add", "spam.example"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("blocked"));
    let out = a.command(&["peer", "approve", "nobody.example"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("not found"));
    server_a.kill().unwrap();
    server_b.kill().unwrap();
    server_a.wait().unwrap();
    server_b.wait().unwrap();
}

#[test]
fn media_from_the_cli_with_alt_text_and_clear_refusals() {
    let instance = Instance::new();
    instance.run(&["org", "create", "acme", "--name", "Acme"]);
    let dir = instance.dir.path();
    let photo = dir.join("photo.jpg");
    let img = image::RgbImage::from_pixel(320, 240, image::Rgb([120, 60, 30]));
    img.save(&photo).unwrap();
    let fake = dir.join("notes.png");
    std::fs::write(&fake, "not a picture").unwrap();
    let media = dir.join("media");

    // Refusals: a non-image called .png, a picture without alt text, more alts than files,
    // a missing file. Each exits non-zero, says why, and writes nothing.
    let refusals: [(&[&str], &str); 4] = [
        (
            &[
                "org",
                "post",
                "acme",
                "Hi",
                "--attach",
                fake.to_str().unwrap(),
                "--alt",
                "x",
            ],
            "notes.png",
        ),
        (
            &["org", "post", "acme", "Hi", "--attach", photo.to_str().unwrap()],
            "alt text is required",
        ),
        (
            &["org", "post", "acme", "Hi", "--alt", "a"],
            "--alt given 1 times for 0 --attach files",
        ),
        (
            &["org", "edit", "acme", "--avatar", "/nonexistent.png"],
            "cannot read /nonexistent.png",
        ),
    ];
    for (args, says) in refusals {
        let out = instance.command(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(!media.exists() || std::fs::read_dir(&media).unwrap().next().is_none());

    let url = instance.run(&[
        "org",
        "post",
        "acme",
        "Our new drop-in",
        "--attach",
        photo.to_str().unwrap(),
        "--alt",
        "The drop-in's front door",
    ]);
    assert!(url.trim().ends_with("/orgs/acme/updates/1"), "{url}");
    instance.run(&[
        "org",
        "edit",
        "acme",
        "--avatar",
        photo.to_str().unwrap(),
        "--header",
        photo.to_str().unwrap(),
    ]);
    // Beside the SQLite file by default: the photo, the avatar and the header.
    let stored: Vec<_> = std::fs::read_dir(&media)
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .collect();
    assert_eq!(stored.len(), 3, "{stored:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_an_import_leaves_whole_batches_and_the_rerun_resumes() {
    let instance = Instance::new();
    let rows = 30_000;
    let mut csv = String::from(
        "handle,name,summary,kind,themes,places,ways_of_working,offers,languages,website,identifiers,discoverable\n",
    );
    for i in 0..rows {
        csv.push_str(&format!("org{i:05},Org {i:05},Advice,charity,Health,GB,,,en,,,true\n"));
    }
    let file = instance.dir.path().join("big.csv");
    std::fs::write(&file, csv).unwrap();
    instance.run(&["org", "list"]); // creates and migrates the database
    let mut child = instance
        .command(&["org", "import", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = Db::connect(&instance.db_url()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    // Kill it once the first batches are in but before the end.
    loop {
        let n = store::orgs::count(&db).await.unwrap();
        if n >= 2_000 {
            break;
        }
        assert!(Instant::now() < deadline, "import did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let written = store::orgs::count(&db).await.unwrap() as usize;
    assert!(written < rows, "killed before the end ({written})");
    assert_eq!(
        written % understory::service::open_data::IMPORT_BATCH,
        0,
        "only whole batches: {written}"
    );
    let directory = store::directory::count(&db).await.unwrap() as usize;
    assert_eq!(directory, written, "every written organisation is in the directory");
    db.close().await;

    let out = instance.run(&["org", "import", file.to_str().unwrap()]);
    assert!(
        out.contains(&format!(
            "imported {} organisations; {written} were already imported",
            rows - written
        )),
        "{out}"
    );
    let db = Db::connect(&instance.db_url()).await.unwrap();
    assert_eq!(
        store::orgs::count(&db).await.unwrap() as usize,
        rows,
        "nothing lost, nothing twice"
    );
    println!(
        "SIGKILL after {written} of {rows}; the rerun imported the other {}",
        rows - written
    );
}

/// `org export HANDLE` read back as JSON.
fn export(instance: &Instance, env: &[(&str, &str)], handle: &str) -> serde_json::Value {
    let out = instance
        .command(&["org", "export", handle])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Backs up `from`, restores into `to` (same public URL, empty data location) and checks the
/// organisation came back with its key and its update; `env` points both at their databases.
fn round_trip(from: &Instance, from_env: &[(&str, &str)], to: &Instance, to_env: &[(&str, &str)], kind: &str) {
    let ok = |instance: &Instance, env: &[(&str, &str)], args: &[&str]| {
        let out = instance.command(args).envs(env.iter().copied()).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(from, from_env, &["org", "create", "acme", "--name", "Acme Aid"]);
    ok(from, from_env, &["org", "post", "acme", "Before the flood"]);
    let before = export(from, from_env, "acme");
    let dir = from.dir.path().join("backup");
    let printed = ok(from, from_env, &["backup", dir.to_str().unwrap()]);
    assert!(
        printed.contains(&format!("({kind} database")) && printed.contains("0600"),
        "{printed}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["database"], kind);
    let printed = ok(to, to_env, &["restore", dir.to_str().unwrap()]);
    assert!(printed.contains("checksums verified"), "{printed}");
    let after = export(to, to_env, "acme");
    assert_eq!(after["actor"]["publicKey"], before["actor"]["publicKey"]);
    assert_eq!(after["updates"][0]["text"], "Before the flood");
    let again = to
        .command(&["restore", dir.to_str().unwrap()])
        .envs(to_env.iter().copied())
        .output()
        .unwrap();
    assert!(
        !again.status.success(),
        "a second restore into the same place is refused"
    );
    let missing = to.command(&["restore", "/nonexistent/backup"]).output().unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not a backup"));
}

#[test]
fn backup_and_restore_from_the_cli_on_sqlite() {
    let from = Instance::new();
    let to = Instance {
        dir: tempfile::tempdir().unwrap(),
        port: from.port,
    };
    round_trip(&from, &[], &to, &[], "sqlite");
    // A database the instance creates holds private keys: owner-only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(from.dir.path().join("crash.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Deletion from the CLI asks for --yes, then reserves the handle for good.
    let out = to.command(&["org", "delete", "acme"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert!(to.run(&["org", "delete", "acme", "--yes"]).contains("deleted"));
    let out = to
        .command(&["org", "create", "acme", "--name", "Again"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("reserved"));
    let out = to.command(&["org", "export", "acme"]).output().unwrap();
    assert!(!out.status.success(), "a deleted organisation has nothing to export");
    assert!(to.run(&["prune"]).contains("removed:"));
}

/// A PostgreSQL database of its own for one test, where `scripts/test-postgres` sets
/// `UNDERSTORY_TEST_DATABASE_URL` (`None` elsewhere: the test says it is skipped). Dropped with
/// the value.
struct PgDatabase {
    admin: String,
    name: String,
    /// `postgres://user@host:port/name`.
    url: String,
}

impl PgDatabase {
    fn create(suffix: &str) -> Option<Self> {
        let Some(admin) = std::env::var("UNDERSTORY_TEST_DATABASE_URL")
            .ok()
            .filter(|u| u.starts_with("postgres"))
        else {
            eprintln!("skipped: UNDERSTORY_TEST_DATABASE_URL is not a PostgreSQL URL (scripts/test-postgres sets it)");
            return None;
        };
        let (base, name) = admin.rsplit_once('/').unwrap();
        let name = format!("{name}_{suffix}");
        let db = Self {
            url: format!("{base}/{name}"),
            admin: admin.clone(),
            name,
        };
        db.psql(&format!("drop database if exists {}", db.name));
        db.psql(&format!("create database {}", db.name));
        Some(db)
    }

    fn psql(&self, sql: &str) {
        let out = Command::new("psql")
            .args([self.admin.as_str(), "-qc", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `(user, host:port)` of the server.
    fn server(&self) -> (String, String) {
        let rest = self.url.trim_start_matches("postgres://");
        let (auth, host) = rest.split_once('@').unwrap_or(("postgres", rest));
        let host = host.split('/').next().unwrap_or(host);
        let host = if host.contains(':') {
            host.to_owned()
        } else {
            format!("{host}:5432")
        };
        (auth.split(':').next().unwrap_or(auth).to_owned(), host)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                self.admin.as_str(),
                "-qc",
                &format!("drop database if exists {} with (force)", self.name),
            ])
            .output();
    }
}

/// Runs where `scripts/test-postgres` sets `UNDERSTORY_TEST_DATABASE_URL`: `pg_dump -Fc` into
/// the backup, `pg_restore` into a second, empty database.
#[test]
fn backup_and_restore_from_the_cli_on_postgresql() {
    let (Some(src), Some(dst)) = (PgDatabase::create("bk_src"), PgDatabase::create("bk_dst")) else {
        return;
    };
    let from = Instance::new();
    let to = Instance {
        dir: tempfile::tempdir().unwrap(),
        port: from.port,
    };
    round_trip(
        &from,
        &[("UNDERSTORY_DATABASE_URL", src.url.as_str())],
        &to,
        &[("UNDERSTORY_DATABASE_URL", dst.url.as_str())],
        "postgres",
    );
}

/// A server killed when the test ends, passing or not.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A small filesystem of its own (tmpfs, needs root: CI runs as root), unmounted on drop.
struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(mib: u32) -> Option<Self> {
        let path = std::env::temp_dir().join(format!("understory-disk-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        let size = format!("size={mib}m");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
            .arg(&path)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Self { path })
    }

    /// Fills what is left with a file; returns its path.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.flush();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Publishes an update through the API; returns the status.
async fn publish(client: &reqwest::Client, instance: &Instance, token: &str, n: usize) -> u16 {
    client
        .post(format!(
            "http://127.0.0.1:{}/api/understory/v1/orgs/acme/updates",
            instance.port
        ))
        .bearer_auth(token)
        .json(&serde_json::json!({ "text": format!("Update {n}: {}", "words ".repeat(200)) }))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

async fn status_of(client: &reqwest::Client, url: &str) -> (u16, Option<String>, String) {
    match client.get(url).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (status, retry, r.text().await.unwrap_or_default())
        }
        Err(e) => (0, None, e.to_string()),
    }
}

/// Issue 24 item 3: after SQLITE_FULL, sqlx-sqlite kept each connection counted as inside a
/// transaction, so once the disk had space again every write still failed until a restart,
/// while `/healthz` said ok. Now writes come back without a restart and `/healthz` tells.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_recover_after_the_disk_fills_and_healthz_tells() {
    let Some(disk) = SmallDisk::mount(20) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must mount a tmpfs"
        );
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let instance = Instance {
        dir: tempfile::tempdir_in(&disk.path).unwrap(),
        port: Instance::new().port,
    };
    instance.run(&["org", "create", "acme", "--name", "Acme"]);
    instance.run(&[
        "admin",
        "create-user",
        "own@example.org",
        "--org",
        "acme",
        "--role",
        "owner",
    ]);
    let token = instance
        .run(&["token", "create", "own@example.org", "--org", "acme"])
        .trim()
        .to_owned();
    let server = Killed(instance.serve_with(&[("UNDERSTORY_RATE_LIMIT_EXEMPT", "127.0.0.1/32")]));
    let client = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{}/healthz", instance.port);
    assert_eq!(
        publish(&client, &instance, &token, 0).await,
        201,
        "a write before the disk fills"
    );
    assert_eq!(status_of(&client, &health).await.0, 200);

    let filler = disk.fill();
    // Writes fail while the disk is full; 16 at a time so every pooled connection meets it.
    let mut refused = 0;
    for round in 0..8 {
        let results =
            futures_util::future::join_all((0..16).map(|i| publish(&client, &instance, &token, 1 + round * 16 + i)))
                .await;
        refused += results.iter().filter(|s| **s >= 500).count();
    }
    assert!(refused > 0, "the full disk refused no write");
    let (status, retry, body) = status_of(&client, &health).await;
    assert_eq!(status, 503, "healthz while the disk is full: {body}");
    assert_eq!(retry.as_deref(), Some("5"));
    assert!(body.contains("disk is full") && body.contains("MiB free"), "{body}");

    std::fs::remove_file(filler).unwrap();
    // Space again: writes succeed without a restart.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut ok = 0;
    let mut n = 1000;
    while ok < 20 {
        assert!(
            Instant::now() < deadline,
            "writes did not recover after space was freed ({ok} of 20 succeeded)"
        );
        n += 1;
        if publish(&client, &instance, &token, n).await == 201 {
            ok += 1;
        }
    }
    assert_eq!(status_of(&client, &health).await.0, 200, "healthz once space is back");
    drop(server);
    drop(instance);
    drop(disk);
}

/// A TCP relay to PostgreSQL that can be cut (every connection dropped, new ones refused)
/// and mended: an outage of the database as the server sees it.
#[derive(Clone)]
struct Relay {
    up: Arc<std::sync::atomic::AtomicBool>,
    cut: Arc<tokio::sync::Notify>,
}

impl Relay {
    async fn start(target: String) -> (Self, u16) {
        let relay = Self {
            up: Arc::new(std::sync::atomic::AtomicBool::new(true)),
            cut: Arc::new(tokio::sync::Notify::new()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = relay.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !r.up.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let (target, cut) = (target.clone(), r.cut.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.notified() => {}
                    }
                });
            }
        });
        (relay, port)
    }

    fn set(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            self.cut.notify_waiters();
        }
    }
}

/// Issue 24: during a PostgreSQL outage every request hung for the 30 s pool timeout. Now
/// requests that need the database are answered 503 with `Retry-After` within about 2 s,
/// the actor document and WebFinger answer from the cache, and all recover with the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_outage_is_answered_503_quickly_and_served_from_caches() {
    let Some(db) = PgDatabase::create("outage") else { return };
    let (user, target) = db.server();
    let (relay, relay_port) = Relay::start(target).await;
    let relayed = format!("postgres://{user}@127.0.0.1:{relay_port}/{}", db.name);
    let env = [("UNDERSTORY_DATABASE_URL", relayed.as_str())];

    let instance = Instance::new();
    let out = instance
        .command(&["org", "create", "acme", "--name", "Acme"])
        .envs(env)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let server = Killed(instance.serve_with(&env));
    let client = reqwest::Client::new();
    let at = |path: &str| format!("http://127.0.0.1:{}{path}", instance.port);
    let actor = |client: &reqwest::Client| {
        client
            .get(at("/orgs/acme"))
            .header("accept", "application/activity+json")
            .send()
    };
    assert_eq!(status_of(&client, &at("/healthz")).await.0, 200);
    assert_eq!(
        actor(&client).await.unwrap().status(),
        200,
        "the actor is read once (cached)"
    );

    relay.set(false);
    for path in ["/healthz", "/directory", "/@acme"] {
        let started = Instant::now();
        let (status, retry, body) = status_of(&client, &at(path)).await;
        let took = started.elapsed();
        assert_eq!(status, 503, "{path} during the outage: {body}");
        assert_eq!(retry.as_deref(), Some("5"), "{path} says when to try again");
        assert!(took < Duration::from_secs(5), "{path} answered after {took:?}");
    }
    let r = actor(&client).await.unwrap();
    assert_eq!(r.status(), 200, "the cached actor is served during the outage");
    assert!(r.text().await.unwrap().contains("publicKeyPem"));
    let wf = status_of(
        &client,
        &at(&format!(
            "/.well-known/webfinger?resource=acct:acme@localhost:{}",
            instance.port
        )),
    )
    .await;
    assert_eq!(wf.0, 200, "WebFinger from the cache: {}", wf.2);

    relay.set(true);
    let deadline = Instant::now() + Duration::from_secs(20);
    while status_of(&client, &at("/healthz")).await.0 != 200 {
        assert!(Instant::now() < deadline, "healthz did not recover with the database");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status_of(&client, &at("/@acme")).await.0, 200);
    drop(server);
}

/// Issue 24 item 2: one pass claimed 512 rows and waited for all of them, so one hung instance
/// held every other instance's next deliveries for the 30 s delivery timeout (per pass). Now
/// each instance is sent to on its own: the healthy ones get everything while it hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_instance_does_not_hold_up_the_others() {
    let instance = Instance::new();
    instance.run(&["org", "create", "acme", "--name", "Acme"]);
    // The hung instance's followers come first in the queue, as in the fault-injection run.
    let (_hung, hung_base) = start_sink_with(0, None).await;
    add_followers(&instance.db_url(), "acme", std::slice::from_ref(&hung_base), 10).await;
    let mut sinks = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..3 {
        let (sink, base) = start_sink_with(0, Some(Duration::ZERO)).await;
        sinks.push(sink);
        bases.push(base);
    }
    let followers = add_followers(&instance.db_url(), "acme", &bases, 100).await;
    let posts = 3;
    for n in 0..posts {
        instance.run(&["org", "post", "acme", &format!("Update {n} #hung")]);
    }
    let expected = followers * posts;
    assert!(expected + 30 > 512, "more than one old-style pass of 512 rows");
    let started = Instant::now();
    let server = Killed(instance.serve());
    // The hung instance answers nothing within the 30 s delivery timeout: everything must
    // arrive well before it could have timed out once.
    let deadline = started + Duration::from_secs(20);
    while received(&sinks).0 < expected {
        assert!(
            Instant::now() < deadline,
            "healthy instances got {} of {expected} while one instance hung",
            received(&sinks).0
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "{expected} deliveries to 3 healthy instances in {:?} while one hung",
        started.elapsed()
    );
    drop(server);
}

/// Issue 24 item 5, on PostgreSQL: leases held 5 minutes, and only SQLite released them at
/// start, so a killed process's claimed rows waited 5 minutes. Now a live process takes over
/// a dead one's rows when its leases lapse (30 s, kept alive by a heartbeat while it lives),
/// and a process starting on the same host hands back the leases of one that is gone at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_killed_process_deliveries_are_taken_over() {
    let Some(db) = PgDatabase::create("leases") else { return };
    let db_url = db.url.clone();
    let env = [("UNDERSTORY_DATABASE_URL", db_url.as_str())];
    let a = Instance::new();
    let b = Instance::new();
    // Both serve one public URL (as behind a proxy); each listens on its own port.
    let public = format!("http://localhost:{}", a.port);
    let serve = |i: &Instance| {
        let mut cmd = i.command(&["serve"]);
        cmd.envs(env).env("UNDERSTORY_PUBLIC_URL", &public);
        let child = Killed(cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", i.port)).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    };
    let cli = |args: &[&str]| {
        let out = a
            .command(args)
            .envs(env)
            .env("UNDERSTORY_PUBLIC_URL", &public)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    cli(&["org", "create", "acme", "--name", "Acme"]);
    let mut sinks = Vec::new();
    let mut bases = Vec::new();
    for _ in 0..6 {
        let (sink, base) = start_sink(0).await;
        sinks.push(sink);
        bases.push(base);
    }
    let per_round = add_followers(&db_url, "acme", &bases, 10).await;
    let wait_for = |sinks: &[Sink], n: usize, within: Duration, what: &str| {
        let deadline = Instant::now() + within;
        let what = what.to_owned();
        let sinks = sinks.to_vec();
        async move {
            while received(&sinks).0 < n {
                assert!(Instant::now() < deadline, "{what}: {:?} of {n}", received(&sinks));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };

    // Takeover: A and B both deliver; A is killed mid-way; B finishes A's rows.
    let server_a = serve(&a);
    let server_b = serve(&b);
    let posts = 10;
    for n in 0..posts {
        cli(&["org", "post", "acme", &format!("Round one {n}")]);
    }
    let first = per_round * posts;
    wait_for(&sinks, first / 10, Duration::from_secs(60), "deliveries did not start").await;
    drop(server_a);
    let killed = Instant::now();
    assert!(received(&sinks).0 < first, "the kill came too late to test anything");
    // The lease (30 s) lapses without A's heartbeat; B's poll picks the rows up.
    wait_for(
        &sinks,
        first,
        Duration::from_secs(50),
        "B did not take over A's deliveries",
    )
    .await;
    eprintln!("B finished A's deliveries {:?} after the kill", killed.elapsed());

    // Restart: B is killed mid-way; A starts again on this host and hands back B's leases.
    for n in 0..posts {
        cli(&["org", "post", "acme", &format!("Round two {n}")]);
    }
    let second = first * 2;
    wait_for(
        &sinks,
        first + first / 10,
        Duration::from_secs(60),
        "round two did not start",
    )
    .await;
    drop(server_b);
    let killed = Instant::now();
    assert!(received(&sinks).0 < second, "the kill came too late to test anything");
    let server_a = serve(&a);
    // Well before B's leases could lapse: A released them at start.
    wait_for(
        &sinks,
        second,
        Duration::from_secs(20),
        "the restarted process did not resume at once",
    )
    .await;
    eprintln!(
        "the restarted process finished B's deliveries {:?} after the kill",
        killed.elapsed()
    );
    let (distinct, total) = received(&sinks);
    eprintln!(
        "{distinct} delivered, {} duplicates (at-least-once)",
        total as usize - distinct
    );
    drop(server_a);
}
