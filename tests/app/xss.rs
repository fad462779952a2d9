//! Remote HTML against an XSS corpus: a hostile server's actor (name, summary, fields) and
//! reply (content, attachment names) yield nothing executable in our pages or API output.

use axum::{Json, Router, routing::get};
use serde_json::{Value, json};
use understory::{httpsig::KeyPair, service, service::audit::Who};

use crate::helpers::{TestApp, client, signed_post, test_clock};

/// Payloads from the usual XSS cheat sheets: scripts, event handlers, `javascript:` links in
/// several spellings, SVG, CSS, frames, objects, forms, mutation XSS and attribute breakouts.
pub const CORPUS: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<a href=\"javascript:alert(1)\">click</a>",
    "<a href=\" JaVaScRiPt:alert(1)\">click</a>",
    "<a href=\"&#106;avascript:alert(1)\">click</a>",
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    "<p style=\"background:url(javascript:alert(1))\">styled</p>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<object data=\"data:text/html,<script>alert(1)</script>\"></object>",
    "<form action=\"javascript:alert(1)\"><button>go</button></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "\"><script>alert(1)</script>",
    "<details open ontoggle=alert(1)>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">data</a>",
    "<base href=\"javascript:alert(1)//\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
];

/// Whether a page or document holds anything a browser would run.
pub fn executable(text: &str) -> Option<&'static str> {
    let lower = text
        .to_ascii_lowercase()
        .replace("<script type=\"application/ld+json\">", "");
    [
        "<script",
        "onerror",
        "onload",
        "ontoggle",
        "javascript:",
        "<svg",
        "<iframe",
        "<object",
        "<style>body",
        "style=\"background",
        "<base",
        "http-equiv",
        "data:text/html",
        "<form action=\"javascript",
    ]
    .into_iter()
    .find(|needle| lower.contains(needle))
}

#[tokio::test]
async fn remote_html_yields_nothing_executable() {
    let clock = test_clock();
    let a = TestApp::spawn_with(clock.clone()).await;
    a.create_org("acme").await;
    let post = service::posts::publish(&a.state, &Who::Cli, "acme", "Our report", None)
        .await
        .unwrap();
    let note = a.url(&format!("/orgs/acme/updates/{}", post.id));

    // The hostile server: an Organization whose every text field carries the corpus.
    let key = KeyPair::generate().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let evil = format!("{base}/users/evil");
    let all = CORPUS.join(" ");
    let fields: Vec<Value> = CORPUS
        .iter()
        .map(|p| json!({"type": "PropertyValue", "name": p, "value": p}))
        .collect();
    let actor = json!({
        "@context": ["https://www.w3.org/ns/activitystreams"], "id": evil, "type": "Organization",
        "preferredUsername": "evil", "name": format!("Evil {}", CORPUS[12]), "summary": all,
        "inbox": format!("{evil}/inbox"), "url": evil, "discoverable": true, "indexable": true,
        "attachment": fields, "tag": [{"type": "Hashtag", "name": "#Health", "href": "http://x/"}],
        "publicKey": {"id": format!("{evil}#main-key"), "owner": evil, "publicKeyPem": key.public_pem()},
    });
    let router = Router::new().route("/users/evil", get(move || async move { Json(actor.clone()) }));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let reply = json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{evil}#create/1"),
        "type": "Create", "actor": evil, "object": {
            "id": format!("{evil}/notes/1"), "type": "Note", "attributedTo": evil, "inReplyTo": note,
            "content": all, "published": "2026-03-01T12:00:00Z",
            "attachment": [{"type": "Document", "mediaType": "text/html", "url": "javascript:alert(1)", "name": CORPUS[0]},
                           {"type": "Image", "mediaType": "image/png", "url": format!("{base}/x.png"), "name": CORPUS[12]}]}});
    let body = serde_json::to_vec(&reply).unwrap();
    let status = signed_post(
        &a.url("/inbox"),
        &body,
        &key,
        &format!("{evil}#main-key"),
        clock.now_ms(),
    )
    .await;
    assert_eq!(status, 202);

    let html = |url: String| async move {
        client()
            .get(url)
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let page = html(note.clone()).await;
    assert!(page.contains("Evil"), "the reply is shown: {page}");
    assert_eq!(executable(&page), None, "update page: {page}");
    let directory = html(a.url("/directory")).await;
    assert!(
        directory.contains("Evil"),
        "the hostile organisation is listed: {directory}"
    );
    assert_eq!(executable(&directory), None, "directory: {directory}");
    // Mastodon's directory and the open-data files list our own organisations; search lists all.
    for (api, lists) in [
        ("/api/v1/directory", false),
        ("/api/understory/v1/directory", true),
        ("/directory.jsonld", false),
        ("/directory.csv", false),
    ] {
        let text = client().get(a.url(api)).send().await.unwrap().text().await.unwrap();
        assert_eq!(text.contains("Evil"), lists, "{api}: {text}");
        assert_eq!(executable(&text), None, "{api}: {text}");
    }
}

#[test]
fn the_sanitiser_leaves_nothing_executable_in_any_payload() {
    for payload in CORPUS {
        let clean = understory::domain::html::sanitize(payload);
        assert_eq!(executable(&clean), None, "{payload} -> {clean}");
        let name = understory::domain::html::plain_name(payload);
        assert!(!name.contains('<'), "{payload} -> {name}");
    }
}
