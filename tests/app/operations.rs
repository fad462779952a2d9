//! Operating for years: backup and restore, deletion of an organisation, its export,
//! retention, and metrics.

use std::os::unix::fs::PermissionsExt;

use understory::{
    clock::Clock,
    service::{self, audit::Who, orgs::NewOrgInput},
    store,
};

use crate::{
    helpers::{TestApp, client, get_ap, notes_of, test_clock},
    media::set_avatar,
};

/// `bob` on B follows `acme` on A, and both sides settle.
async fn bob_follows_acme(a: &TestApp, b: &TestApp) {
    service::follows::follow(&b.state, &Who::Cli, "bob", &a.acct("acme"))
        .await
        .unwrap();
    assert_eq!(b.deliver_due().await, 1);
    assert_eq!(a.deliver_due().await, 1);
}

async fn pair() -> (TestApp, TestApp, Clock) {
    let clock = test_clock();
    let a = TestApp::spawn_with(clock.clone()).await;
    let b = TestApp::spawn_with(clock.clone()).await;
    a.create_org("acme").await;
    b.create_org("bob").await;
    bob_follows_acme(&a, &b).await;
    (a, b, clock)
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn a_backup_restores_the_same_actors_with_the_same_keys_and_federates() {
    let (mut a, b, _) = pair().await;
    if a.sqlite_url().is_none() {
        // The PostgreSQL form (pg_dump -Fc / pg_restore) is run by tests/crash on a database
        // of its own; this suite's PostgreSQL run shares one database between tests.
        return;
    }
    set_avatar(&a, "acme").await;
    a.deliver_due().await;
    let (_, before) = get_ap(&a.actor("acme")).await;

    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("backup");
    let manifest = service::backup::backup(&a.state, &backup).await.unwrap();
    assert_eq!(manifest.database, "sqlite");
    assert_eq!(mode(&backup), 0o700);
    assert!(manifest.files.iter().any(|f| f.path == "understory.db"));
    assert!(
        manifest.files.iter().any(|f| f.path.starts_with("media/")),
        "{manifest:?}"
    );
    for file in &manifest.files {
        assert_eq!(mode(&backup.join(&file.path)), 0o600, "{}", file.path);
        assert_eq!(file.sha256.len(), 64);
    }
    assert_eq!(mode(&backup.join("manifest.json")), 0o600);
    let err = service::backup::backup(&a.state, &backup).await.unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");

    // The disk is lost: the instance comes back from the backup, in a new place.
    a.stop().await;
    let fresh = tempfile::tempdir().unwrap();
    let mut config = (*a.state.config).clone();
    config.database_url = format!("sqlite://{}", fresh.path().join("restored.db").display());
    config.media_dir = fresh.path().join("media");
    let mut elsewhere = config.clone();
    elsewhere.public_url = "http://other.example".parse().unwrap();
    let err = service::backup::restore(&elsewhere, &backup).await.unwrap_err();
    assert!(err.to_string().contains("UNDERSTORY_PUBLIC_URL"), "{err}");
    assert!(!fresh.path().join("restored.db").exists(), "nothing written");
    service::backup::restore(&config, &backup).await.unwrap();
    let err = service::backup::restore(&config, &backup).await.unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    a.start_restored(config).await;

    let (status, after) = get_ap(&a.actor("acme")).await;
    assert_eq!(status, 200);
    assert_eq!(after["id"], before["id"]);
    assert_eq!(after["publicKey"]["publicKeyPem"], before["publicKey"]["publicKeyPem"]);
    let icon = after["icon"]["url"].as_str().unwrap();
    assert_eq!(client().get(icon).send().await.unwrap().status(), 200);
    assert_eq!(a.followers("acme", "accepted").await, vec![b.actor("bob")]);
    // The restored instance federates: B verifies its signature with the key it already had.
    service::posts::publish(&a.state, &Who::Cli, "acme", "Back after the flood", None)
        .await
        .unwrap();
    assert_eq!(a.deliver_due().await, 1);
    assert!(
        notes_of(&b, "bob")
            .await
            .iter()
            .any(|n| n.content_html.contains("Back after the flood"))
    );

    // A damaged backup is refused before anything is written.
    let db = backup.join("understory.db");
    let mut bytes = std::fs::read(&db).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&db, bytes).unwrap();
    let mut again = (*a.state.config).clone();
    let other = tempfile::tempdir().unwrap();
    again.database_url = format!("sqlite://{}", other.path().join("x.db").display());
    again.media_dir = other.path().join("media");
    let err = service::backup::restore(&again, &backup).await.unwrap_err();
    assert!(err.to_string().contains("understory.db: checksum mismatch"), "{err}");
    assert!(!other.path().join("x.db").exists());
}

