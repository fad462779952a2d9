//! Expertise profiles and the directory: rendering for Mastodon, consent, faceted search with
//! counts and cursors, open data round trips, remote organisations.

use serde_json::{Value, json};
use understory::{
    service::{self, audit::Who, directory, open_data, profiles},
    state::AppState,
    store,
};

use crate::helpers::{TestApp, client, get_ap, test_clock};

fn rich(themes: &[&str], places: &[&str], kind: &str, listed_in: &str) -> Value {
    json!({
        "summary": "We know about damp, evictions and digital exclusion in social housing.",
        "listed_in": listed_in, "indexable": true,
        "kinds": [kind], "themes": themes, "places": places, "communities": ["social-housing-tenants"],
        "ways_of_working": ["community-organising"], "offers": ["advisory", {"code": "co-design", "terms": "paid"}],
        "languages": ["en", "pl"], "identifiers": ["GB-CHC-1234567"], "website": "https://tenants.example",
        "contacts": [{"role": "partnerships", "email": "partners@tenants.example"}], "founding_year": 2014
    })
}

async fn api(state: &AppState, query: &str) -> Value {
    let q = directory::parse_query(Some(query)).unwrap();
    directory::page_json(state, &directory::search(state, &q).await.unwrap())
}

fn handles(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["handle"].as_str().unwrap().to_owned())
        .collect()
}

fn count(page: &Value, facet: &str, value: &str) -> u64 {
    page["facets"][facet]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["value"] == value)
        .map_or(0, |v| v["count"].as_u64().unwrap())
}

