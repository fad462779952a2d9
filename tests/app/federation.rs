//! Two instances federating for real: follow, accept, post, edit, delete, profile update,
//! manual approval, unfollow.

use understory::{
    clock::Clock,
    service::audit::Who,
    service::{self, orgs::ProfileEdit},
    store,
};

use crate::helpers::{TestApp, get_ap, notes_of, test_clock};

async fn pair() -> (TestApp, TestApp, Clock) {
    let clock = test_clock();
    (
        TestApp::spawn_with(clock.clone()).await,
        TestApp::spawn_with(clock.clone()).await,
        clock,
    )
}

/// `bob` on B follows `acme` on A, and both sides settle.
async fn bob_follows_acme(a: &TestApp, b: &TestApp) {
    let target = service::follows::follow(&b.state, &Who::Cli, "bob", &a.acct("acme"))
        .await
        .unwrap();
    assert_eq!(target, a.actor("acme"));
    assert_eq!(b.deliver_due().await, 1, "the Follow goes out");
    a.deliver_due().await;
}

#[tokio::test]
async fn follow_accept_post_edit_delete_reach_the_follower() {
    let (a, b, clock) = pair().await;
    a.create_org("acme").await;
    let bob = b.create_org("bob").await;
    bob_follows_acme(&a, &b).await;
    assert_eq!(a.followers("acme", "accepted").await, vec![b.actor("bob")]);
    assert_eq!(
        store::follows::following_state(&b.state.db, bob.id, &a.actor("acme"))
            .await
            .unwrap()
            .as_deref(),
        Some("accepted")
    );

    let post = service::posts::publish(
        &a.state,
        &Who::Cli,
        "acme",
        "Housing advice clinic opens #Housing",
        Some("en"),
    )
    .await
    .unwrap();
    assert_eq!(a.deliver_due().await, 1);
    let notes = notes_of(&b, "bob").await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].ap_id, a.url(&format!("/orgs/acme/updates/{}", post.id)));
    assert_eq!(notes[0].reason, "followed");
    assert!(notes[0].content_html.contains("Housing advice clinic"));

    clock.advance(chrono::Duration::minutes(5));
    service::posts::edit(
        &a.state,
        &Who::Cli,
        "acme",
        post.id,
        "Housing advice clinic opens Monday",
    )
    .await
    .unwrap();
    assert_eq!(a.deliver_due().await, 1);
    let notes = notes_of(&b, "bob").await;
    assert!(notes[0].content_html.contains("Monday"));
    assert!(notes[0].updated.is_some());
    let (_, note) = get_ap(&notes[0].ap_id).await;
    assert!(note["updated"].as_str().unwrap() > note["published"].as_str().unwrap());

    service::posts::delete(&a.state, &Who::Cli, "acme", post.id)
        .await
        .unwrap();
    assert_eq!(a.deliver_due().await, 1);
    assert!(notes_of(&b, "bob").await.is_empty());
    let (status, tombstone) = get_ap(&a.url(&format!("/orgs/acme/updates/{}", post.id))).await;
    assert_eq!(status, 410);
    assert_eq!(tombstone["type"], "Tombstone");
    assert_eq!(a.pending().await, 0);
}

