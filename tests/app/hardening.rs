//! The holes an audit of the release binary found (docs/security.md, "Audit findings"): each
//! test fails on the code before its fix.

use serde_json::{Value, json};
use understory::{
    clock::Clock,
    service::{self, audit::Who, keys, peering},
    store,
};

use crate::helpers::{TestApp, client, signed_post, test_clock, text_of, user_with_password};

/// Two instances on one clock; `a` approves peering requests by hand.
async fn pair() -> (Clock, TestApp, TestApp) {
    let clock = test_clock();
    let a = TestApp::spawn_configured(clock.clone(), |c| c.peering_policy = "approval".into()).await;
    let b = TestApp::spawn_configured(clock.clone(), |c| c.peering_policy = "open".into()).await;
    (clock, a, b)
}

/// Posts `activity` to `inbox` signed by `handle` of `app` (an organisation's key).
async fn post_as_org(app: &TestApp, handle: &str, inbox: &str, activity: &Value) -> u16 {
    let key = app.key_of(handle).await;
    let body = serde_json::to_vec(activity).unwrap();
    let key_id = format!("{}#main-key", app.actor(handle));
    signed_post(inbox, &body, &key, &key_id, app.state.clock.now_ms()).await
}

/// Posts `activity` signed by `app`'s instance actor.
async fn post_as_instance(app: &TestApp, inbox: &str, activity: &Value) -> u16 {
    let key = keys::instance_key(&app.state).await.unwrap();
    let body = serde_json::to_vec(activity).unwrap();
    let key_id = format!("{}#main-key", app.state.urls.instance_actor());
    signed_post(inbox, &body, &key, &key_id, app.state.clock.now_ms()).await
}

/// `acme` on `a` with an update (`note`), and `bob` on `b`, who answers it.
struct Replier {
    clock: Clock,
    a: TestApp,
    b: TestApp,
    post: understory::store::posts::Post,
    note: String,
    bob: String,
}

impl Replier {
    async fn new() -> Self {
        let clock = test_clock();
        let a = TestApp::spawn_with(clock.clone()).await;
        let b = TestApp::spawn_with(clock.clone()).await;
        a.create_org("acme").await;
        b.create_org("bob").await;
        let post = service::posts::publish(&a.state, &Who::Cli, "acme", "Winter rota", None)
            .await
            .unwrap();
        let note = a.state.urls.update("acme", post.id);
        let bob = b.actor("bob");
        Self {
            clock,
            a,
            b,
            post,
            note,
            bob,
        }
    }
}

/// 1. Any actor of a peer's domain could take over the peering row by following our `/actor`.
#[tokio::test]
async fn only_a_domains_instance_actor_may_peer() {
    let (_clock, a, b) = pair().await;
    b.create_org("mallory").await;
    // B's instance actor asks first and is approved.
    peering::add(&b.state, &Who::Cli, &a.domain()).await.unwrap();
    b.deliver_due().await;
    peering::approve(&a.state, &Who::Cli, &b.domain()).await.unwrap();
    let before = store::peers::find(&a.state.db, &b.domain()).await.unwrap().unwrap();
    assert_eq!(before.actor, b.state.urls.instance_actor());

    let follow = json!({"@context": "https://www.w3.org/ns/activitystreams", "type": "Follow",
        "id": format!("{}#follows/peer", b.actor("mallory")), "actor": b.actor("mallory"),
        "object": a.state.urls.instance_actor()});
    assert_eq!(post_as_org(&b, "mallory", &a.url("/inbox"), &follow).await, 403);
    let after = store::peers::find(&a.state.db, &b.domain()).await.unwrap().unwrap();
    assert_eq!(
        (after.actor, after.inbox, after.incoming),
        (before.actor, before.inbox, before.incoming),
        "the peer's row is unchanged"
    );

    // On a domain we have never peered with, an organisation cannot open peering either.
    let (_c2, c, d) = pair().await;
    d.create_org("eve").await;
    let follow = json!({"type": "Follow", "id": format!("{}#follows/peer", d.actor("eve")), "actor": d.actor("eve"),
        "object": c.state.urls.instance_actor()});
    assert_eq!(post_as_org(&d, "eve", &c.url("/inbox"), &follow).await, 403);
    assert!(store::peers::find(&c.state.db, &d.domain()).await.unwrap().is_none());
}

