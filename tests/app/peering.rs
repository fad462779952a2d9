//! Directory peering between three instances in one process: A peers with B and C, B with C.

use serde_json::{Value, json};
use understory::{
    clock::Clock,
    service::{self, audit::Who, directory, peering, profiles},
    state::AppState,
    store,
};

use crate::helpers::{TestApp, client, signed_post, test_clock};

async fn instance(clock: &Clock, policy: &str) -> TestApp {
    let policy = policy.to_owned();
    TestApp::spawn_configured(clock.clone(), move |c| c.peering_policy = policy).await
}

async fn org(app: &TestApp, handle: &str, theme: &str, reach: &str) {
    app.create_org(handle).await;
    let doc = json!({"summary": format!("{handle} knows things"), "listed_in": reach, "themes": [theme], "places": ["GB-MAN"], "kinds": ["charity"]});
    profiles::replace(&app.state, &Who::Cli, handle, doc).await.unwrap();
}

/// `from` asks `to` to peer; both sides deliver until settled; `from` backfills.
async fn peer(from: &TestApp, to: &TestApp) {
    peering::add(&from.state, &Who::Cli, &to.domain()).await.unwrap();
    from.deliver_due().await;
    if to.state.config.peering_policy == "approval" {
        peering::approve(&to.state, &Who::Cli, &from.domain()).await.unwrap();
    }
    to.deliver_due().await;
    let p = store::peers::find(&from.state.db, &to.domain()).await.unwrap().unwrap();
    assert_eq!(p.outgoing, "accepted", "{} -> {}", from.domain(), to.domain());
    peering::sync(&from.state, &to.domain()).await.unwrap();
}

async fn names(state: &AppState, query: &str) -> Vec<String> {
    let q = directory::parse_query(Some(query)).unwrap();
    let page = directory::search(state, &q).await.unwrap();
    page.entries
        .iter()
        .map(|e| format!("{}@{}", e.handle, e.domain))
        .collect()
}

#[tokio::test]
async fn three_instances_share_their_listed_organisations() {
    let clock = test_clock();
    let (a, b, c) = (
        instance(&clock, "approval").await,
        instance(&clock, "open").await,
        instance(&clock, "open").await,
    );
    org(&a, "alocal", "Health", "home").await;
    org(&b, "bnet", "Health", "network").await;
    org(&b, "bpub", "Health", "public").await;
    org(&b, "bhome", "Health", "home").await;
    org(&c, "cpub", "Health", "public").await;
    peer(&a, &b).await;
    peer(&a, &c).await;
    peer(&b, &c).await;
    peer(&c, &b).await;

    let (bd, cd, ad) = (b.domain(), c.domain(), a.domain());
    let mut found = names(&a.state, "theme=Health").await;
    found.sort();
    let mut expected = vec![
        format!("alocal@{ad}"),
        format!("bnet@{bd}"),
        format!("bpub@{bd}"),
        format!("cpub@{cd}"),
    ];
    expected.sort();
    assert_eq!(found, expected, "home-only organisations stay home");
    assert_eq!(
        names(&a.state, &format!("instance={cd}")).await,
        vec![format!("cpub@{cd}")]
    );
    let q = directory::parse_query(Some("theme=Health")).unwrap();
    let page = directory::page_json(&a.state, &directory::search(&a.state, &q).await.unwrap());
    let cpub = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["handle"] == "cpub")
        .unwrap();
    assert_eq!(cpub["url"], c.url("/@cpub"), "results link to the home instance");
    let peers: Value = client()
        .get(a.url("/api/understory/v1/peers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(peers.as_array().unwrap().len(), 2);

    // An edit on C reaches A (and B) as Update.
    profiles::replace(
        &c.state,
        &Who::Cli,
        "cpub",
        json!({"summary": "now about volcanoes", "listed_in": "public", "themes": ["Environment"]}),
    )
    .await
    .unwrap();
    c.deliver_due().await;
    assert_eq!(names(&a.state, "theme=Environment").await, vec![format!("cpub@{cd}")]);
    assert_eq!(names(&b.state, "q=volcanoes").await, vec![format!("cpub@{cd}")]);

    // Consent withdrawn on B disappears from A and C.
    let edit = service::orgs::ProfileEdit {
        listed_in: Some("home".into()),
        ..Default::default()
    };
    service::orgs::edit(&b.state, &Who::Cli, "bpub", &edit).await.unwrap();
    b.deliver_due().await;
    assert!(!names(&a.state, "").await.contains(&format!("bpub@{bd}")));
    assert!(!names(&c.state, "").await.contains(&format!("bpub@{bd}")));

    // A forged Update from B about C's organisation is not believed: A asks C.
    let key = service::keys::instance_key(&b.state).await.unwrap();
    let b_actor = b.url("/actor");
    let forged = json!({"id": format!("{b_actor}#forged/1"), "type": "Update", "actor": b_actor,
        "object": {"id": c.actor("cpub"), "type": "Organization", "preferredUsername": "cpub", "name": "Forged", "understory:listedIn": "public"}});
    let status = signed_post(
        &a.url("/inbox"),
        &serde_json::to_vec(&forged).unwrap(),
        &key,
        &format!("{b_actor}#main-key"),
        clock.now_ms(),
    )
    .await;
    assert_eq!(status, 202);
    let entry = store::directory::changed_since(&a.state.db, 0)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.handle == "cpub")
        .unwrap();
    assert_eq!(entry.name, "cpub name", "the origin's name, not the forgery");

    // A blocked domain's organisations vanish, and what it sends is refused.
    peering::block(&a.state, &Who::Cli, &cd, "test").await.unwrap();
    assert!(names(&a.state, &format!("instance={cd}")).await.is_empty());
    let c_actor = c.url("/actor");
    let c_key = service::keys::instance_key(&c.state).await.unwrap();
    let hello = json!({"id": format!("{c_actor}#x/1"), "type": "Follow", "actor": c_actor, "object": a.url("/actor")});
    let status = signed_post(
        &a.url("/inbox"),
        &serde_json::to_vec(&hello).unwrap(),
        &c_key,
        &format!("{c_actor}#main-key"),
        clock.now_ms(),
    )
    .await;
    assert_eq!(status, 403);
    assert!(peering::add(&a.state, &Who::Cli, &cd).await.is_err());
}

