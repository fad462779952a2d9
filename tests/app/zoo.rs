//! The fediverse zoo (tests/fixtures/fediverse/README.md): each folder is one server software's
//! recorded shapes. A test server here plays it over real HTTP: it serves its WebFinger answer,
//! its actor and key documents at its own URL shapes, refuses unsigned GETs where the software
//! does, signs its POSTs with the headers and algorithm it uses, and checks the signatures of
//! what we send it with code of its own (only the RSA primitive is shared). Each software runs
//! the whole flow both ways against a real instance.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::Value;
use understory::{
    clock::rfc3339,
    config::Config,
    httpsig::{KeyPair, PublicKey, rfc9421},
    service::{self, audit::Who},
    store,
};

use crate::helpers::{TestApp, client, notes_of};

/// One software's folder, read.
pub struct Species {
    pub dir: String,
    pub habits: Value,
    files: HashMap<String, String>,
}

impl Species {
    pub fn load(dir: &str) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/fediverse")
            .join(dir);
        let mut files = HashMap::new();
        for entry in std::fs::read_dir(&root).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            files.insert(path.file_name().unwrap().to_string_lossy().into_owned(), text);
        }
        let habits = serde_json::from_str(&files["habits.json"]).unwrap();
        Self {
            dir: dir.to_owned(),
            habits,
            files,
        }
    }

    fn habit(&self, pointer: &str) -> Option<&str> {
        self.habits.pointer(pointer).and_then(Value::as_str)
    }

    fn headers(&self, which: &str) -> Vec<String> {
        self.habits
            .pointer(&format!("/signature/{which}"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_else(|| panic!("{}: habits.json has no signature.{which}", self.dir))
    }
}

/// What the zoo server received.
#[derive(Clone)]
pub struct Delivery {
    pub body: Value,
    /// Its signature verified against the key its keyId names, fetched from our instance.
    pub verified: Result<String, String>,
}

/// A running member of the zoo.
#[derive(Clone)]
pub struct Zoo {
    species: Arc<Species>,
    pub key: Arc<KeyPair>,
    pub origin: String,
    pub domain: String,
    ctx: Arc<Mutex<HashMap<String, String>>>,
    counter: Arc<AtomicU64>,
    pub received: Arc<Mutex<Vec<Delivery>>>,
    /// Documents that replace the recorded ones (bad-input tests), by file name.
    overrides: Arc<Mutex<HashMap<String, Value>>>,
    /// Sign POSTs the RFC 9421 way instead (Mastodon 4.7, Fedify).
    pub rfc9421: bool,
    /// GETs of its actor document.
    actor_gets: Arc<AtomicU64>,
}

impl Zoo {
    /// Starts `dir`'s test server on loopback, in front of `app`.
    pub async fn start(dir: &str, app: &TestApp) -> Self {
        Self::start_with(dir, app, false).await
    }

    pub async fn start_with(dir: &str, app: &TestApp, rfc9421: bool) -> Self {
        let species = Arc::new(Species::load(dir));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let origin = format!("http://localhost:{port}");
        let domain = format!("localhost:{port}");
        let key = Arc::new(KeyPair::generate().unwrap());
        let username = species.habit("/username").unwrap().to_owned();
        let mut ctx = HashMap::new();
        ctx.insert("origin".into(), origin.clone());
        ctx.insert("domain".into(), domain.clone());
        ctx.insert("username".into(), username);
        ctx.insert("public_key_pem".into(), key.public_pem().to_owned());
        ctx.insert("published".into(), rfc3339(app.state.clock.now_ms()));
        let zoo = Self {
            species,
            key,
            origin,
            domain,
            ctx: Arc::new(Mutex::new(ctx)),
            counter: Arc::new(AtomicU64::new(1000)),
            received: Arc::default(),
            overrides: Arc::default(),
            rfc9421,
            actor_gets: Arc::default(),
        };
        let actor = format!(
            "{}{}",
            zoo.origin,
            zoo.expand(zoo.species.habit("/paths/actor").unwrap())
        );
        zoo.set("actor", &actor);
        let key_id = zoo.expand(zoo.species.habit("/key_id").unwrap());
        zoo.set("key_id", &key_id);
        zoo.set("now_ms", &app.state.clock.now_ms().to_string());
        let router = Router::new().fallback(serve).with_state(zoo.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        zoo
    }

    pub fn name(&self) -> &str {
        self.species.habit("/name").unwrap_or(&self.species.dir)
    }

    pub fn set(&self, key: &str, value: &str) {
        self.ctx.lock().unwrap().insert(key.to_owned(), value.to_owned());
    }

    pub fn get(&self, key: &str) -> String {
        self.ctx.lock().unwrap()[key].clone()
    }

    /// Points the placeholders of the organisation at `handle` on `app`.
    pub fn target(&self, app: &TestApp, handle: &str) {
        let urls = &app.state.urls;
        self.set("target", &urls.org(handle));
        self.set("target_acct", &app.acct(handle));
        self.set("target_profile", &urls.profile(handle));
        self.set("target_inbox", &urls.org_part(handle, "inbox"));
        self.set("target_followers", &urls.org_part(handle, "followers"));
    }

    pub fn actor(&self) -> String {
        self.get("actor")
    }

    pub fn key_id(&self) -> String {
        self.get("key_id")
    }

    fn fresh(&self) -> (String, String) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        (n.to_string(), format!("8d5c6f2e-1a3b-4c5d-9e7f-{n:012}"))
    }

    /// Replaces every `{{name}}` of `text` with its value, JSON-escaped; `{{n}}` and `{{uuid}}`
    /// are fresh for each call. An unknown placeholder fails the test: the fixture is wrong.
    pub fn expand(&self, text: &str) -> String {
        let (n, uuid) = self.fresh();
        let ctx = self.ctx.lock().unwrap();
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find("}}").expect("unclosed placeholder") + start;
            let name = &rest[start + 2..end];
            let value = match name {
                "n" => n.clone(),
                "uuid" => uuid.clone(),
                _ => ctx
                    .get(name)
                    .unwrap_or_else(|| panic!("{}: unknown placeholder {{{{{name}}}}}", self.species.dir))
                    .clone(),
            };
            let escaped = serde_json::to_string(&value).unwrap();
            out.push_str(&escaped[1..escaped.len() - 1]);
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    /// The document `file` with placeholders filled in (or its override).
    pub fn render(&self, file: &str) -> Value {
        if let Some(doc) = self.overrides.lock().unwrap().get(file) {
            return doc.clone();
        }
        self.recorded(file)
    }

    /// The recorded document `file`, filled in, ignoring any override.
    pub fn recorded(&self, file: &str) -> Value {
        let text = self
            .species
            .files
            .get(file)
            .unwrap_or_else(|| panic!("{}: no {file}", self.species.dir));
        serde_json::from_str(&self.expand(text)).unwrap_or_else(|e| panic!("{}/{file}: {e}", self.species.dir))
    }

    pub fn override_doc(&self, file: &str, doc: Value) {
        self.overrides.lock().unwrap().insert(file.to_owned(), doc);
    }

    pub fn has(&self, file: &str) -> bool {
        self.species.files.contains_key(file)
    }

    /// A new id in the software's note shape (`paths.note`).
    pub fn note_id(&self) -> String {
        self.expand(&format!("{{{{origin}}}}{}", self.species.habit("/paths/note").unwrap()))
    }

    fn path_of(&self, url: &str) -> String {
        url.strip_prefix(&self.origin).unwrap_or(url).to_owned()
    }

    /// Where it delivers to an organisation: the shared inbox when the actor advertises one and
    /// the software uses shared inboxes (its own actor has one), else the organisation's inbox.
    pub fn inbox_for(&self, app: &TestApp, handle: &str) -> String {
        if self
            .species
            .habits
            .pointer("/paths/shared_inbox")
            .is_some_and(|v| !v.is_null())
        {
            app.url("/inbox")
        } else {
            app.url(&format!("/orgs/{handle}/inbox"))
        }
    }

    /// POSTs the recorded `file` to `inbox` and expects it accepted (202).
    pub async fn deliver(&self, inbox: &str, file: &str) {
        let (status, text) = self.post(inbox, &self.render(file)).await;
        assert_eq!(status, 202, "{}: {file} was refused: {text}", self.name());
    }

    /// How many times its actor document was fetched.
    pub fn actor_gets(&self) -> u64 {
        self.actor_gets.load(Ordering::Relaxed)
    }

    /// POSTs `doc` signed over `names` only (weak-signature tests).
    pub async fn post_signing(&self, inbox: &str, doc: &Value, names: &[&str]) -> (u16, String) {
        let body = serde_json::to_vec(doc).unwrap();
        let url = url::Url::parse(inbox).unwrap();
        let base = vec![("content-type".to_owned(), "application/activity+json".to_owned())];
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut request = client().post(inbox).body(body.clone());
        for (name, value) in base
            .iter()
            .cloned()
            .chain(self.cavage("post", &url, &names, Some(&body), &base))
        {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    }

    /// POSTs `doc` to `inbox`, signed as the software signs; returns status and body.
    pub async fn post(&self, inbox: &str, doc: &Value) -> (u16, String) {
        let body = serde_json::to_vec(doc).unwrap();
        let url = url::Url::parse(inbox).unwrap();
        let content_type = self
            .species
            .habit("/content_type")
            .unwrap_or("application/activity+json")
            .to_owned();
        let mut headers: Vec<(String, String)> = vec![("content-type".into(), content_type)];
        if self.rfc9421 {
            let digest = rfc9421::content_digest(&body);
            let mut map = HeaderMap::new();
            map.insert("content-digest", digest.parse().unwrap());
            let authority = authority(&url);
            let parts = rfc9421::MessageParts {
                method: "POST",
                scheme: url.scheme(),
                authority: &authority,
                path: url.path(),
                query: url.query(),
                headers: &map,
            };
            let (input, sig) = rfc9421::sign(
                &self.key,
                &self.key_id(),
                &["@method", "@target-uri", "content-digest"],
                &parts,
                self.now_ms() / 1000,
            )
            .unwrap();
            headers.extend([
                ("content-digest".into(), digest),
                ("signature-input".into(), input),
                ("signature".into(), sig),
            ]);
        } else {
            headers.extend(self.cavage("post", &url, &self.species.headers("post"), Some(&body), &headers));
        }
        let mut request = client().post(inbox).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap_or_default())
    }

    /// GETs `url` as this software, signed when `signed`.
    pub async fn fetch(&self, url: &str, signed: bool) -> (u16, Value) {
        let parsed = url::Url::parse(url).unwrap();
        let accept = "application/activity+json".to_owned();
        let mut request = client().get(url).header("accept", &accept);
        if signed {
            let base = vec![("accept".to_owned(), accept)];
            for (name, value) in self.cavage("get", &parsed, &self.species.headers("get"), None, &base) {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn now_ms(&self) -> i64 {
        self.get("now_ms").parse().unwrap()
    }

    /// A draft-cavage signature over `names`, written here from the draft (not with
    /// Understory's signer): the headers to add, `Signature` last.
    fn cavage(
        &self,
        method: &str,
        url: &url::Url,
        names: &[String],
        body: Option<&[u8]>,
        given: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut added: Vec<(String, String)> = vec![("date".into(), http_date(self.now_ms()))];
        // A signed GET that covers `digest` (activitypub-federation, hence Lemmy) digests the
        // empty body.
        if body.is_some() || names.iter().any(|n| n == "digest") {
            let body = body.unwrap_or_default();
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
            added.push(("digest".into(), format!("SHA-256={}", STANDARD.encode(digest))));
            added.push(("content-length".into(), body.len().to_string()));
        }
        let created = self.now_ms() / 1000;
        let value_of = |name: &str| -> String {
            match name {
                "(request-target)" => match url.query() {
                    Some(q) => format!("{method} {}?{q}", url.path()),
                    None => format!("{method} {}", url.path()),
                },
                "(created)" => created.to_string(),
                "(expires)" => (created + 300).to_string(),
                "host" => authority(url),
                "user-agent" => "zoo".into(),
                other => given
                    .iter()
                    .chain(added.iter())
                    .find(|(n, _)| n == other)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| panic!("{}: cannot sign header {other}", self.species.dir)),
            }
        };
        let signing: Vec<String> = names.iter().map(|n| format!("{n}: {}", value_of(n))).collect();
        let signature = STANDARD.encode(self.key.sign(signing.join("\n").as_bytes()).unwrap());
        let mut params = format!("keyId=\"{}\"", self.key_id());
        if let Some(alg) = self.species.habit("/signature/algorithm") {
            params.push_str(&format!(",algorithm=\"{alg}\""));
        }
        if names.iter().any(|n| n == "(created)") {
            params.push_str(&format!(",created={created}"));
        }
        if names.iter().any(|n| n == "(expires)") {
            params.push_str(&format!(",expires={}", created + 300));
        }
        params.push_str(&format!(",headers=\"{}\",signature=\"{signature}\"", names.join(" ")));
        if names.iter().any(|n| n == "user-agent") {
            added.push(("user-agent".into(), "zoo".into()));
        }
        added.push(("signature".into(), params));
        added
    }

    /// What arrived, in order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.received.lock().unwrap().clone()
    }

    /// The deliveries of activities of `kind`, each checked to be signed by our organisation.
    pub fn of_type(&self, kind: &str) -> Vec<Value> {
        self.deliveries()
            .into_iter()
            .filter(|d| d.body["type"] == kind)
            .map(|d| {
                let key_id = d
                    .verified
                    .unwrap_or_else(|e| panic!("{}: our {kind} did not verify: {e}", self.name()));
                let actor = d.body["actor"].as_str().unwrap_or("");
                assert!(key_id.starts_with(actor), "{kind} signed by {key_id}, actor {actor}");
                d.body
            })
            .collect()
    }
}

fn authority(url: &url::Url) -> String {
    match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or("")),
        None => url.host_str().unwrap_or("").to_owned(),
    }
}

fn http_date(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Parses a cavage `Signature` header into its parameters.
fn signature_params(raw: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = raw;
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim().trim_start_matches(',').trim().to_owned();
        rest = &rest[eq + 1..];
        let value = if let Some(q) = rest.strip_prefix('"') {
            let close = q.find('"').unwrap_or(q.len());
            let v = q[..close].to_owned();
            rest = q.get(close + 1..).unwrap_or("");
            v
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let v = rest[..end].to_owned();
            rest = &rest[end..];
            v
        };
        out.insert(name, value);
        rest = rest.trim_start_matches(',');
    }
    out
}

impl Zoo {
    /// Checks a request from Understory: the keyId's document fetched from our instance (signed
    /// by us when the software signs its fetches), then RSA over the signing string built here.
    async fn check_signature(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<String, String> {
        let raw = headers
            .get("signature")
            .and_then(|v| v.to_str().ok())
            .ok_or("not signed")?;
        let params = signature_params(raw);
        let key_id = params.get("keyId").ok_or("no keyId")?.clone();
        let names = params.get("headers").cloned().unwrap_or_else(|| "date".into());
        let mut signing = Vec::new();
        for name in names.split_whitespace() {
            let value = match name {
                "(request-target)" => format!(
                    "{} {}",
                    method.as_str().to_lowercase(),
                    uri.path_and_query().map_or(uri.path(), |p| p.as_str())
                ),
                "(created)" => params.get("created").cloned().ok_or("no created")?,
                _ => headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .ok_or(format!("signed header {name} missing"))?
                    .to_owned(),
            };
            signing.push(format!("{name}: {value}"));
        }
        let signature = STANDARD
            .decode(params.get("signature").ok_or("no signature")?)
            .map_err(|e| e.to_string())?;
        let document = key_id.split('#').next().unwrap_or(&key_id);
        let (status, doc) = self.fetch(document, true).await;
        if status != 200 {
            return Err(format!("key document {document} answered {status}"));
        }
        let pem = [&doc["publicKey"], &doc]
            .iter()
            .find(|d| d["id"] == key_id.as_str() || d["publicKey"]["id"] == key_id.as_str())
            .and_then(|d| d["publicKeyPem"].as_str().or(d["publicKey"]["publicKeyPem"].as_str()))
            .ok_or(format!("{key_id} is not in {document}"))?
            .to_owned();
        let key = PublicKey::from_pem(&pem).map_err(|e| e.to_string())?;
        if key.verify(signing.join("\n").as_bytes(), &signature) {
            Ok(key_id)
        } else {
            Err("signature does not verify".into())
        }
    }
}

async fn serve(State(zoo): State<Zoo>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    // Ids with a query (WordPress: `/?author=1`) are matched with it.
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str()).to_owned();
    let webfinger = uri.path() == "/.well-known/webfinger";
    let content_type = zoo
        .species
        .habit("/content_type")
        .unwrap_or("application/activity+json")
        .to_owned();
    let json = |status: StatusCode, ct: &str, doc: Value| {
        (
            status,
            [("content-type", ct.to_owned())],
            serde_json::to_vec(&doc).unwrap(),
        )
            .into_response()
    };
    if method == Method::POST {
        let inboxes: Vec<String> = ["/paths/inbox", "/paths/shared_inbox"]
            .iter()
            .filter_map(|p| zoo.species.habit(p))
            .map(|p| zoo.path_of(&zoo.expand(p)))
            .collect();
        if !inboxes.contains(&path) {
            return StatusCode::NOT_FOUND.into_response();
        }
        let verified = zoo.check_signature(&method, &uri, &headers).await;
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        zoo.received.lock().unwrap().push(Delivery { body, verified });
        return StatusCode::ACCEPTED.into_response();
    }
    if webfinger {
        return json(StatusCode::OK, "application/jrd+json", zoo.render("webfinger.json"));
    }
    let actor_path = zoo.path_of(&zoo.actor());
    let key_path = zoo.path_of(zoo.key_id().split('#').next().unwrap_or(""));
    if key_path != actor_path && path == key_path && zoo.has("key.json") {
        // Key documents are served without a signature, also by GoToSocial.
        return json(StatusCode::OK, &content_type, zoo.render("key.json"));
    }
    if path == actor_path {
        zoo.actor_gets.fetch_add(1, Ordering::Relaxed);
        let signed_fetch = zoo.species.habits["signed_fetch"] == true;
        if signed_fetch && let Err(e) = zoo.check_signature(&method, &uri, &headers).await {
            return (StatusCode::UNAUTHORIZED, e).into_response();
        }
        return json(StatusCode::OK, &content_type, zoo.render("actor.json"));
    }
    StatusCode::NOT_FOUND.into_response()
}

/// The id of the object of an activity (embedded or by id).
fn object_id(activity: &Value) -> String {
    match &activity["object"] {
        Value::String(s) => s.clone(),
        other => other["id"].as_str().unwrap_or("").to_owned(),
    }
}

/// The software follows an organisation, gets a signed Accept and the Create, Update and
/// Delete of an update; likes, boosts, replies to and mentions it; updates and deletes its
/// reply; updates its profile; unfollows; deletes itself.
pub async fn follows_an_organisation(dir: &str) {
    follows_an_organisation_with(dir, false, |_| {}).await;
}

/// [`follows_an_organisation`] on an instance set up by `configure`, the software signing
/// the RFC 9421 way when `rfc9421` is set.
pub async fn follows_an_organisation_with(dir: &str, rfc9421: bool, configure: impl FnOnce(&mut Config)) {
    let app = TestApp::spawn_configured(crate::helpers::test_clock(), configure).await;
    app.create_org("civic").await;
    let first = service::posts::publish(&app.state, &Who::Cli, "civic", "Winter rota #housing", None)
        .await
        .unwrap();
    app.deliver_due().await;
    let zoo = Zoo::start_with(dir, &app, rfc9421).await;
    let name = zoo.name().to_owned();
    zoo.target(&app, "civic");
    zoo.set("note", &app.state.urls.update("civic", first.id));
    let inbox = zoo.inbox_for(&app, "civic");

    let follow = zoo.render("follow.json");
    zoo.set("follow_id", follow["id"].as_str().unwrap());
    let (status, text) = zoo.post(&inbox, &follow).await;
    assert_eq!(status, 202, "{name}: Follow refused: {text}");
    assert_eq!(app.followers("civic", "accepted").await, vec![zoo.actor()], "{name}");
    app.deliver_due().await;
    let accepts = zoo.of_type("Accept");
    assert_eq!(accepts.len(), 1, "{name}: one signed Accept");
    assert_eq!(
        object_id(&accepts[0]),
        follow["id"].as_str().unwrap(),
        "{name}: Accept names the Follow"
    );

    let post = service::posts::publish(&app.state, &Who::Cli, "civic", "Volunteers needed #housing", None)
        .await
        .unwrap();
    app.deliver_due().await;
    let url = app.state.urls.update("civic", post.id);
    let creates = zoo.of_type("Create");
    assert_eq!(creates.len(), 1, "{name}: the update reached it");
    assert_eq!(object_id(&creates[0]), url);
    assert_eq!(creates[0]["object"]["type"], "Note");
    service::posts::edit(&app.state, &Who::Cli, "civic", post.id, "Volunteers needed on Tuesdays")
        .await
        .unwrap();
    app.deliver_due().await;
    let updates = zoo.of_type("Update");
    assert_eq!(updates.len(), 1, "{name}: the edit reached it");
    assert_eq!(object_id(&updates[0]), url);
    service::posts::delete(&app.state, &Who::Cli, "civic", post.id)
        .await
        .unwrap();
    app.deliver_due().await;
    let deletes = zoo.of_type("Delete");
    assert_eq!(deletes.len(), 1, "{name}: the deletion reached it");
    assert_eq!(object_id(&deletes[0]), url);

    for (file, kind) in [("like.json", "like"), ("announce.json", "announce")] {
        zoo.deliver(&inbox, file).await;
        let count = store::posts::interaction_count(&app.state.db, first.id, kind)
            .await
            .unwrap();
        assert_eq!(count, 1, "{name}: {file} counted");
    }

    let reply_id = zoo.note_id();
    zoo.set("reply_id", &reply_id);
    zoo.deliver(&inbox, "create_reply.json").await;
    let mention = zoo.render("create_mention.json");
    let mention_id = object_id(&mention);
    let (status, text) = zoo.post(&inbox, &mention).await;
    assert_eq!(status, 202, "{name}: mention: {text}");
    let notes = notes_of(&app, "civic").await;
    let reason = |id: &str| notes.iter().find(|n| n.ap_id == id).map(|n| n.reason.clone());
    assert_eq!(
        reason(&reply_id).as_deref(),
        Some("reply"),
        "{name}: the reply reached the organisation"
    );
    // A mention that is also a reply (PeerTube comments always answer something) counts as a reply.
    let expected = if mention["object"]["inReplyTo"].is_string() {
        "reply"
    } else {
        "mention"
    };
    assert_eq!(
        reason(&mention_id).as_deref(),
        Some(expected),
        "{name}: the mention reached it"
    );
    let page = client()
        .get(app.state.urls.update("civic", first.id))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(
        page.contains(&reply_id.replace('&', "&amp;")),
        "{name}: the reply shows on the update page"
    );

    zoo.deliver(&inbox, "update_actor.json").await;
    let stored = store::actors::find_by_ap_id(&app.state.db, &zoo.actor())
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.name.starts_with("Renamed"),
        "{name}: profile update stored: {}",
        stored.name
    );

    zoo.deliver(&inbox, "delete_note.json").await;
    let notes = notes_of(&app, "civic").await;
    assert!(notes.iter().all(|n| n.ap_id != reply_id), "{name}: the reply is gone");

    zoo.deliver(&inbox, "undo_follow.json").await;
    assert!(
        app.followers("civic", "accepted").await.is_empty(),
        "{name}: unfollowed"
    );

    zoo.deliver(&inbox, "delete_actor.json").await;
    let stored = store::actors::find_by_ap_id(&app.state.db, &zoo.actor())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.deleted_at.is_some(), "{name}: the actor is marked deleted");
}

