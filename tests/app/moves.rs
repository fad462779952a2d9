//! Moving an organisation between instances with its followers; operator hides and reports.

use serde_json::json;
use understory::{
    service::{self, audit::Who, directory, moderation, moves, profiles},
    state::AppState,
    store,
};

use crate::helpers::{TestApp, client, get_ap, test_clock};

async fn handles(state: &AppState) -> Vec<String> {
    let q = directory::parse_query(None).unwrap();
    directory::search(state, &q)
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.handle)
        .collect()
}

#[tokio::test]
async fn an_organisation_moves_with_its_followers() {
    let clock = test_clock();
    let (a, b, c) = (
        TestApp::spawn_with(clock.clone()).await,
        TestApp::spawn_with(clock.clone()).await,
        TestApp::spawn_with(clock.clone()).await,
    );
    a.create_org("old").await;
    profiles::replace(
        &a.state,
        &Who::Cli,
        "old",
        json!({"listed_in": "public", "themes": ["Health"]}),
    )
    .await
    .unwrap();
    b.create_org_with("new", true).await;
    let bob = c.create_org("bob").await;
    service::follows::follow(&c.state, &Who::Cli, "bob", &a.acct("old"))
        .await
        .unwrap();
    c.deliver_due().await;
    a.deliver_due().await;
    assert_eq!(a.followers("old", "accepted").await, vec![c.actor("bob")]);

    // The move is refused until the new actor lists the old one.
    assert!(
        moves::move_org(&a.state, &Who::Cli, "old", &b.actor("new"))
            .await
            .is_err()
    );
    moves::alias(&b.state, &Who::Cli, "new", &a.actor("old")).await.unwrap();
    let (_, new_actor) = get_ap(&b.actor("new")).await;
    assert_eq!(new_actor["alsoKnownAs"], json!([a.actor("old")]));
    moves::move_org(&a.state, &Who::Cli, "old", &b.actor("new"))
        .await
        .unwrap();
    assert!(
        moves::move_org(&a.state, &Who::Cli, "old", &b.actor("new"))
            .await
            .is_err(),
        "once"
    );
    a.deliver_due().await;

    // The follower's instance follows the new actor; the wave of Follows is accepted even
    // though the new organisation approves followers by hand (the move window).
    c.deliver_due().await;
    assert_eq!(b.followers("new", "accepted").await, vec![c.actor("bob")]);
    b.deliver_due().await;
    assert_eq!(
        store::follows::following_state(&c.state.db, bob.id, &b.actor("new"))
            .await
            .unwrap()
            .as_deref(),
        Some("accepted")
    );

    // The old actor keeps serving, with movedTo; its page points on; it leaves the directory.
    let (status, old_actor) = get_ap(&a.actor("old")).await;
    assert_eq!(
        (status.as_u16(), old_actor["movedTo"].as_str()),
        (200, Some(b.actor("new").as_str()))
    );
    let page = client().get(a.url("/@old")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("has moved to"));
    assert!(handles(&a.state).await.is_empty());

    // A new Follow of the moved actor gets a Reject.
    let carol = c.create_org("carol").await;
    service::follows::follow(&c.state, &Who::Cli, "carol", &a.acct("old"))
        .await
        .unwrap();
    c.deliver_due().await;
    a.deliver_due().await;
    assert_eq!(
        store::follows::following_state(&c.state.db, carol.id, &a.actor("old"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn operators_hide_entries_and_exchange_reports() {
    let clock = test_clock();
    let (a, b) = (
        TestApp::spawn_with(clock.clone()).await,
        TestApp::spawn_with(clock.clone()).await,
    );
    a.create_org("acme").await;
    profiles::replace(&a.state, &Who::Cli, "acme", json!({"listed_in": "public"}))
        .await
        .unwrap();
    b.create_org("remote").await;
    profiles::replace(&b.state, &Who::Cli, "remote", json!({"listed_in": "public"}))
        .await
        .unwrap();

    let (actor, listed) = moderation::add(&a.state, &Who::Cli, &b.acct("remote")).await.unwrap();
    assert!(listed);
    assert_eq!(handles(&a.state).await, vec!["acme", "remote"]);
    moderation::hide(&a.state, &Who::Cli, &actor.ap_id, "spam")
        .await
        .unwrap();
    assert_eq!(handles(&a.state).await, vec!["acme"]);
    // A refresh of the hidden actor does not bring it back.
    service::remote::fetch_actor(&a.state, &url::Url::parse(&actor.ap_id).unwrap())
        .await
        .unwrap();
    assert_eq!(handles(&a.state).await, vec!["acme"]);
    moderation::unhide(&a.state, &Who::Cli, &a.actor("acme"))
        .await
        .unwrap_err();
    moderation::hide(&a.state, &Who::Cli, &a.actor("acme"), "test")
        .await
        .unwrap();
    assert!(handles(&a.state).await.is_empty());
    moderation::unhide(&a.state, &Who::Cli, &a.actor("acme")).await.unwrap();
    assert_eq!(handles(&a.state).await, vec!["acme"]);

    // B's operator reports A's organisation; A receives the Flag.
    let id = moderation::send(&b.state, &Who::Cli, &a.acct("acme"), "Misleading profile")
        .await
        .unwrap();
    b.deliver_due().await;
    let reports = store::reports::list(&a.state.db).await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        (
            reports[0].ap_id.as_str(),
            reports[0].content.as_str(),
            reports[0].direction.as_str()
        ),
        (id.as_str(), "Misleading profile", "received")
    );
    assert_eq!(store::reports::list(&b.state.db).await.unwrap()[0].direction, "sent");
    moderation::resolve(&a.state, &Who::Cli, reports[0].id).await.unwrap();
    assert!(
        moderation::resolve(&a.state, &Who::Cli, reports[0].id).await.is_err(),
        "resolved once"
    );
}

#[tokio::test]
async fn stale_remote_entries_are_refreshed_and_gone_ones_dropped() {
    let clock = test_clock();
    let (a, b) = (
        TestApp::spawn_with(clock.clone()).await,
        TestApp::spawn_with(clock.clone()).await,
    );
    b.create_org("remote").await;
    profiles::replace(
        &b.state,
        &Who::Cli,
        "remote",
        json!({"listed_in": "public", "themes": ["Health"]}),
    )
    .await
    .unwrap();
    moderation::add(&a.state, &Who::Cli, &b.acct("remote")).await.unwrap();
    assert_eq!(
        service::remote::refresh_stale(&a.state, 10).await.unwrap(),
        0,
        "fresh entries are left alone"
    );
    profiles::replace(
        &b.state,
        &Who::Cli,
        "remote",
        json!({"listed_in": "public", "themes": ["Environment"]}),
    )
    .await
    .unwrap();
    clock.advance(chrono::Duration::hours(25));
    assert_eq!(service::remote::refresh_stale(&a.state, 10).await.unwrap(), 1);
    let q = directory::parse_query(Some("theme=Environment")).unwrap();
    assert_eq!(
        directory::search(&a.state, &q).await.unwrap().total,
        1,
        "the refreshed profile is searchable"
    );
}

#[tokio::test]
async fn operators_manage_peers_through_the_api() {
    use understory::service::tokens::{self, Scope};
    let clock = test_clock();
    let a = TestApp::spawn_configured(clock.clone(), |c| c.peering_policy = "open".into()).await;
    let b = TestApp::spawn_configured(clock.clone(), |c| c.peering_policy = "open".into()).await;
    service::accounts::create_user(&a.state, &Who::Cli, "op@example.org", true, None)
        .await
        .unwrap();
    let (_, token) = tokens::create(&a.state, &Who::Cli, "op@example.org", &Scope::Operator, None)
        .await
        .unwrap();
    let call = |method: reqwest::Method, path: String, body: Option<serde_json::Value>| {
        let mut r = client()
            .request(method, a.url(&format!("/api/understory/v1/admin{path}")))
            .header("authorization", format!("Bearer {token}"));
        if let Some(body) = body {
            r = r.json(&body);
        }
        async move { r.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(
        call(
            reqwest::Method::POST,
            "/peers".into(),
            Some(json!({"domain": b.domain()}))
        )
        .await,
        201
    );
    a.deliver_due().await;
    b.deliver_due().await;
    assert_eq!(
        call(reqwest::Method::POST, format!("/peers/{}/sync", b.domain()), None).await,
        200
    );
    assert_eq!(call(reqwest::Method::GET, "/peers".into(), None).await, 200);
    assert_eq!(
        call(
            reqwest::Method::POST,
            "/domain_blocks".into(),
            Some(json!({"domain": "spam.example", "reason": "spam"}))
        )
        .await,
        201
    );
    assert_eq!(
        call(reqwest::Method::DELETE, "/domain_blocks/spam.example".into(), None).await,
        204
    );
    assert_eq!(
        call(reqwest::Method::DELETE, format!("/peers/{}", b.domain()), None).await,
        204
    );
    assert_eq!(
        call(
            reqwest::Method::POST,
            "/peers".into(),
            Some(json!({"domain": "not a domain!"}))
        )
        .await,
        400
    );
    assert_eq!(call(reqwest::Method::GET, "/reports".into(), None).await, 200);
}