#[tokio::test]
async fn the_directory_collection_is_for_accepted_peers_only() {
    let clock = test_clock();
    let (a, b) = (instance(&clock, "approval").await, instance(&clock, "closed").await);
    org(&b, "bnet", "Health", "network").await;
    let unsigned = client()
        .get(b.url("/actor/directory"))
        .header("accept", "application/activity+json")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    // Signed, but not a peer.
    let err = service::remote::fetch_signed(&a.state, &url::Url::parse(&b.url("/actor/directory")).unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    // B's policy is closed: the request is rejected, and the collection stays closed.
    peering::add(&a.state, &Who::Cli, &b.domain()).await.unwrap();
    a.deliver_due().await;
    b.deliver_due().await;
    assert_eq!(
        store::peers::find(&a.state.db, &b.domain())
            .await
            .unwrap()
            .unwrap()
            .outgoing,
        "rejected"
    );
    assert!(peering::sync(&a.state, &b.domain()).await.is_err());
    assert!(names(&a.state, "").await.is_empty());
    // Bad input.
    assert!(peering::add(&a.state, &Who::Cli, "not a domain!").await.is_err());
    assert!(peering::add(&a.state, &Who::Cli, &a.domain()).await.is_err());
    assert!(matches!(
        peering::approve(&a.state, &Who::Cli, "nobody.example").await,
        Err(service::Error::NotFound(_))
    ));
}

#[tokio::test]
async fn approval_holds_peering_until_the_operator_accepts() {
    let clock = test_clock();
    let (a, b) = (instance(&clock, "open").await, instance(&clock, "approval").await);
    org(&b, "bnet", "Health", "network").await;
    peering::add(&a.state, &Who::Cli, &b.domain()).await.unwrap();
    a.deliver_due().await;
    assert_eq!(peering::requests(&b.state).await.unwrap().len(), 1);
    assert_eq!(b.deliver_due().await, 0, "no answer yet");
    peering::approve(&b.state, &Who::Cli, &a.domain()).await.unwrap();
    b.deliver_due().await;
    assert_eq!(peering::sync(&a.state, &b.domain()).await.unwrap(), 1);
    assert_eq!(names(&a.state, "").await, vec![format!("bnet@{}", b.domain())]);
    // Removing the peer drops its organisations.
    peering::remove(&a.state, &Who::Cli, &b.domain()).await.unwrap();
    assert!(names(&a.state, "").await.is_empty());
    a.deliver_due().await;
    assert_eq!(
        store::peers::find(&b.state.db, &a.domain())
            .await
            .unwrap()
            .unwrap()
            .incoming,
        "none",
        "B saw the Undo"
    );
}

#[tokio::test]
async fn a_peer_down_during_a_sync_catches_up_when_it_returns() {
    let clock = test_clock();
    let a = instance(&clock, "open").await;
    let mut b = instance(&clock, "open").await;
    org(&b, "first", "Health", "network").await;
    peer(&a, &b).await;
    assert_eq!(names(&a.state, "").await.len(), 1);
    org(&b, "second", "Health", "public").await;
    b.stop().await;
    assert!(peering::sync(&a.state, &b.domain()).await.is_err(), "B is down");
    let p = store::peers::find(&a.state.db, &b.domain()).await.unwrap().unwrap();
    assert!(p.last_sync_error.is_some());
    assert_eq!(
        names(&a.state, "").await.len(),
        1,
        "search keeps working on the local replica"
    );
    b.start().await;
    assert_eq!(
        peering::sync(&a.state, &b.domain()).await.unwrap(),
        2,
        "both read again from the cursor (overlap)"
    );
    let mut found = names(&a.state, "").await;
    found.sort();
    assert_eq!(
        found,
        vec![format!("first@{}", b.domain()), format!("second@{}", b.domain())]
    );
    assert!(
        store::peers::find(&a.state.db, &b.domain())
            .await
            .unwrap()
            .unwrap()
            .last_sync_error
            .is_none()
    );
}

#[tokio::test]
async fn gossip_asks_only_understory_peers_of_peers_within_its_budget() {
    let clock = test_clock();
    let a = TestApp::spawn_configured(clock.clone(), |c| {
        c.peering_policy = "open".into();
        c.peer_gossip = true;
        c.peer_gossip_max = 2;
    })
    .await;
    let (b, c, d) = (
        instance(&clock, "open").await,
        instance(&clock, "open").await,
        instance(&clock, "open").await,
    );
    org(&c, "cnet", "Health", "network").await;
    peer(&a, &b).await;
    peer(&b, &c).await;
    peer(&b, &d).await;
    peering::block(&a.state, &Who::Cli, &d.domain(), "not wanted")
        .await
        .unwrap();
    let asked = peering::gossip(&a.state).await.unwrap();
    assert_eq!(asked, vec![c.domain()], "blocked domains are skipped");
    a.deliver_due().await;
    c.deliver_due().await;
    peering::sync(&a.state, &c.domain()).await.unwrap();
    assert_eq!(names(&a.state, "").await, vec![format!("cnet@{}", c.domain())]);
    assert!(
        peering::gossip(&a.state).await.unwrap().is_empty(),
        "budget spent: 2 requests in all"
    );
}

#[tokio::test]
async fn a_deleted_organisation_leaves_its_peers_directories() {
    let clock = test_clock();
    let (a, b) = (instance(&clock, "open").await, instance(&clock, "open").await);
    org(&b, "bnet", "Health", "network").await;
    peer(&a, &b).await;
    peer(&b, &a).await;
    assert_eq!(
        names(&a.state, "theme=Health").await,
        vec![format!("bnet@{}", b.domain())]
    );
    let sent = service::orgs::delete(&b.state, &Who::Cli, "bnet").await.unwrap();
    assert_eq!(sent, 1, "the actor's Delete goes to the peer A");
    b.deliver_due().await;
    assert!(names(&a.state, "theme=Health").await.is_empty());
    // A later sync reads a Tombstone and keeps it out.
    peering::sync(&a.state, &b.domain()).await.unwrap();
    assert!(names(&a.state, "theme=Health").await.is_empty());
}