/// An organisation follows the software's user (WebFinger, a signed fetch of its actor), its
/// Accept lands, and its posts reach the organisation.
pub async fn is_followed_by_an_organisation(dir: &str) {
    is_followed_by_an_organisation_with(dir, |_| {}).await;
}

async fn is_followed_by_an_organisation_with(dir: &str, configure: impl FnOnce(&mut Config)) {
    let app = TestApp::spawn_configured(crate::helpers::test_clock(), configure).await;
    app.create_org("civic").await;
    let zoo = Zoo::start(dir, &app).await;
    let name = zoo.name().to_owned();
    zoo.target(&app, "civic");
    let acct = format!("{}@{}", zoo.get("username"), zoo.domain);
    let followed = service::follows::follow(&app.state, &Who::Cli, "civic", &acct)
        .await
        .unwrap_or_else(|e| panic!("{name}: follow {acct}: {e}"));
    assert_eq!(followed, zoo.actor(), "{name}: WebFinger led to its actor");
    app.deliver_due().await;
    let follows = zoo.of_type("Follow");
    assert_eq!(follows.len(), 1, "{name}: our signed Follow arrived");
    assert_eq!(object_id(&follows[0]), zoo.actor());
    zoo.set("our_follow", follows[0]["id"].as_str().unwrap());

    let inbox = zoo.inbox_for(&app, "civic");
    zoo.deliver(&inbox, "accept.json").await;
    let org = store::orgs::find_by_handle(&app.state.db, "civic")
        .await
        .unwrap()
        .unwrap();
    let state = store::follows::following_state(&app.state.db, org.id, &zoo.actor())
        .await
        .unwrap();
    assert_eq!(state.as_deref(), Some("accepted"), "{name}: its Accept counted");

    let post_id = zoo.note_id();
    zoo.set("post_id", &post_id);
    zoo.deliver(&inbox, "create_post.json").await;
    let notes = notes_of(&app, "civic").await;
    assert!(
        notes.iter().any(|n| n.ap_id == post_id && n.reason == "followed"),
        "{name}: its post reached the organisation"
    );
}