#[tokio::test]
async fn a_profile_change_sends_update_of_the_actor() {
    let (a, b, clock) = pair().await;
    a.create_org("acme").await;
    b.create_org("bob").await;
    bob_follows_acme(&a, &b).await;
    clock.advance(chrono::Duration::minutes(1));
    let edit = ProfileEdit {
        name: Some("Acme Housing Aid".into()),
        ..Default::default()
    };
    service::orgs::edit(&a.state, &Who::Cli, "acme", &edit).await.unwrap();
    assert_eq!(a.deliver_due().await, 1);
    let stored = store::actors::find_by_ap_id(&b.state.db, &a.actor("acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name, "Acme Housing Aid");
    // Invalid edits name the field and change nothing.
    let bad = ProfileEdit {
        name: Some("<script>x</script>".into()),
        ..Default::default()
    };
    let err = service::orgs::edit(&a.state, &Who::Cli, "acme", &bad)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("name"), "{err}");
    assert_eq!(a.pending().await, 0);
}

#[tokio::test]
async fn manual_approval_holds_the_follow_until_staff_accept() {
    let (a, b, _) = pair().await;
    a.create_org_with("acme", true).await;
    let bob = b.create_org("bob").await;
    bob_follows_acme(&a, &b).await;
    assert_eq!(a.followers("acme", "pending").await, vec![b.actor("bob")]);
    assert_eq!(a.pending().await, 0, "no Accept yet");
    let (_, actor) = get_ap(&a.actor("acme")).await;
    assert_eq!(actor["manuallyApprovesFollowers"], true);

    service::follows::answer(&a.state, &Who::Cli, "acme", &b.actor("bob"), true)
        .await
        .unwrap();
    assert_eq!(a.deliver_due().await, 1);
    assert_eq!(a.followers("acme", "accepted").await, vec![b.actor("bob")]);
    assert_eq!(
        store::follows::following_state(&b.state.db, bob.id, &a.actor("acme"))
            .await
            .unwrap()
            .as_deref(),
        Some("accepted")
    );
    let err = service::follows::answer(&a.state, &Who::Cli, "acme", "http://nobody.example/x", true)
        .await
        .unwrap_err();
    assert!(matches!(err, service::Error::NotFound(_)));
}

#[tokio::test]
async fn a_rejected_follow_is_removed_on_both_sides() {
    let (a, b, _) = pair().await;
    a.create_org_with("acme", true).await;
    let bob = b.create_org("bob").await;
    bob_follows_acme(&a, &b).await;
    service::follows::answer(&a.state, &Who::Cli, "acme", &b.actor("bob"), false)
        .await
        .unwrap();
    assert_eq!(a.deliver_due().await, 1);
    assert!(a.followers("acme", "pending").await.is_empty());
    assert_eq!(
        store::follows::following_state(&b.state.db, bob.id, &a.actor("acme"))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn posts_before_any_follower_go_nowhere_and_handles_stay_unique() {
    let a = TestApp::spawn().await;
    a.create_org("acme").await;
    service::posts::publish(&a.state, &Who::Cli, "acme", "Nobody follows us yet", None)
        .await
        .unwrap();
    assert_eq!(a.deliver_due().await, 0);
    let input = service::orgs::NewOrgInput {
        handle: "acme".into(),
        name: "Other".into(),
        ..Default::default()
    };
    assert!(matches!(
        service::orgs::create(&a.state, &Who::Cli, &input).await,
        Err(service::Error::Conflict(_))
    ));
    let input = service::orgs::NewOrgInput {
        handle: "Acme".into(),
        name: "Other".into(),
        ..Default::default()
    };
    assert!(matches!(
        service::orgs::create(&a.state, &Who::Cli, &input).await,
        Err(service::Error::Invalid(_))
    ));
    let err = service::posts::publish(&a.state, &Who::Cli, "acme", "   ", None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("text"));
    let err = service::posts::publish(&a.state, &Who::Cli, "acme", "hi", Some("not a language"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("language"));
    assert!(matches!(
        service::posts::publish(&a.state, &Who::Cli, "ghost", "hi", None).await,
        Err(service::Error::NotFound(_))
    ));
}

#[tokio::test]
async fn content_warnings_travel_as_the_note_summary() {
    let a = TestApp::spawn().await;
    a.create_org("acme").await;
    let post = service::posts::publish_with_warning(
        &a.state,
        &Who::Cli,
        "acme",
        "Report on evictions",
        None,
        Some("Evictions"),
    )
    .await
    .unwrap();
    let url = a.url(&format!("/orgs/acme/updates/{}", post.id));
    let (_, note) = get_ap(&url).await;
    assert_eq!(
        (note["summary"].as_str(), note["sensitive"].as_bool()),
        (Some("Evictions"), Some(true))
    );
    a.state.clock.advance(chrono::Duration::minutes(1));
    service::posts::edit(&a.state, &Who::Cli, "acme", post.id, "Report on evictions, updated")
        .await
        .unwrap();
    let (_, note) = get_ap(&url).await;
    assert_eq!(note["summary"], "Evictions", "an edit keeps the warning");
    let long = "x".repeat(201);
    let err = service::posts::publish_with_warning(&a.state, &Who::Cli, "acme", "Text", None, Some(&long))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("content_warning"), "{err}");
    let plain = service::posts::publish_with_warning(&a.state, &Who::Cli, "acme", "Text", None, Some("  "))
        .await
        .unwrap();
    assert_eq!(plain.content_warning, None);
    let page = crate::helpers::client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<details><summary>Evictions</summary>"));
}