#[tokio::test]
async fn a_deleted_organisation_answers_410_everywhere_and_its_handle_stays_reserved() {
    let (a, b, _) = pair().await;
    let post = service::posts::publish(&a.state, &Who::Cli, "acme", "Our last update", None)
        .await
        .unwrap();
    assert_eq!(a.deliver_due().await, 1);
    assert_eq!(notes_of(&b, "bob").await.len(), 1);
    let export = service::orgs::export(&a.state, "acme").await.unwrap();
    assert_eq!(export["format"], "understory-org-export/1");
    assert_eq!(export["organisation"]["handle"], "acme");
    assert_eq!(export["actor"]["type"], "Organization");
    assert_eq!(export["updates"][0]["text"], "Our last update");
    assert_eq!(export["followers"][0], b.actor("bob"));

    let sent = service::orgs::delete(&a.state, &Who::Cli, "acme").await.unwrap();
    assert_eq!(sent, 1, "the Delete goes to bob's inbox");
    assert_eq!(a.deliver_due().await, 1);
    // On B: acme is gone, with what it sent.
    assert!(notes_of(&b, "bob").await.is_empty());
    let bob = store::orgs::find_by_handle(&b.state.db, "bob").await.unwrap().unwrap();
    assert!(store::follows::following(&b.state.db, bob.id).await.unwrap().is_empty());

    // On A: 410 with a Tombstone for the actor and each update; WebFinger 410.
    let (status, actor) = get_ap(&a.actor("acme")).await;
    assert_eq!((status.as_u16(), actor["type"].as_str()), (410, Some("Tombstone")));
    let update = a.url(&format!("/orgs/acme/updates/{}", post.id));
    let (status, note) = get_ap(&update).await;
    assert_eq!((status.as_u16(), note["type"].as_str()), (410, Some("Tombstone")));
    assert_eq!(note["id"], update);
    assert_eq!(note["formerType"], "Note");
    let webfinger = client()
        .get(a.url(&format!("/.well-known/webfinger?resource=acct:{}", a.acct("acme"))))
        .send()
        .await
        .unwrap();
    assert_eq!(webfinger.status(), 410);
    let page = client().get(a.url("/@acme")).send().await.unwrap();
    assert_eq!(page.status(), 410);
    // Nothing of it is left to export, and the handle cannot be taken again.
    assert!(matches!(
        service::orgs::export(&a.state, "acme").await,
        Err(service::Error::Gone(_))
    ));
    let again = NewOrgInput {
        handle: "acme".into(),
        name: "Acme again".into(),
        summary: String::new(),
        approve_followers: false,
    };
    let err = service::orgs::create(&a.state, &Who::Cli, &again).await.unwrap_err();
    assert!(err.to_string().contains("reserved"), "{err}");
    let row = store::orgs::find_by_handle(&a.state.db, "acme").await.unwrap().unwrap();
    assert_eq!((row.name.as_str(), row.summary.as_str()), ("", ""));
    // Its key outlives the Delete only until the Delete is delivered.
    assert!(row.private_key_pem.is_some());
    let pruned = service::retention::prune(&a.state).await.unwrap();
    assert_eq!(pruned.keys, 1);
    let row = store::orgs::find_by_handle(&a.state.db, "acme").await.unwrap().unwrap();
    assert!(row.private_key_pem.is_none());
    assert!(matches!(
        service::keys::org_key(&a.state, row.id).await,
        Err(service::Error::Gone(_))
    ));
}

#[tokio::test]
async fn pictures_nothing_uses_any_more_are_removed_a_day_later() {
    let (a, _b, clock) = pair().await;
    let org = set_avatar(&a, "acme").await;
    let file = service::media::path_of(&a.state, org.avatar.as_deref().unwrap());
    assert!(file.exists());
    clock.advance(chrono::Duration::days(2));
    assert_eq!(service::retention::prune(&a.state).await.unwrap().media, 0, "in use");
    service::orgs::delete(&a.state, &Who::Cli, "acme").await.unwrap();
    assert_eq!(service::retention::prune(&a.state).await.unwrap().media, 1);
    assert!(!file.exists());
}

#[tokio::test]
async fn retention_prunes_what_is_past_its_time_and_nothing_else() {
    let (a, b, clock) = pair().await;
    service::posts::publish(&a.state, &Who::Cli, "acme", "Soup kitchen open", None)
        .await
        .unwrap();
    assert_eq!(a.deliver_due().await, 1);
    assert_eq!(notes_of(&b, "bob").await.len(), 1);
    // Nothing is old yet.
    assert_eq!(service::retention::prune(&a.state).await.unwrap(), Default::default());
    assert_eq!(service::retention::prune(&b.state).await.unwrap(), Default::default());

    clock.advance(chrono::Duration::days(8));
    let pruned = service::retention::prune(&a.state).await.unwrap();
    // The Accept and the Create, delivered over a week ago, and their outbox rows.
    assert_eq!((pruned.deliveries, pruned.activities), (2, 2), "{pruned:?}");
    assert_eq!(pruned.activity_ids, 0);
    clock.advance(chrono::Duration::days(23));
    let pruned = service::retention::prune(&b.state).await.unwrap();
    assert_eq!(
        pruned.activity_ids, 2,
        "the Accept and the Create B received: {pruned:?}"
    );
    assert_eq!(pruned.remote_notes, 0, "notes are kept a year");
    clock.advance(chrono::Duration::days(335));
    let pruned = service::retention::prune(&b.state).await.unwrap();
    assert_eq!(pruned.remote_notes, 1);
    assert!(notes_of(&b, "bob").await.is_empty());
    // Follows are not subject to retention.
    assert_eq!(a.followers("acme", "accepted").await, vec![b.actor("bob")]);
}