macro_rules! zoo_tests {
    ($($software:ident),* $(,)?) => {$(
        mod $software {
            #[tokio::test]
            async fn follows_an_organisation() {
                super::follows_an_organisation(stringify!($software)).await;
            }

            #[tokio::test]
            async fn is_followed_by_an_organisation() {
                super::is_followed_by_an_organisation(stringify!($software)).await;
            }
        }
    )*};
}

zoo_tests!(
    mastodon, gotosocial, misskey, pleroma, friendica, lemmy, peertube, pixelfed, mobilizon, wordpress
);

/// Starts `dir` in front of a fresh instance with an organisation `civic` targeted.
async fn zoo_and_app(dir: &str, configure: impl FnOnce(&mut Config)) -> (TestApp, Zoo) {
    let app = TestApp::spawn_configured(crate::helpers::test_clock(), configure).await;
    app.create_org("civic").await;
    let zoo = Zoo::start(dir, &app).await;
    zoo.target(&app, "civic");
    (app, zoo)
}

async fn nothing_stored(app: &TestApp, zoo: &Zoo) {
    assert!(
        store::actors::find_by_ap_id(&app.state.db, &zoo.actor())
            .await
            .unwrap()
            .is_none()
    );
    assert!(app.followers("civic", "accepted").await.is_empty());
    assert_eq!(app.pending().await, 0, "no Accept queued");
}