/// 2. A reply of 65,000 characters ending in a long link was cut after sanitising, leaving an
/// open attribute; a note id with spaces then landed in attribute position.
#[tokio::test]
async fn long_replies_are_cut_before_sanitising_and_ids_must_be_urls() {
    let Replier { a, b, note, bob, .. } = Replier::new().await;
    let content = format!(
        "{}<a href=\"https://x.example/{}\">link</a>",
        "A".repeat(65_000),
        "B".repeat(2_000)
    );
    let reply = |id: &str, content: &str| {
        json!({"id": format!("{id}/activity"), "type": "Create", "actor": bob,
               "object": {"id": id, "type": "Note", "attributedTo": bob, "inReplyTo": note, "content": content}})
    };
    let evil_id = format!("{bob}/notes/1 style=position:fixed;inset:0;background:red");
    assert_eq!(
        post_as_org(&b, "bob", &a.url("/inbox"), &reply(&evil_id, "hi")).await,
        400
    );
    let id = format!("{bob}/notes/2");
    assert_eq!(
        post_as_org(&b, "bob", &a.url("/inbox"), &reply(&id, &content)).await,
        202
    );
    let stored = crate::helpers::notes_of(&a, "acme").await;
    let html = &stored[0].content_html;
    assert!(html.len() <= 70 * 1024, "bounded: {}", html.len());
    assert_eq!(html.matches('<').count(), html.matches('>').count(), "no tag left open");
    assert!(html.ends_with('>') || !html.contains("<a"), "ends on a closed tag");
    let page = client().get(&note).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let page = page.text().await.unwrap();
    assert!(!page.contains(" style="), "no inline style on our pages");
    assert!(page.contains("</article>") && page.trim_end().ends_with("</html>"));
}

/// 5. A peer's `Add` with a `javascript:` URL was stored and rendered as a link.
#[tokio::test]
async fn only_https_urls_of_peers_are_stored() {
    let (_clock, a, b) = pair().await;
    // A follows B's directory (B is open).
    peering::add(&a.state, &Who::Cli, &b.domain()).await.unwrap();
    a.deliver_due().await;
    b.deliver_due().await;
    let p = store::peers::find(&a.state.db, &b.domain()).await.unwrap().unwrap();
    assert_eq!(p.outgoing, "accepted");
    let me = b.state.urls.instance_actor();
    let evil = format!("javascript://{}/%0Aalert(1)", b.domain());
    for (id, url) in [(evil.clone(), b.actor("x")), (b.actor("x"), evil.clone())] {
        let add = json!({"@context": "https://www.w3.org/ns/activitystreams", "type": "Add",
            "id": format!("{me}/directory/{}", id.len() + url.len()), "actor": me, "target": format!("{me}/directory"),
            "object": {"id": id, "type": "Organization", "preferredUsername": "x", "name": "Real Org - DONATE HERE",
                       "url": url, "inbox": format!("{}/inbox", b.actor("x")), "discoverable": true,
                       "understory:listedIn": "public"}});
        let status = post_as_instance(&b, &a.url("/inbox"), &add).await;
        assert!(status == 400 || status == 202, "{status}");
    }
    let page = text_of(&a.url("/directory?q=DONATE")).await;
    assert!(!page.contains("javascript:"), "no javascript: link on the directory");
    let api = text_of(&a.url("/api/understory/v1/directory?q=DONATE")).await;
    assert!(!api.contains("javascript:"), "{api}");
}