#[tokio::test]
async fn a_rich_profile_reaches_mastodon_the_page_and_the_directory() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    app.create_org("tenants").await;
    profiles::replace(
        s,
        &Who::Cli,
        "tenants",
        rich(
            &["HousingAndHomelessness", "DampAndMould"],
            &["GB-MAN", "Salford"],
            "community-group",
            "public",
        ),
    )
    .await
    .unwrap();

    let (_, actor) = get_ap(&app.actor("tenants")).await;
    assert_eq!(actor["discoverable"], true);
    assert_eq!(actor["indexable"], true);
    assert!(
        actor["summary"]
            .as_str()
            .unwrap()
            .contains("#<span>HousingAndHomelessness</span>"),
        "themes as words in the bio"
    );
    let fields: Vec<&str> = actor["attachment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["Website", "Themes", "Places", "Open to", "Registered", "Contact"]
    );
    assert_eq!(
        actor["knowsAbout"][1]["termCode"], "DampAndMould",
        "an organisation's own theme"
    );
    let (_, tags) = get_ap(actor["featuredTags"].as_str().unwrap()).await;
    assert_eq!(tags["orderedItems"][0]["name"], "#HousingAndHomelessness");
    let (status, ns) = get_ap(&app.url("/ns")).await;
    assert_eq!(
        (status.as_u16(), ns["@context"]["knowsAbout"].as_str()),
        (200, Some("https://schema.org/knowsAbout"))
    );

    let html = client()
        .get(app.url("/@tenants"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<script type=\"application/ld+json\">") && html.contains("og:title"),
        "public pages carry JSON-LD and OpenGraph"
    );
    assert!(!html.contains("noindex"));
    assert!(html.contains("Housing and homelessness") && html.contains("Community organising"));

    let page = api(s, "theme=HousingAndHomelessness").await;
    assert_eq!(handles(&page), vec!["tenants"]);
    let result = &page["results"][0];
    assert_eq!(
        result["acct"],
        format!("@tenants@{}", app.base.trim_start_matches("http://"))
    );
    assert_eq!(result["url"], app.url("/@tenants"));
    assert_eq!(result["places"][0], json!({"code": "GB-MAN", "name": "Manchester"}));
    assert_eq!(
        handles(&api(s, "place=GB").await),
        vec!["tenants"],
        "a country includes its subdivisions"
    );
    assert_eq!(handles(&api(s, "place=gb-man&kind=community-group&offer=co-design&language=pl&community=social-housing-tenants&way=community-organising").await), vec!["tenants"]);
    assert_eq!(
        handles(&api(s, "q=evict").await),
        vec!["tenants"],
        "prefix words in the summary"
    );
    assert_eq!(
        handles(&api(s, "q=homelessness").await),
        vec!["tenants"],
        "theme labels"
    );
    assert_eq!(handles(&api(s, "q=salford").await), vec!["tenants"], "free-text places");
    assert!(handles(&api(s, "q=volcano").await).is_empty());
    assert!(handles(&api(s, "place=FR").await).is_empty());
    assert_eq!(count(&page, "place", "GB"), 1);
    assert_eq!(count(&page, "theme", "DampAndMould"), 1);

    // Mastodon's directory shape lists it (discoverable) with its fields.
    let accounts: Value = client()
        .get(app.url("/api/v1/directory?local=true"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(accounts[0]["username"], "tenants");
    assert_eq!(accounts[0]["fields"][0]["name"], "Website");
}

#[tokio::test]
async fn consent_decides_who_is_listed() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    for (handle, reach) in [
        ("pub", "public"),
        ("home", "home"),
        ("net", "network"),
        ("hidden", "none"),
    ] {
        app.create_org(handle).await;
        profiles::replace(s, &Who::Cli, handle, rich(&["Health"], &["FR"], "charity", reach))
            .await
            .unwrap();
    }
    app.create_org("fresh").await;
    assert_eq!(
        handles(&api(s, "").await),
        vec!["home", "net", "pub"],
        "none (the default) is not listed"
    );
    let accounts: Value = client()
        .get(app.url("/api/v1/directory"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        accounts.as_array().unwrap().len(),
        1,
        "only public organisations are discoverable to Mastodon"
    );
    let html = client()
        .get(app.url("/@home"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<meta name=\"robots\" content=\"noindex\">") && !html.contains("ld+json"));
    // Withdrawing consent takes the organisation out at once.
    let edit = service::orgs::ProfileEdit {
        discoverable: Some(false),
        ..Default::default()
    };
    service::orgs::edit(s, &Who::Cli, "pub", &edit).await.unwrap();
    assert_eq!(handles(&api(s, "").await), vec!["home", "net"]);
    let (_, actor) = get_ap(&app.actor("pub")).await;
    assert_eq!(actor["discoverable"], false);
    let csv = client()
        .get(app.url("/directory.csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with(
        "handle,name,summary,kind,themes,places,ways_of_working,offers,languages,website,identifiers,discoverable"
    ));
    assert!(csv.contains("\nhome,") && !csv.contains("\nhidden,") && !csv.contains("\npub,"));
}

#[tokio::test]
async fn bad_profiles_name_each_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    app.create_org("acme").await;
    profiles::replace(s, &Who::Cli, "acme", rich(&["Health"], &["GB"], "charity", "public"))
        .await
        .unwrap();
    let before = store::orgs::find_by_handle(&s.db, "acme").await.unwrap().unwrap();
    let audit_before = store::audit::list(&s.db, None, 100).await.unwrap().len();
    let bad = json!({"name": "<b>Acme</b>", "listed_in": "everywhere", "kinds": ["alien"], "themes": ["not a tag"],
        "places": ["<script>"], "identifiers": ["12345"], "website": "ftp://x", "languages": ["english please"],
        "offers": [{"code": "advisory", "capacity": "lots"}], "colour": "red"});
    let err = profiles::replace(s, &Who::Cli, "acme", bad)
        .await
        .unwrap_err()
        .to_string();
    for field in ["name", "listed_in", "profile: unknown field `colour`"] {
        assert!(err.contains(field), "{field} missing from {err}");
    }
    let bad = json!({"kinds": ["alien"], "themes": ["not a tag"], "places": ["<script>"], "identifiers": ["12345"],
        "website": "ftp://x", "languages": ["english please"], "offers": [{"code": "advisory", "capacity": "lots"}],
        "themes_extra": null});
    let err = profiles::replace(s, &Who::Cli, "acme", bad)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("themes_extra"), "{err}");
    let bad = json!({"kinds": ["alien"], "themes": ["not a tag"], "places": ["<script>"], "identifiers": ["12345"],
        "website": "ftp://x", "languages": ["english please"], "offers": [{"code": "advisory", "capacity": "lots"}]});
    let err = profiles::replace(s, &Who::Cli, "acme", bad)
        .await
        .unwrap_err()
        .to_string();
    for field in [
        "kinds[0]",
        "themes[0]",
        "places[0]",
        "identifiers[0]",
        "website",
        "languages[0]",
        "offers[0].capacity",
    ] {
        assert!(err.contains(field), "{field} missing from {err}");
    }
    let too_many = json!({"themes": (0..25).map(|i| format!("Theme{i}")).collect::<Vec<_>>()});
    assert!(
        profiles::replace(s, &Who::Cli, "acme", too_many)
            .await
            .unwrap_err()
            .to_string()
            .contains("themes: at most 20")
    );
    let after = store::orgs::find_by_handle(&s.db, "acme").await.unwrap().unwrap();
    assert_eq!(
        (after.profile, after.name, after.listed_in),
        (before.profile, before.name, before.listed_in)
    );
    assert_eq!(
        store::audit::list(&s.db, None, 100).await.unwrap().len(),
        audit_before,
        "nothing recorded either"
    );
}