#[tokio::test]
async fn a_stub_key_document_whose_owner_is_on_another_host_is_refused_and_nothing_is_stored() {
    let (app, zoo) = zoo_and_app("gotosocial", |_| {}).await;
    let mut stub = zoo.render("key.json");
    stub["id"] = "http://127.0.0.1:9/users/mallory".into();
    stub["publicKey"]["owner"] = "http://127.0.0.1:9/users/mallory".into();
    zoo.override_doc("key.json", stub);
    let (status, text) = zoo
        .post(&zoo.inbox_for(&app, "civic"), &zoo.render("follow.json"))
        .await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("names an owner on another host"), "{text}");
    nothing_stored(&app, &zoo).await;
    assert!(
        store::actors::find_by_ap_id(&app.state.db, "http://127.0.0.1:9/users/mallory")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_key_that_is_not_in_the_owners_own_document_is_refused_and_nothing_is_stored() {
    let (app, zoo) = zoo_and_app("gotosocial", |_| {}).await;
    // The stub vouches for the key, but the full actor lists another one.
    let mut actor = zoo.render("actor.json");
    actor["publicKey"]["id"] = format!("{}#other-key", zoo.actor()).into();
    zoo.override_doc("actor.json", actor);
    let (status, text) = zoo
        .post(&zoo.inbox_for(&app, "civic"), &zoo.render("follow.json"))
        .await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("is not in the actor's own document"), "{text}");
    nothing_stored(&app, &zoo).await;

    // Nor may the actor list it with another owner.
    let mut actor = zoo.recorded("actor.json");
    actor["publicKey"]["owner"] = format!("{}/users/someone_else", zoo.origin).into();
    zoo.override_doc("actor.json", actor);
    let (status, text) = zoo
        .post(&zoo.inbox_for(&app, "civic"), &zoo.render("follow.json"))
        .await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("owned by another actor"), "{text}");
    nothing_stored(&app, &zoo).await;
}