/// 3. Concurrent first views of one remote picture each fetched and decoded it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_views_of_a_remote_picture_fetch_it_once() {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    let hits = Arc::new(AtomicUsize::new(0));
    let mut png = Vec::new();
    image::RgbImage::from_pixel(2400, 1600, image::Rgb([200, 30, 30]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let served = (hits.clone(), png);
    let router = axum::Router::new().route(
        "/big.png",
        axum::routing::get(move || {
            let (hits, png) = served.clone();
            async move {
                hits.fetch_add(1, Ordering::SeqCst);
                ([("content-type", "image/png")], png)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://localhost:{}/big.png", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = TestApp::spawn().await;
    let mut tx = app.state.db.begin().await.unwrap();
    service::media::register_remote(
        &mut tx,
        &app.state,
        &[(url.as_str(), understory::domain::media::Purpose::Preview)],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let view = app.url(&format!("/media/remote/{}", service::media::remote_key(&url)));
    let views = (0..8).map(|_| {
        let view = view.clone();
        async move { client().get(&view).send().await.unwrap().bytes().await.unwrap() }
    });
    let bodies = futures_util::future::join_all(views).await;
    assert_eq!(hits.load(Ordering::SeqCst), 1, "one fetch for eight simultaneous views");
    assert!(bodies.iter().all(|b| b == &bodies[0] && !b.is_empty()));
    assert_eq!(
        understory::http::limit::Class::of(&axum::http::Method::GET, "/media/remote/abc"),
        Some(understory::http::limit::Class::RemoteMedia),
        "the route has a rate limit"
    );
}

/// 4. Forty concurrent wrong passwords for one email were all checked (the limit is five).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sign_ins_check_at_most_the_limit() {
    use understory::service::sessions::{self, SIGN_IN_MAX_PER_EMAIL, SignIn};
    let app = TestApp::spawn().await;
    user_with_password(&app, "ann@example.org", false, None).await;
    let tries = (0..40).map(|i| {
        let state = app.state.clone();
        async move {
            sessions::sign_in(
                &state,
                "ann@example.org",
                "wrong password!!",
                "",
                &format!("192.0.2.{i}"),
            )
            .await
            .unwrap()
        }
    });
    let outcomes = futures_util::future::join_all(tries.map(tokio::spawn)).await;
    let checked = outcomes
        .iter()
        .filter(|o| matches!(o.as_ref().unwrap(), SignIn::Refused))
        .count();
    assert_eq!(
        checked, SIGN_IN_MAX_PER_EMAIL,
        "passwords checked of 40 concurrent tries"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o.as_ref().unwrap(), SignIn::Refused | SignIn::Limited(_)))
    );
    // The right password is refused too while the email is limited, and works after the window.
    let right = || {
        sessions::sign_in(
            &app.state,
            "ann@example.org",
            "a long enough password",
            "",
            "192.0.2.99",
        )
    };
    assert!(matches!(right().await.unwrap(), SignIn::Limited(_)));
    app.state.clock.advance(chrono::Duration::minutes(16));
    assert!(matches!(right().await.unwrap(), SignIn::Ok { .. }));
}

/// 6. The last owner could demote themselves, and two owners removing each other at once
/// could leave none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_organisation_always_keeps_an_owner() {
    use understory::service::accounts::{self, Role};
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    user_with_password(&app, "own@example.org", false, Some("acme")).await;
    let demote = accounts::invite(&app.state, &Who::Cli, "acme", "own@example.org", Role::Editor).await;
    assert!(matches!(demote, Err(service::Error::Conflict(_))), "{demote:?}");
    let org = store::orgs::find_by_handle(&app.state.db, "acme")
        .await
        .unwrap()
        .unwrap();
    let owners = |members: Vec<store::users::Membership>| members.iter().filter(|m| m.role == "owner").count();
    assert_eq!(owners(store::users::members(&app.state.db, org.id).await.unwrap()), 1);

    for round in 0..5 {
        let handle = format!("org{round}");
        app.create_org(&handle).await;
        let (a, b) = (format!("a{round}@example.org"), format!("b{round}@example.org"));
        user_with_password(&app, &a, false, Some(&handle)).await;
        accounts::invite(&app.state, &Who::Cli, &handle, &b, Role::Owner)
            .await
            .unwrap();
        let (s1, s2) = (app.state.clone(), app.state.clone());
        let (h1, h2, a1, b1) = (handle.clone(), handle.clone(), a.clone(), b.clone());
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { accounts::remove_member(&s1, &Who::Cli, &h1, &b1).await }),
            tokio::spawn(async move { accounts::remove_member(&s2, &Who::Cli, &h2, &a1).await }),
        );
        let (r1, r2) = (r1.unwrap(), r2.unwrap());
        assert!(r1.is_ok() != r2.is_ok(), "exactly one removal wins: {r1:?} {r2:?}");
        let org = store::orgs::find_by_handle(&app.state.db, &handle)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            owners(store::users::members(&app.state.db, org.id).await.unwrap()),
            1,
            "round {round}"
        );
    }
}