#[tokio::test]
async fn cursors_page_through_in_a_stable_order() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    let mut rows = String::from(
        "handle,name,summary,kind,themes,places,ways_of_working,offers,languages,website,identifiers,discoverable\n",
    );
    for i in 0..25 {
        rows.push_str(&format!("org{i:02},Org {:02},,charity,Health,GB,,,en,,,true\n", 24 - i));
    }
    let checked = open_data::check_csv(s, rows.as_bytes()).await.unwrap();
    assert!(checked.errors.is_empty(), "{:?}", checked.errors);
    open_data::import(s, &Who::Cli, &checked.rows, |_| {}).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut inserted = false;
    loop {
        let query = format!(
            "theme=Health&limit=10{}",
            cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default()
        );
        let page = api(s, &query).await;
        assert_eq!(page["total"], if inserted { 26 } else { 25 });
        seen.extend(handles(&page));
        if !inserted {
            // A new organisation sorting before the cursor does not shift later pages.
            app.create_org("aaa").await;
            profiles::replace(s, &Who::Cli, "aaa", rich(&["Health"], &["GB"], "charity", "public"))
                .await
                .unwrap();
            inserted = true;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("org{i:02}")).collect();
    assert_eq!(seen, expected, "every organisation once, by name");
    assert!(directory::parse_query(Some("cursor=not-a-cursor")).is_err());
}

#[tokio::test]
async fn csv_import_checks_every_row_and_round_trips() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    app.create_org("taken").await;
    let bad = "handle,name,summary,kind,themes,places,ways_of_working,offers,languages,website,identifiers,discoverable\n\
        good,Good Org,Fine,charity;network,Health;MentalHealth,GB-MAN;Salford,research-and-evidence,advisory;co-design,en;cy,https://good.example,GB-CHC-1,true\n\
        Bad,Bad Org,,charity,Health,GB,,,en,,,true\n\
        taken,Taken,,charity,Health,GB,,,en,,,maybe\n\
        other,Other,,alien,not a tag,GB,,,en,,12345,false\n";
    let checked = open_data::check_csv(s, bad.as_bytes()).await.unwrap();
    let errors = checked.errors.join("\n");
    for expected in [
        "line 3: handle:",
        "line 4: handle: taken is taken",
        "line 4: discoverable:",
        "line 5: kind[0]: unknown code",
        "line 5: themes[0]",
        "line 5: identifiers[0]",
    ] {
        assert!(errors.contains(expected), "{expected} missing from:\n{errors}");
    }
    assert_eq!(checked.rows.len(), 1, "only the good row passes");
    assert!(
        open_data::check_csv(s, b"handle,name\nx,y\n")
            .await
            .unwrap_err()
            .to_string()
            .starts_with("line 1: summary: missing column")
    );

    // The good row imports, exports, and imports again elsewhere to the same CSV.
    open_data::import(s, &Who::Cli, &checked.rows, |_| {}).await.unwrap();
    let exported =
        String::from_utf8(open_data::to_csv(&open_data::orgs_for_export(s, true).await.unwrap()).unwrap()).unwrap();
    assert!(exported.contains("good,Good Org,Fine,charity;network,Health;MentalHealth,GB-MAN;Salford,research-and-evidence,advisory;co-design,en;cy,https://good.example/,GB-CHC-1,true"), "{exported}");
    let other = TestApp::spawn_with(test_clock()).await;
    let again = open_data::check_csv(&other.state, exported.as_bytes()).await.unwrap();
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    open_data::import(&other.state, &Who::Cli, &again.rows, |_| {})
        .await
        .unwrap();
    let round =
        String::from_utf8(open_data::to_csv(&open_data::orgs_for_export(&other.state, true).await.unwrap()).unwrap())
            .unwrap();
    assert_eq!(round, exported);
    let ld = open_data::to_jsonld(s, &open_data::orgs_for_export(s, true).await.unwrap());
    assert_eq!(ld["@graph"][0]["knowsAbout"][0]["termCode"], "Health");
    let hsds = open_data::to_hsds(s, &open_data::orgs_for_export(s, true).await.unwrap());
    assert_eq!(hsds[0]["organization_identifiers"][0]["identifier_scheme"], "GB-CHC");
    assert_eq!(handles(&api(s, "q=good").await), vec!["good"]);
    assert!(
        store::orgs::find_by_handle(&s.db, "good")
            .await
            .unwrap()
            .unwrap()
            .private_key_pem
            .is_none(),
        "imports make no keys"
    );
}