#[tokio::test]
async fn a_bare_key_document_with_an_owner_leads_to_the_owner() {
    let (app, zoo) = zoo_and_app("gotosocial", |_| {}).await;
    // Some WordPress and Friendica versions: the key URL answers a Key naming its owner.
    let key = serde_json::json!({
        "@context": "https://w3id.org/security/v1",
        "id": zoo.key_id(), "type": "CryptographicKey", "owner": zoo.actor(),
        "publicKeyPem": zoo.key.public_pem(),
    });
    zoo.override_doc("key.json", key);
    let (status, text) = zoo
        .post(&zoo.inbox_for(&app, "civic"), &zoo.render("follow.json"))
        .await;
    assert_eq!(status, 202, "{text}");
    assert_eq!(app.followers("civic", "accepted").await, vec![zoo.actor()]);
}

#[tokio::test]
async fn keys_in_an_array_and_rsa_multikeys_in_assertion_method_are_found() {
    let (app, zoo) = zoo_and_app("mastodon", |_| {}).await;
    let other = KeyPair::generate().unwrap();
    let actor_id = zoo.actor();
    // publicKey as an array: the key signing is the second one.
    let mut actor = zoo.render("actor.json");
    actor["publicKey"] = serde_json::json!([
        {"id": format!("{actor_id}#main-key"), "owner": actor_id, "publicKeyPem": other.public_pem()},
        {"id": format!("{actor_id}#second-key"), "owner": actor_id, "publicKeyPem": zoo.key.public_pem()},
    ]);
    zoo.override_doc("actor.json", actor);
    zoo.set("key_id", &format!("{actor_id}#second-key"));
    let (status, text) = zoo
        .post(&zoo.inbox_for(&app, "civic"), &zoo.render("follow.json"))
        .await;
    assert_eq!(status, 202, "{text}");

    // FEP-521a: the signing key is an RSA Multikey in assertionMethod.
    let multibase = understory::httpsig::keys::multibase_from_spki_pem(zoo.key.public_pem()).unwrap();
    let mut actor = zoo.recorded("actor.json");
    actor["publicKey"] = serde_json::json!({"id": format!("{actor_id}#main-key"), "owner": actor_id, "publicKeyPem": other.public_pem()});
    actor["assertionMethod"] = serde_json::json!([{
        "id": format!("{actor_id}#rsa-key"), "type": "Multikey", "controller": actor_id,
        "publicKeyMultibase": multibase,
    }]);
    zoo.override_doc("actor.json", actor);
    zoo.set("key_id", &format!("{actor_id}#rsa-key"));
    let (status, text) = zoo
        .post(&zoo.inbox_for(&app, "civic"), &zoo.render("follow.json"))
        .await;
    assert_eq!(status, 202, "{text}");
    let stored = store::actors::find_by_ap_id(&app.state.db, &actor_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.key_id, format!("{actor_id}#rsa-key"));

    // A Multikey controlled by another actor does not count.
    let mut actor = zoo.render("actor.json");
    assert!(actor["assertionMethod"].is_array());
    actor["assertionMethod"][0]["controller"] = format!("{}/users/bob", zoo.origin).into();
    actor["assertionMethod"][0]["id"] = format!("{actor_id}#rsa-key-2").into();
    zoo.override_doc("actor.json", actor);
    zoo.set("key_id", &format!("{actor_id}#rsa-key-2"));
    let (status, text) = zoo
        .post(&zoo.inbox_for(&app, "civic"), &zoo.render("follow.json"))
        .await;
    assert_eq!(status, 401, "{text}");
}