/// 7. An update published while its organisation was being deleted survived the erasure. The
/// picture makes the window between the publication's first check and its transaction wide
/// (decoding and writing it), as an upload does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_published_survives_the_deletion_of_its_organisation() {
    use understory::service::posts::{Draft, Upload};
    let app = TestApp::spawn().await;
    let mut png = Vec::new();
    image::RgbImage::from_pixel(1600, 1200, image::Rgb([10, 90, 160]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut survived = 0;
    for round in 0..6 {
        let handle = format!("gone{round}");
        app.create_org(&handle).await;
        let draft = Draft {
            text: "Secret plans".into(),
            lang: None,
            content_warning: None,
            attachments: vec![Upload {
                bytes: png.clone(),
                description: Some("A plan".into()),
                file_name: Some("plan.png".into()),
            }],
        };
        let (s1, s2) = (app.state.clone(), app.state.clone());
        let (h1, h2) = (handle.clone(), handle.clone());
        let publishing = tokio::spawn(async move { service::posts::publish_draft(&s1, &Who::Cli, &h1, draft).await });
        // The deletion starts once the publication has passed its first check.
        tokio::task::yield_now().await;
        let deleting = tokio::spawn(async move { service::orgs::delete(&s2, &Who::Cli, &h2).await });
        let (published, deleted) = (publishing.await.unwrap(), deleting.await.unwrap());
        assert!(deleted.is_ok(), "{deleted:?}");
        let org = store::orgs::find_by_handle(&app.state.db, &handle)
            .await
            .unwrap()
            .unwrap();
        if let Ok((post, _)) = published {
            let stored = store::posts::find(&app.state.db, org.id, post.id)
                .await
                .unwrap()
                .unwrap();
            if stored.source == "Secret plans" {
                survived += 1;
            }
        }
    }
    assert_eq!(survived, 0, "updates whose text outlived their organisation's erasure");
}

/// 8. A peer whose `next` page points at itself was read until MAX_PAGES.
#[tokio::test]
async fn a_directory_that_loops_is_read_once() {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };
    let hits = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let page_origin = origin.clone();
    let counter = hits.clone();
    let router = axum::Router::new().route(
        "/actor/directory",
        axum::routing::get(move || {
            let (origin, counter) = (page_origin.clone(), counter.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let page = json!({"id": format!("{origin}/actor/directory?after=0.0"), "type": "OrderedCollectionPage",
                    "orderedItems": [], "next": format!("{origin}/actor/directory?after=0.0")});
                ([("content-type", "application/activity+json")], page.to_string())
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = TestApp::spawn().await;
    let domain = origin.trim_start_matches("http://").to_owned();
    let mut tx = app.state.db.begin().await.unwrap();
    store::peers::upsert(
        &mut tx,
        &domain,
        &format!("{origin}/actor"),
        &format!("{origin}/inbox"),
        0,
    )
    .await
    .unwrap();
    store::peers::set_outgoing(&mut tx, &domain, "accepted", None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let result = peering::sync(&app.state, &domain).await;
    assert!(result.is_err_and(|e| e.to_string().contains("already read")));
    assert!(
        hits.load(Ordering::SeqCst) <= 2,
        "{} fetches",
        hits.load(Ordering::SeqCst)
    );
    let peer = store::peers::find(&app.state.db, &domain).await.unwrap().unwrap();
    assert!(peer.last_sync_error.is_some_and(|e| e.contains("loop")));
}

/// 9. `/join` and the follow form had no rate limit; declined join requests were kept.
#[tokio::test]
async fn public_forms_are_rate_limited_and_declined_joins_pruned() {
    let app = TestApp::spawn_configured(test_clock(), |c| c.rate_limit_exempt = Vec::new()).await;
    app.create_org("acme").await;
    let mut statuses = Vec::new();
    for i in 0..15 {
        let r = client()
            .post(app.url("/join"))
            .form(&[
                ("handle", format!("new{i}")),
                ("name", format!("New {i}")),
                ("email", format!("n{i}@example.org")),
                ("message", "We would like to join.".into()),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(statuses.iter().filter(|s| **s != 429).count() <= understory::http::limit::FORMS_PER_MINUTE as usize);
    let follow = client()
        .post(app.url("/@acme/follow"))
        .form(&[("handle", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(follow.status(), 429, "the follow form shares the class");

    // Declined requests go 30 days after the answer.
    let pending = store::joins::pending(&app.state.db).await.unwrap();
    assert!(!pending.is_empty());
    service::joins::decline(&app.state, &Who::Cli, pending[0].id)
        .await
        .unwrap();
    app.state.clock.advance(chrono::Duration::days(31));
    service::retention::prune(&app.state).await.unwrap();
    assert!(
        store::joins::find(&app.state.db, pending[0].id)
            .await
            .unwrap()
            .is_none()
    );
}

/// 10. Connections that send half a request (slowloris) were held open for minutes.
#[tokio::test]
async fn half_sent_requests_are_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_configured(test_clock(), |c| {
        c.header_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let addr = app.base.trim_start_matches("http://localhost:").to_owned();
    for partial in [&b"GET /healthz HTTP/1.1\r\nHost: x\r\n"[..], b""] {
        let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{addr}"))
            .await
            .unwrap();
        stream.write_all(partial).await.unwrap();
        let mut buf = Vec::new();
        // The server closes it: the read ends (a bound so a regression fails instead of hanging).
        let read = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "the connection was still open after 20 s");
    }
    // A whole request is still answered.
    let ok = client().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(ok.status(), 200);
}

/// 11. Forged requests naming a stored actor's key made one fetch of its server each.
#[tokio::test]
async fn a_key_is_fetched_again_at_most_once_in_a_while() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let zoo = crate::zoo::Zoo::start("mastodon", &app).await;
    zoo.target(&app, "acme");
    let inbox = app.url("/inbox");
    assert_eq!(zoo.post(&inbox, &zoo.render("follow.json")).await.0, 202);
    let before = zoo.actor_gets();
    let forger = understory::httpsig::KeyPair::generate().unwrap();
    for _ in 0..20 {
        let body = serde_json::to_vec(&zoo.render("follow.json")).unwrap();
        let status = signed_post(&inbox, &body, &forger, &zoo.key_id(), app.state.clock.now_ms()).await;
        assert_eq!(status, 401);
    }
    assert!(
        zoo.actor_gets() - before <= 1,
        "{} refetches",
        zoo.actor_gets() - before
    );
}

/// 12. The follow form redirected wherever the visitor's WebFinger said, and fetched any path.
#[tokio::test]
async fn the_follow_form_takes_only_handles_and_follow_pages_on_their_own_server() {
    use understory::web::follow::parse_handle;
    assert_eq!(parse_handle("ann@social.example"), Some(("ann", "social.example")));
    assert_eq!(parse_handle("ann@localhost:8080"), Some(("ann", "localhost:8080")));
    for bad in [
        "x@host/anything/at/all?q=",
        "x@host?q",
        "x@user:pw@host",
        "@host.example",
        "x@-bad.example",
        "x@host.example:99999",
        "a b@host.example",
    ] {
        assert_eq!(parse_handle(bad), None, "{bad}");
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new().route(
        "/.well-known/webfinger",
        axum::routing::get(|| async {
            axum::Json(json!({"subject": "acct:ann@localhost", "links": [
                {"rel": "http://ostatus.org/schema/1.0/subscribe", "template": "https://phishing.example/follow?uri={uri}"}]}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let r = client()
        .post(app.url("/@acme/follow"))
        .form(&[("handle", format!("ann@localhost:{port}"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "no redirect to another host");
    assert!(r.headers().get("location").is_none());
    let r = client()
        .post(app.url("/@acme/follow"))
        .form(&[("handle", format!("ann@localhost:{port}/admin?x="))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// 13. A name holding `<!--<script` blanked the profile page inside the JSON-LD script.
#[tokio::test]
async fn json_in_pages_cannot_end_or_comment_out_its_script() {
    let app = TestApp::spawn().await;
    app.create_org("alpha").await;
    let edit = service::orgs::ProfileEdit {
        name: Some("Alpha <!--<script x".into()),
        listed_in: Some("public".into()),
        ..Default::default()
    };
    service::orgs::edit(&app.state, &Who::Cli, "alpha", &edit)
        .await
        .unwrap();
    let page = text_of(&app.url("/@alpha")).await;
    let start = page
        .find("<script type=\"application/ld+json\">")
        .expect("the JSON-LD is there");
    let script = &page[start + 35..];
    let script = &script[..script.find("</script>").unwrap()];
    assert!(
        !script.contains('<') && !script.contains('>') && !script.contains('&'),
        "{script}"
    );
    let doc: Value = serde_json::from_str(script).unwrap();
    assert_eq!(doc["name"], "Alpha <!--<script x", "the same JSON");
}

/// 14. An imported name `=HYPERLINK(...)` was served verbatim in /directory.csv.
#[tokio::test]
async fn csv_cells_cannot_be_formulas_and_round_trip() {
    use understory::service::open_data::{from_cell, to_cell};
    for (value, cell) in [
        ("=HYPERLINK(\"https://x\")", "'=HYPERLINK(\"https://x\")"),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Plain", "Plain"),
        ("'quoted", "'quoted"),
    ] {
        assert_eq!(to_cell(value.to_owned()), cell);
        assert_eq!(from_cell(cell), value);
    }
    let app = TestApp::spawn().await;
    app.create_org("calc").await;
    let edit = service::orgs::ProfileEdit {
        name: Some("=HYPERLINK(\"https://evil.example\",\"Click\")".into()),
        listed_in: Some("public".into()),
        ..Default::default()
    };
    service::orgs::edit(&app.state, &Who::Cli, "calc", &edit).await.unwrap();
    let csv = text_of(&app.url("/directory.csv")).await;
    assert!(csv.contains("'=HYPERLINK("), "{csv}");
    assert!(!csv.contains(",=HYPERLINK("), "{csv}");
}

/// 15. A signature that covered neither `(request-target)` nor `host` was accepted, so a
/// captured activity could be replayed to another inbox.
#[tokio::test]
async fn signed_posts_must_cover_the_target_and_the_host() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let zoo = crate::zoo::Zoo::start("mastodon", &app).await;
    zoo.target(&app, "acme");
    for headers in [["host", "date", "digest"], ["(request-target)", "date", "digest"]] {
        let (status, text) = zoo
            .post_signing(&app.url("/inbox"), &zoo.render("follow.json"), &headers)
            .await;
        assert_eq!(status, 401, "{headers:?}: {text}");
        assert!(text.contains("signature must cover"), "{text}");
    }
    assert!(app.followers("acme", "accepted").await.is_empty());
}

/// Issue 24, item 1: on PostgreSQL, eight concurrent inbox requests each held a pooled
/// connection in their transaction and read through the pool again, so all waited for a ninth.
/// Every read under an open transaction now goes through it (checked for every service by
/// `service::tests::no_pool_reads_under_an_open_transaction`); here 64 concurrent likes and
/// replies all land, on both databases.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_concurrent_inbox_requests_all_land() {
    let Replier {
        clock,
        a,
        b,
        post,
        note,
        bob,
    } = Replier::new().await;
    // bob is known before the burst, as a follower's server is.
    let first = json!({"id": format!("{bob}/likes/0"), "type": "Like", "actor": bob, "object": note});
    assert_eq!(post_as_org(&b, "bob", &a.url("/inbox"), &first).await, 202);
    let key = b.key_of("bob").await;
    let key_id = format!("{bob}#main-key");
    let sends = (1..=64).map(|i| {
        let activity = if i % 2 == 0 {
            json!({"id": format!("{bob}/likes/{i}"), "type": "Like", "actor": bob, "object": note})
        } else {
            json!({"id": format!("{bob}/notes/{i}/activity"), "type": "Create", "actor": bob,
                   "object": {"id": format!("{bob}/notes/{i}"), "type": "Note", "attributedTo": bob,
                              "inReplyTo": note, "content": format!("reply {i}")}})
        };
        let (inbox, key, key_id, now) = (a.url("/inbox"), key.clone(), key_id.clone(), clock.now_ms());
        tokio::spawn(async move {
            let body = serde_json::to_vec(&activity).unwrap();
            signed_post(&inbox, &body, &key, &key_id, now).await
        })
    });
    let statuses: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    assert_eq!(
        store::posts::interaction_count(&a.state.db, post.id, "like")
            .await
            .unwrap(),
        33
    );
    assert_eq!(crate::helpers::notes_of(&a, "acme").await.len(), 32);
}