#[tokio::test]
async fn metrics_are_off_by_default_and_only_for_allowed_addresses() {
    let off = TestApp::spawn().await;
    assert_eq!(client().get(off.url("/metrics")).send().await.unwrap().status(), 404);

    let on = TestApp::spawn_configured(test_clock(), |c| c.metrics = true).await;
    on.create_org("acme").await;
    client()
        .get(on.url("/api/understory/v1/directory?q=acme"))
        .send()
        .await
        .unwrap();
    let response = client().get(on.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for line in [
        "understory_organisations 1",
        "understory_deliveries_pending 0",
        "understory_search_duration_seconds_count 1",
        "understory_http_requests_total{route=\"/api/understory/v1/directory\",status=\"200\"} 1",
        "understory_deliveries_total{outcome=\"delivered\"} 0",
        "understory_delivery_queue_oldest_seconds 0",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} missing from:\n{text}");
    }
    // Behind a proxy, the client's address decides: a public one is refused.
    let response = client()
        .get(on.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn the_api_exports_deletes_organisations_and_staff_delete_themselves() {
    use understory::service::{
        accounts::{self, Role},
        tokens::{self, Scope},
    };
    let app = TestApp::spawn().await;
    let s = &app.state;
    app.create_org("acme").await;
    accounts::create_user(s, &Who::Cli, "own@example.org", false, Some(("acme", Role::Owner)))
        .await
        .unwrap();
    accounts::create_user(s, &Who::Cli, "ed@example.org", false, Some(("acme", Role::Editor)))
        .await
        .unwrap();
    accounts::create_user(s, &Who::Cli, "op@example.org", true, None)
        .await
        .unwrap();
    let token = |email: &'static str, scope: Scope| async move {
        tokens::create(s, &Who::Cli, email, &scope, None).await.unwrap().1
    };
    let owner = token("own@example.org", Scope::Org("acme".into())).await;
    let editor = token("ed@example.org", Scope::Org("acme".into())).await;
    let operator = token("op@example.org", Scope::Operator).await;
    let call = |method: reqwest::Method, path: &str, bearer: &str| {
        client()
            .request(method, app.url(&format!("/api/understory/v1{path}")))
            .bearer_auth(bearer)
            .send()
    };
    let export = call(reqwest::Method::GET, "/orgs/acme/export", &owner).await.unwrap();
    assert_eq!(export.status(), 200);
    let doc: serde_json::Value = export.json().await.unwrap();
    assert_eq!(doc["organisation"]["handle"], "acme");
    assert_eq!(
        call(reqwest::Method::GET, "/orgs/acme/export", &editor)
            .await
            .unwrap()
            .status(),
        403
    );

    // An editor deletes their own account: the token stops working, the address is erased.
    assert_eq!(
        call(reqwest::Method::DELETE, "/me", &editor).await.unwrap().status(),
        204
    );
    assert_eq!(call(reqwest::Method::GET, "/me", &editor).await.unwrap().status(), 401);
    assert!(
        store::users::find_by_email(&s.db, "ed@example.org")
            .await
            .unwrap()
            .is_none()
    );
    // The last owner cannot leave an organisation without one.
    assert_eq!(
        call(reqwest::Method::DELETE, "/me", &owner).await.unwrap().status(),
        409
    );

    assert_eq!(
        call(reqwest::Method::DELETE, "/admin/orgs/acme", &owner)
            .await
            .unwrap()
            .status(),
        403
    );
    let deleted = call(reqwest::Method::DELETE, "/admin/orgs/acme", &operator)
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    let (status, _) = get_ap(&app.actor("acme")).await;
    assert_eq!(status, 410);
    assert_eq!(
        call(reqwest::Method::DELETE, "/admin/orgs/acme", &operator)
            .await
            .unwrap()
            .status(),
        410
    );
}

#[tokio::test]
async fn a_first_prune_over_years_of_rows_goes_in_batches() {
    let app = TestApp::spawn().await;
    let rows = 2 * store::retention::BATCH + 7;
    let sql = format!(
        "with recursive n(i) as (select 1 union all select i + 1 from n where i < {rows}) \
         insert into received_activities (ap_id, received_at) select 'https://old.example/a/' || cast(i as text), 0 from n"
    );
    match &app.state.db {
        store::Db::Sqlite(pool, _) => sqlx::query(&sql).execute(pool).await.unwrap().rows_affected(),
        store::Db::Postgres(pool) => sqlx::query(&sql).execute(pool).await.unwrap().rows_affected(),
    };
    let pruned = service::retention::prune(&app.state).await.unwrap();
    assert_eq!(pruned.activity_ids, rows as u64);
    assert_eq!(service::retention::prune(&app.state).await.unwrap().activity_ids, 0);
}