fn authorized(c: &mut Config) {
    c.authorized_fetch = true;
}

#[tokio::test]
async fn without_authorized_fetch_documents_are_served_unsigned() {
    let (app, zoo) = zoo_and_app("mastodon", |_| {}).await;
    let (status, doc) = zoo.fetch(&app.actor("civic"), false).await;
    assert_eq!((status, doc["id"].as_str()), (200, Some(app.actor("civic").as_str())));
}

#[tokio::test]
async fn with_authorized_fetch_only_signed_gets_from_unblocked_domains_are_served() {
    let (app, zoo) = zoo_and_app("gotosocial", authorized).await;
    let post = service::posts::publish(&app.state, &Who::Cli, "civic", "Hello", None)
        .await
        .unwrap();
    let documents = [
        app.actor("civic"),
        app.state.urls.update("civic", post.id),
        app.state.urls.org_part("civic", "followers"),
        app.state.urls.org_part("civic", "outbox"),
        app.state.urls.org_part("civic", "featured"),
    ];
    for url in &documents {
        let (status, _) = zoo.fetch(url, false).await;
        assert_eq!(status, 401, "unsigned GET of {url}");
        // GoToSocial's path keyId, stub key document and signed-only actor.
        let (status, _) = zoo.fetch(url, true).await;
        assert_eq!(status, 200, "signed GET of {url}");
    }
    // A fragment keyId (Mastodon) works as well.
    let mastodon = Zoo::start("mastodon", &app).await;
    assert_eq!(mastodon.fetch(&app.actor("civic"), true).await.0, 200);
    // Open: the instance actor, WebFinger, NodeInfo and the pages.
    for path in [
        "/actor".to_owned(),
        format!("/.well-known/webfinger?resource=acct:{}", app.acct("civic")),
        "/nodeinfo/2.1".to_owned(),
    ] {
        assert_eq!(zoo.fetch(&app.url(&path), false).await.0, 200, "{path}");
    }
    let page = client()
        .get(app.actor("civic"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the profile page stays open");

    // A blocked domain cannot read, signed or not.
    service::peering::block(&app.state, &Who::Cli, &zoo.domain, "spam")
        .await
        .unwrap();
    let (status, _) = zoo.fetch(&app.actor("civic"), true).await;
    assert_eq!(status, 403);
    let (status, _) = mastodon.fetch(&app.actor("civic"), true).await;
    assert_eq!(status, 200, "another domain still reads");
}

#[tokio::test]
async fn gotosocial_follows_and_is_followed_under_authorized_fetch() {
    follows_an_organisation_with("gotosocial", false, authorized).await;
    is_followed_by_an_organisation_with("gotosocial", authorized).await;
}

#[tokio::test]
async fn mastodon_follows_and_is_followed_under_authorized_fetch() {
    follows_an_organisation_with("mastodon", false, authorized).await;
    is_followed_by_an_organisation_with("mastodon", authorized).await;
}

/// Mastodon 4.7 and Fedify sign with RFC 9421 after a 401 to cavage (double-knocking); the
/// whole flow works with such signatures.
#[tokio::test]
async fn rfc9421_signatures_are_accepted_for_the_whole_flow() {
    follows_an_organisation_with("mastodon", true, |_| {}).await;
}

#[tokio::test]
async fn rfc9421_signatures_over_another_body_or_without_the_digest_are_refused() {
    let (app, zoo) = zoo_and_app("mastodon", |_| {}).await;
    let inbox = app.url("/inbox");
    let follow = zoo.render("follow.json");
    let body = serde_json::to_vec(&follow).unwrap();
    let url = url::Url::parse(&inbox).unwrap();
    let sign = |components: &[&str], digest_of: &[u8]| {
        let mut map = HeaderMap::new();
        map.insert("content-digest", rfc9421::content_digest(digest_of).parse().unwrap());
        let authority = authority(&url);
        let parts = rfc9421::MessageParts {
            method: "POST",
            scheme: "http",
            authority: &authority,
            path: url.path(),
            query: None,
            headers: &map,
        };
        let (input, sig) = rfc9421::sign(&zoo.key, &zoo.key_id(), components, &parts, zoo.now_ms() / 1000).unwrap();
        (rfc9421::content_digest(digest_of), input, sig)
    };
    let send = |(digest, input, sig): (String, String, String), body: Vec<u8>| {
        client()
            .post(&inbox)
            .header("content-type", "application/activity+json")
            .header("content-digest", digest)
            .header("signature-input", input)
            .header("signature", sig)
            .body(body)
            .send()
    };
    let tampered = send(sign(&["@method", "@target-uri", "content-digest"], b"{}"), body.clone())
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    assert!(tampered.text().await.unwrap().contains("digest does not match"));
    let weak = send(sign(&["@method", "@target-uri"], &body), body.clone())
        .await
        .unwrap();
    assert_eq!(weak.status(), 401);
    assert!(weak.text().await.unwrap().contains("content-digest"));
    nothing_stored(&app, &zoo).await;
    let good = send(sign(&["@method", "@target-uri", "content-digest"], &body), body)
        .await
        .unwrap();
    assert_eq!(good.status(), 202);
}