#[tokio::test]
async fn discoverable_remote_organisations_join_the_directory() {
    let clock = test_clock();
    let a = TestApp::spawn_with(clock.clone()).await;
    let b = TestApp::spawn_with(clock).await;
    b.create_org("remote").await;
    b.create_org("shy").await;
    profiles::replace(
        &b.state,
        &Who::Cli,
        "remote",
        rich(&["DigitalInclusion"], &["GB-LND"], "ngo", "public"),
    )
    .await
    .unwrap();
    profiles::replace(
        &b.state,
        &Who::Cli,
        "shy",
        rich(&["DigitalInclusion"], &["GB-LND"], "ngo", "home"),
    )
    .await
    .unwrap();
    service::remote::resolve(&a.state, &b.acct("remote")).await.unwrap();
    service::remote::resolve(&a.state, &b.acct("shy")).await.unwrap();
    let page = api(&a.state, "theme=DigitalInclusion").await;
    assert_eq!(handles(&page), vec!["remote"], "only the discoverable one");
    let domain = b.base.trim_start_matches("http://");
    assert_eq!(count(&page, "instance", domain), 1);
    assert_eq!(
        page["results"][0]["url"],
        b.url("/@remote"),
        "results link to the home instance"
    );
    assert_eq!(page["results"][0]["local"], false);
    assert_eq!(handles(&api(&a.state, "kind=ngo&place=GB").await), vec!["remote"]);
}

#[tokio::test]
async fn changes_written_by_another_process_are_found() {
    let app = TestApp::spawn().await;
    // A second state on the same database, as the CLI would open it.
    let cli = AppState::new(
        app.state.db.clone(),
        (*app.state.config).clone(),
        app.state.clock.clone(),
        understory::service::keys::KeyStore::new(understory::service::keys::KeySource::Generate),
    )
    .unwrap();
    assert!(handles(&api(&app.state, "").await).is_empty());
    let input = service::orgs::NewOrgInput {
        handle: "late".into(),
        name: "Late".into(),
        ..Default::default()
    };
    service::orgs::create(&cli, &Who::Cli, &input).await.unwrap();
    profiles::replace(&cli, &Who::Cli, "late", rich(&["Health"], &["GB"], "charity", "public"))
        .await
        .unwrap();
    assert_eq!(handles(&api(&app.state, "theme=Health").await), vec!["late"]);
    let html = client().get(app.url("/directory?theme=Health")).send().await.unwrap();
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    assert!(html.contains("Late") && html.contains("1 organisation match"));
    let bad = client().get(app.url("/directory?colour=red")).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let json = client()
        .get(app.url("/api/understory/v1/directory?limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 400);
}

/// Issue 24 item 4: a search that found the directory changed used to re-read every changed
/// row (and the last 5 s again) under the index lock, so a search during an import waited for
/// the whole import to be indexed (17.7 s after two 20,000-row imports). Now it applies at most
/// one batch; the rest is read by later searches or the background refresher. A search after
/// an ordinary change still sees it.
#[tokio::test]
async fn a_search_refreshes_at_most_one_batch_and_still_sees_its_own_writes() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    assert_eq!(api(s, "").await["total"], 0, "the first search builds the index");

    let batch = directory::SEARCH_REFRESH_BATCH;
    let n = directory::REFRESH_BATCH + 3 * batch;
    let mut tx = s.db.begin().await.unwrap();
    for i in 0..n {
        let entry = store::directory::Entry {
            actor: format!("https://bulk.example/org{i}"),
            handle: format!("org{i}"),
            domain: "bulk.example".into(),
            profile_url: format!("https://bulk.example/@org{i}"),
            name: format!("Org {i:05}"),
            sort_name: format!("org {i:05}"),
            themes: "Health".into(),
            listed_in: "public".into(),
            listed: true,
            changed_at: s.clock.now_ms(),
            ..Default::default()
        };
        store::directory::upsert(&mut tx, &entry).await.unwrap();
    }
    tx.commit().await.unwrap();

    let before = s.directory.batches_applied();
    assert_eq!(
        api(s, "theme=Health").await["total"],
        batch,
        "one short batch, not the whole change"
    );
    assert_eq!(s.directory.batches_applied(), before + 1);
    assert_eq!(
        api(s, "theme=Health").await["total"],
        2 * batch,
        "the next search reads the next batch"
    );
    assert_eq!(s.directory.batches_applied(), before + 2);
    // What the background refresher runs: the rest, in batches of REFRESH_BATCH.
    directory::refresh_until_current(s).await.unwrap();
    assert_eq!(s.directory.batches_applied(), before + 4);
    assert_eq!(api(s, "theme=Health").await["total"], n, "the refresher caught up");
    assert_eq!(s.directory.batches_applied(), before + 4, "nothing left for the search");

    // Later, an ordinary change: the search after it reads one short batch that has it.
    s.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(api(s, "").await["total"], n);
    app.create_org("tenants").await;
    profiles::replace(
        s,
        &Who::Cli,
        "tenants",
        rich(&["HousingAndHomelessness"], &["GB-MAN"], "charity", "public"),
    )
    .await
    .unwrap();
    let before = s.directory.batches_applied();
    assert_eq!(handles(&api(s, "theme=HousingAndHomelessness").await), vec!["tenants"]);
    assert_eq!(api(s, "").await["total"], n + 1);
    assert_eq!(s.directory.batches_applied(), before + 1);
}
