//! Discovery: WebFinger, NodeInfo, instance API, actor documents, content negotiation.

use serde_json::Value;

use crate::helpers::{TestApp, client, get_ap};

#[tokio::test]
async fn webfinger_resolves_every_resource_form_and_refuses_the_rest() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let acct = app.acct("acme");
    let forms = [
        format!("acct:{acct}"),
        acct.clone(),
        app.url("/@acme"),
        app.actor("acme"),
    ];
    for resource in forms {
        let r = client()
            .get(app.url("/.well-known/webfinger"))
            .query(&[("resource", &resource)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{resource}");
        assert_eq!(r.headers()["content-type"], "application/jrd+json; charset=utf-8");
        assert_eq!(r.headers()["access-control-allow-origin"], "*");
        let jrd: Value = r.json().await.unwrap();
        assert_eq!(jrd["subject"], format!("acct:{acct}"));
        let links = jrd["links"].as_array().unwrap();
        assert!(
            links.iter().any(|l| l["rel"] == "self"
                && l["type"] == "application/activity+json"
                && l["href"] == app.actor("acme"))
        );
        assert!(
            links
                .iter()
                .any(|l| l["rel"] == "http://webfinger.net/rel/profile-page" && l["href"] == app.url("/@acme"))
        );
    }
    let status = |resource: String| {
        let url = app.url("/.well-known/webfinger");
        async move {
            client()
                .get(url)
                .query(&[("resource", resource)])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // Uppercase is not folded: GoToSocial compares subjects byte for byte.
    assert_eq!(
        status(format!("acct:ACME@{}", app.base.trim_start_matches("http://"))).await,
        404
    );
    assert_eq!(status("acct:acme@elsewhere.example".into()).await, 404);
    assert_eq!(status(String::new()).await, 400);
    assert_eq!(
        client()
            .get(app.url("/.well-known/webfinger"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}

#[tokio::test]
async fn the_instance_actor_is_an_application_named_after_the_domain() {
    let app = TestApp::spawn().await;
    let domain = app.base.trim_start_matches("http://").to_owned();
    let r = client()
        .get(app.url("/.well-known/webfinger"))
        .query(&[("resource", format!("acct:{domain}@{domain}"))])
        .send()
        .await
        .unwrap();
    let jrd: Value = r.json().await.unwrap();
    assert_eq!(jrd["links"][1]["href"], app.url("/actor"));
    let (status, actor) = get_ap(&app.url("/actor")).await;
    assert_eq!(status, 200);
    assert_eq!(actor["type"], "Application");
    assert_eq!(actor["preferredUsername"], domain);
    assert_eq!(actor["publicKey"]["id"], format!("{}#main-key", app.url("/actor")));
    assert!(
        actor["publicKey"]["publicKeyPem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
}

#[tokio::test]
async fn the_organisation_actor_has_what_mastodon_reads() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let r = client()
        .get(app.actor("acme"))
        .header(
            "accept",
            "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/activity+json; charset=utf-8");
    assert_eq!(r.headers()["vary"], "Accept");
    let actor: Value = r.json().await.unwrap();
    assert_eq!(actor["@context"][0], "https://www.w3.org/ns/activitystreams");
    assert_eq!(actor["@context"][2]["discoverable"], "toot:discoverable");
    assert_eq!(actor["id"], app.actor("acme"));
    assert_eq!(actor["type"], "Organization");
    assert_eq!(actor["preferredUsername"], "acme");
    assert_eq!(actor["url"], app.url("/@acme"));
    assert_eq!(actor["summary"], "<p>We know things.</p>");
    assert_eq!(actor["inbox"], app.url("/orgs/acme/inbox"));
    assert_eq!(actor["endpoints"]["sharedInbox"], app.url("/inbox"));
    for key in ["outbox", "followers", "following", "featured", "featuredTags"] {
        let url = actor[key].as_str().unwrap();
        assert!(url.starts_with(&app.base), "{key}");
        let (status, collection) = get_ap(url).await;
        assert_eq!(status, 200, "{key}");
        assert!(collection["totalItems"].is_number(), "{key}");
    }
    assert_eq!(actor["manuallyApprovesFollowers"], false);
    assert_eq!(actor["discoverable"], false);
    assert_eq!(actor["indexable"], false);
    assert!(actor["published"].as_str().unwrap().ends_with('Z'));
    assert_eq!(actor["publicKey"]["owner"], app.actor("acme"));
    // Followers show the count only (privacy by default), the outbox links its first page.
    let (_, followers) = get_ap(actor["followers"].as_str().unwrap()).await;
    assert!(followers.get("first").is_none());
    let (_, outbox) = get_ap(actor["outbox"].as_str().unwrap()).await;
    assert!(outbox["first"].is_string());
}

#[tokio::test]
async fn browsers_get_html_with_a_link_to_the_json() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    for path in ["/orgs/acme", "/@acme"] {
        let r = client()
            .get(app.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
        let html = r.text().await.unwrap();
        assert!(html.contains(&format!(
            "<link rel=\"alternate\" type=\"application/activity+json\" href=\"{}\">",
            app.actor("acme")
        )));
        assert!(html.contains("acme name"));
    }
    assert_eq!(client().get(app.url("/@nobody")).send().await.unwrap().status(), 404);
    let home = client().get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(home.contains("/@acme"));
}

#[tokio::test]
async fn nodeinfo_and_the_instance_api_answer_plain_json() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let r = client().get(app.url("/.well-known/nodeinfo")).send().await.unwrap();
    let links: Value = r.json().await.unwrap();
    assert!(links["links"][0]["rel"].as_str().unwrap().ends_with("/2.0"));
    for version in ["2.0", "2.1"] {
        let r = client()
            .get(app.url(&format!("/nodeinfo/{version}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], "application/json; charset=utf-8");
        let doc: Value = r.json().await.unwrap();
        assert_eq!(doc["version"], version);
        assert_eq!(doc["software"]["name"], "understory");
        assert_eq!(doc["protocols"][0], "activitypub");
        assert_eq!(doc["usage"]["users"]["total"], 1);
    }
    for path in ["/api/v1/instance", "/api/v2/instance", "/api/v1/instance/peers"] {
        let r = client().get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }
    let meta = client()
        .get(app.url("/.well-known/host-meta"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(meta.contains("/.well-known/webfinger?resource={uri}"));
    assert_eq!(client().get(app.url("/healthz")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn visitors_follow_from_their_own_server_and_read_feeds_and_tags() {
    use understory::service::{self, audit::Who};
    // A fake fediverse server whose WebFinger advertises its follow page (on its own host).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new().route(
        "/.well-known/webfinger",
        axum::routing::get(move || async move {
            axum::Json(serde_json::json!({"subject": "acct:ann@localhost", "links": [
                {"rel": "http://ostatus.org/schema/1.0/subscribe",
                 "template": format!("http://localhost:{port}/authorize_interaction?uri={{uri}}")}]}))
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });

    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let r = client()
        .post(app.url("/@acme/follow"))
        .form(&[("handle", format!("@ann@localhost:{port}"))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let expected = format!(
        "http://localhost:{port}/authorize_interaction?uri=acme%40{}",
        app.base.trim_start_matches("http://").replace(':', "%3A")
    );
    assert_eq!(r.headers()["location"], expected.as_str());
    let bad = client()
        .post(app.url("/@acme/follow"))
        .form(&[("handle", "not a handle")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("you@your.server"));

    service::posts::publish(
        &app.state,
        &Who::Cli,
        "acme",
        "Clinic opens Monday & Tuesday #Housing",
        None,
    )
    .await
    .unwrap();
    let feed = client().get(app.url("/orgs/acme/feed.atom")).send().await.unwrap();
    assert_eq!(feed.headers()["content-type"], "application/atom+xml; charset=utf-8");
    let xml = feed.text().await.unwrap();
    assert!(
        xml.contains("<feed xmlns=\"http://www.w3.org/2005/Atom\">")
            && xml.contains("Clinic opens Monday &amp;amp; Tuesday")
    );
    let tag = client().get(app.url("/tags/housing")).send().await.unwrap();
    assert_eq!(tag.status(), 200);
    assert!(tag.text().await.unwrap().contains("Clinic opens"));
    assert_eq!(
        client()
            .get(app.url("/tags/not%20a%20tag"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}
