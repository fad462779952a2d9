//! Web sign-in over real HTTP: CSRF, wrong passwords, rate limits, TOTP (required for
//! operators), sessions, sign out everywhere.

use reqwest::{StatusCode, header};
use understory::{
    domain::totp,
    service::{accounts, audit::Who},
};

use crate::helpers::{TestApp, client, user_with_password};

fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (kv, _) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=')?;
            (k == name && !val.is_empty()).then(|| val.to_owned())
        })
}

/// Loads the form, then posts credentials; returns the response.
async fn sign_in(app: &TestApp, email: &str, password: &str, code: &str) -> reqwest::Response {
    let form = client().get(app.url("/login")).send().await.unwrap();
    let csrf_cookie = cookie_of(&form, "understory_csrf").unwrap();
    let csrf = field(&form.text().await.unwrap(), "csrf");
    client()
        .post(app.url("/login"))
        .header(header::COOKIE, format!("understory_csrf={csrf_cookie}"))
        .form(&[
            ("email", email),
            ("password", password),
            ("code", code),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, path: &str, session: &str) -> reqwest::Response {
    client()
        .get(app.url(path))
        .header(header::COOKIE, format!("understory_session={session}"))
        .send()
        .await
        .unwrap()
}

fn location(r: &reqwest::Response) -> &str {
    r.headers()[header::LOCATION].to_str().unwrap()
}

/// An operator with a password and a second factor already on; returns the TOTP secret.
async fn operator_with_totp(app: &TestApp, email: &str, seed: u8) -> [u8; 20] {
    user_with_password(app, email, false, None).await;
    let op = understory::store::users::find_by_email(&app.state.db, email)
        .await
        .unwrap()
        .unwrap();
    let mut tx = app.state.db.begin().await.unwrap();
    understory::store::users::set_operator(&mut tx, op.id, true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let secret = [seed; 20];
    understory::store::sessions::set_totp_secret(&app.state.db, op.id, &totp::base32_encode(&secret))
        .await
        .unwrap();
    let mut tx = app.state.db.begin().await.unwrap();
    understory::store::sessions::use_totp_step(&mut tx, op.id, 0, true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    secret
}

#[tokio::test]
async fn operators_sign_in_with_a_second_factor() {
    let app = TestApp::spawn().await;
    user_with_password(&app, "op@example.org", true, None).await;

    let wrong = sign_in(&app, "op@example.org", "not the password", "").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let html = wrong.text().await.unwrap();
    assert!(
        html.contains("The email, password or code is wrong.") && html.contains("value=\"op@example.org\""),
        "keeps what was typed"
    );
    let forged = client()
        .post(app.url("/login"))
        .form(&[
            ("email", "op@example.org"),
            ("password", "a long enough password"),
            ("csrf", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN, "no CSRF cookie, no sign-in");

    let ok = sign_in(&app, "op@example.org", "a long enough password", "").await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&ok),
        "/account/2fa",
        "operators must set up a second factor first"
    );
    let set = ok
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    let first = cookie_of(&ok, "understory_session").unwrap();
    let blocked = get(&app, "/admin", &first).await;
    assert_eq!(
        (blocked.status(), location(&blocked)),
        (StatusCode::SEE_OTHER, "/account/2fa")
    );

    let page = get(&app, "/account/2fa", &first).await.text().await.unwrap();
    let start = page.find("<code id=\"secret\">").unwrap() + "<code id=\"secret\">".len();
    let secret = totp::base32_decode(&page[start..start + page[start..].find('<').unwrap()]).unwrap();
    let csrf = field(&page, "csrf");
    let code = |at: i64| format!("{:06}", totp::code_at(&secret, at / 1000 / 30));
    let post = |path: &'static str, session: String, fields: Vec<(&'static str, String)>| {
        let url = app.url(path);
        async move {
            client()
                .post(url)
                .header(header::COOKIE, format!("understory_session={session}"))
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    let bad = post(
        "/account/2fa",
        first.clone(),
        vec![("code", "000000".into()), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let now = app.state.clock.now_ms();
    let good = post(
        "/account/2fa",
        first.clone(),
        vec![("code", code(now)), ("csrf", csrf.clone())],
    )
    .await;
    assert_eq!((good.status(), location(&good)), (StatusCode::SEE_OTHER, "/admin"));
    let admin = get(&app, "/admin", &first).await;
    assert_eq!(admin.status(), StatusCode::OK);
    assert!(admin.text().await.unwrap().contains("Signed in as op@example.org"));

    // From now on the code is needed, and a code works once.
    assert_eq!(
        sign_in(&app, "op@example.org", "a long enough password", "")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&app, "op@example.org", "a long enough password", &code(now))
            .await
            .status(),
        StatusCode::UNAUTHORIZED,
        "replayed code"
    );
    app.state.clock.advance(chrono::Duration::seconds(30));
    let second = sign_in(
        &app,
        "op@example.org",
        "a long enough password",
        &code(app.state.clock.now_ms()),
    )
    .await;
    assert_eq!((second.status(), location(&second)), (StatusCode::SEE_OTHER, "/admin"));
    let second = cookie_of(&second, "understory_session").unwrap();

    // A form without its CSRF token is refused; sign out everywhere ends both sessions.
    let page = get(&app, "/admin", &second).await.text().await.unwrap();
    let csrf2 = field(&page, "csrf");
    assert_eq!(
        post(
            "/account/sessions/revoke",
            second.clone(),
            vec![("csrf", "forged".into())]
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );
    let out = post("/account/sessions/revoke", second.clone(), vec![("csrf", csrf2)]).await;
    assert_eq!(location(&out), "/login");
    for session in [first, second] {
        let r = get(&app, "/admin", &session).await;
        assert_eq!((r.status(), location(&r)), (StatusCode::SEE_OTHER, "/login"));
    }
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_and_staff_without_2fa_go_straight_in() {
    let app = TestApp::spawn().await;
    user_with_password(&app, "ed@example.org", false, None).await;
    for _ in 0..5 {
        assert_eq!(
            sign_in(&app, "ed@example.org", "wrong wrong wrong", "").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = sign_in(&app, "ed@example.org", "a long enough password", "").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    app.state.clock.advance(chrono::Duration::minutes(16));
    let ok = sign_in(&app, "ed@example.org", "a long enough password", "").await;
    assert_eq!((ok.status(), location(&ok)), (StatusCode::SEE_OTHER, "/admin"));
    let session = cookie_of(&ok, "understory_session").unwrap();
    assert_eq!(get(&app, "/admin", &session).await.status(), StatusCode::OK);
    assert_eq!(
        get(&app, "/admin", "not-a-session").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        sign_in(&app, "nobody@example.org", "a long enough password", "")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
}

/// An editor of `acme` with a password, signed in: their session cookie.
async fn editor_session(app: &TestApp) -> String {
    let (_, link) = accounts::create_user(
        &app.state,
        &Who::Cli,
        "ed@example.org",
        false,
        Some(("acme", accounts::Role::Editor)),
    )
    .await
    .unwrap();
    accounts::set_password_with_link(&app.state, link.rsplit('/').next().unwrap(), "a long enough password")
        .await
        .unwrap();
    let ok = sign_in(app, "ed@example.org", "a long enough password", "").await;
    cookie_of(&ok, "understory_session").unwrap()
}

#[tokio::test]
async fn staff_edit_the_profile_and_publish_from_the_pages() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    app.create_org("other").await;
    let session = editor_session(&app).await;
    let home = get(&app, "/admin", &session).await.text().await.unwrap();
    assert!(home.contains("/admin/orgs/acme") && !home.contains("/admin/orgs/other"));
    let form = get(&app, "/admin/orgs/acme", &session).await;
    assert_eq!(form.status(), StatusCode::OK);
    let html = form.text().await.unwrap();
    assert!(
        html.contains("name=\"themes\" value=\"HousingAndHomelessness\""),
        "vocabularies as choices"
    );
    let csrf = field(&html, "csrf");
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let url = app.url(&path);
        let cookie = format!("understory_session={session}");
        async move {
            client()
                .post(url)
                .header(header::COOKIE, cookie)
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    let bad = post(
        "/admin/orgs/acme".into(),
        vec![
            ("csrf", csrf.clone()),
            ("name", "Acme Aid".into()),
            ("reach", "public".into()),
            ("themes", "Health".into()),
            ("own_themes", "not a tag".into()),
            ("website", "nope".into()),
        ],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains("themes[1]") && html.contains("website"),
        "each bad field is named"
    );
    assert!(
        html.contains("value=\"not a tag\"") && html.contains("value=\"Acme Aid\""),
        "what was typed is kept"
    );
    assert!(html.contains("id=\"themes-Health\" name=\"themes\" value=\"Health\" checked"));
    let good = post(
        "/admin/orgs/acme".into(),
        vec![
            ("csrf", csrf.clone()),
            ("name", "Acme Aid".into()),
            ("reach", "public".into()),
            ("themes", "Health".into()),
            ("own_themes", "DampAndMould".into()),
            ("places", "GB-MAN; Salford".into()),
            ("website", "https://acme.example".into()),
        ],
    )
    .await;
    assert_eq!(good.status(), StatusCode::OK);
    let html = good.text().await.unwrap();
    assert!(html.contains("The profile is saved"));
    assert!(
        html.contains("#<span>DampAndMould</span>"),
        "the Mastodon preview shows the new theme"
    );
    let org = understory::store::orgs::find_by_handle(&app.state.db, "acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((org.name.as_str(), org.listed_in.as_str()), ("Acme Aid", "public"));

    // Every other field of the profile from the same form; a bad line is named and kept.
    let everything = |name_map: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "Acme Aid".into()),
            ("reach", "public".into()),
            ("themes", "Health".into()),
            ("offers", "advisory".into()),
            ("terms-advisory", "pro-bono".into()),
            ("capacity-advisory", "limited".into()),
            ("identifiers", "GB-CHC-1234567".into()),
            ("employees", "10-49".into()),
            ("volunteers", "50-249".into()),
            ("networks", "NCVO | https://www.ncvo.org.uk\nSalford CVS".into()),
            ("policy-safeguarding", "https://acme.example/safeguarding".into()),
            ("name_map", name_map.to_owned()),
            ("summary_map", "cy: Cyngor tai".into()),
        ]
    };
    let bad = post("/admin/orgs/acme".into(), everything("Acme in Welsh")).await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.unwrap();
    assert!(html.contains("name_map: line 1"), "the bad line is named");
    assert!(html.contains(">Acme in Welsh</textarea>") && html.contains("value=\"GB-CHC-1234567\""));
    let good = post("/admin/orgs/acme".into(), everything("cy: Cymorth Acme")).await;
    assert_eq!(good.status(), StatusCode::OK);
    let html = good.text().await.unwrap();
    assert!(
        html.contains("<option value=\"pro-bono\" selected>") && html.contains("<option value=\"10-49\" selected>")
    );
    let p = understory::store::orgs::find_by_handle(&app.state.db, "acme")
        .await
        .unwrap()
        .unwrap()
        .profile();
    assert_eq!(p.offers[0].terms.as_deref(), Some("pro-bono"));
    assert_eq!(p.offers[0].capacity.as_deref(), Some("limited"));
    assert_eq!(p.identifiers, ["GB-CHC-1234567"]);
    assert_eq!(
        (p.employees.as_deref(), p.volunteers.as_deref()),
        (Some("10-49"), Some("50-249"))
    );
    assert_eq!(p.networks.len(), 2);
    assert_eq!(p.networks[0].url.as_deref(), Some("https://www.ncvo.org.uk/"));
    assert_eq!(p.policies[0].kind, "safeguarding");
    assert_eq!(p.name_map["cy"], "Cymorth Acme");
    assert_eq!(p.summary_map["cy"], "Cyngor tai");
    let (_, actor) = crate::helpers::get_ap(&app.actor("acme")).await;
    assert_eq!(actor["nameMap"]["cy"], "Cymorth Acme");

    assert_eq!(
        get(&app, "/admin/orgs/other", &session).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post(
            "/admin/orgs/acme".into(),
            vec![("csrf", "forged".into()), ("name", "X".into())]
        )
        .await
        .status(),
        StatusCode::FORBIDDEN
    );

    let empty = post(
        "/admin/orgs/acme/updates".into(),
        vec![("csrf", csrf.clone()), ("text", "   ".into())],
    )
    .await;
    assert_eq!(empty.status(), StatusCode::BAD_REQUEST);
    let published = post(
        "/admin/orgs/acme/updates".into(),
        vec![
            ("csrf", csrf.clone()),
            ("text", "Clinic opens #Housing".into()),
            ("lang", "en".into()),
        ],
    )
    .await;
    assert_eq!(published.status(), StatusCode::OK);
    assert!(published.text().await.unwrap().contains("Clinic opens #Housing"));
    assert_eq!(understory::store::posts::count(&app.state.db, None).await.unwrap(), 1);
    let id = understory::store::posts::list(&app.state.db, org.id, i64::MAX, 1)
        .await
        .unwrap()[0]
        .id;
    let deleted = post(
        format!("/admin/orgs/acme/updates/{id}/delete"),
        vec![("csrf", csrf.clone())],
    )
    .await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert_eq!(understory::store::posts::count(&app.state.db, None).await.unwrap(), 0);
    assert_eq!(
        get(&app, "/admin/orgs/acme/followers", &session).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_organisation_asks_to_join_and_an_operator_approves_on_the_web() {
    let app = TestApp::spawn().await;
    // The operator has a second factor already (set up through the pages in another test).
    let secret = operator_with_totp(&app, "op@example.org", 3).await;

    let bad = client()
        .post(app.url("/join"))
        .form(&[
            ("name", "<b>Acme</b>"),
            ("handle", "Acme"),
            ("email", "nope"),
            ("message", "hi"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let html = bad.text().await.unwrap();
    assert!(
        html.contains("handle:")
            && html.contains("email:")
            && html.contains("name:")
            && html.contains("value=\"Acme\"")
    );
    let ok = client()
        .post(app.url("/join"))
        .form(&[
            ("name", "Acme Aid"),
            ("handle", "acme"),
            ("email", "owner@acme.example"),
            ("message", "Housing charity"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let again = client()
        .post(app.url("/join"))
        .form(&[("name", "Other"), ("handle", "acme"), ("email", "x@acme.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "a pending handle is taken");

    let code = format!("{:06}", totp::code_at(&secret, app.state.clock.now_ms() / 1000 / 30));
    let signed = sign_in(&app, "op@example.org", "a long enough password", &code).await;
    assert_eq!(location(&signed), "/admin");
    let session = cookie_of(&signed, "understory_session").unwrap();
    let page = get(&app, "/admin/joins", &session).await.text().await.unwrap();
    assert!(page.contains("Acme Aid (@acme)"));
    let csrf = field(&page, "csrf");
    let id = page
        .split("/admin/joins/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let approved = client()
        .post(app.url(&format!("/admin/joins/{id}/approve")))
        .header(header::COOKIE, format!("understory_session={session}"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), StatusCode::OK);
    let html = approved.text().await.unwrap();
    assert!(
        html.contains("@acme exists and owner@acme.example is its owner"),
        "{html}"
    );
    let link = html
        .split("<code id=\"link\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(link.contains("/login/link/"));
    // The new owner sets a password through the link and signs in to manage the organisation.
    accounts::set_password_with_link(&app.state, link.rsplit('/').next().unwrap(), "another long password")
        .await
        .unwrap();
    let owner = sign_in(&app, "owner@acme.example", "another long password", "").await;
    let owner = cookie_of(&owner, "understory_session").unwrap();
    assert_eq!(get(&app, "/admin/orgs/acme", &owner).await.status(), StatusCode::OK);
    assert_eq!(
        get(&app, "/admin/joins", &owner).await.status(),
        StatusCode::FORBIDDEN,
        "operators only"
    );
}

#[tokio::test]
async fn the_first_operator_is_created_through_a_one_time_setup_link() {
    let app = TestApp::spawn().await;
    let link = understory::service::setup::link_if_needed(&app.state)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        client()
            .get(app.url("/setup/not-the-secret"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::GONE
    );
    let bad = client()
        .post(&link)
        .form(&[("email", "op@example.org"), ("password", "short"), ("confirm", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST, "password rules apply");
    let ok = client()
        .post(&link)
        .form(&[
            ("email", "op@example.org"),
            ("password", "a long enough password"),
            ("confirm", "a long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!((ok.status(), location(&ok)), (StatusCode::SEE_OTHER, "/login"));
    assert_eq!(
        client().get(&link).send().await.unwrap().status(),
        StatusCode::GONE,
        "the link works once"
    );
    assert!(
        understory::service::setup::link_if_needed(&app.state)
            .await
            .unwrap()
            .is_none(),
        "no new link once an operator exists"
    );
    let signed = sign_in(&app, "op@example.org", "a long enough password", "").await;
    assert_eq!(location(&signed), "/account/2fa");
}

#[tokio::test]
async fn operators_manage_blocks_peers_and_reports_from_their_page() {
    let app = TestApp::spawn().await;
    let secret = operator_with_totp(&app, "op@example.org", 9).await;
    let code = format!("{:06}", totp::code_at(&secret, app.state.clock.now_ms() / 1000 / 30));
    let session = cookie_of(
        &sign_in(&app, "op@example.org", "a long enough password", &code).await,
        "understory_session",
    )
    .unwrap();
    let page = get(&app, "/admin/operator", &session).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = field(&page.text().await.unwrap(), "csrf");
    let act = |action: &'static str, fields: Vec<(&'static str, String)>| {
        let url = app.url(&format!("/admin/operator/{action}"));
        let cookie = format!("understory_session={session}");
        async move {
            client()
                .post(url)
                .header(header::COOKIE, cookie)
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    let blocked = act(
        "block",
        vec![
            ("csrf", csrf.clone()),
            ("domain", "spam.example".into()),
            ("reason", "spam".into()),
        ],
    )
    .await;
    assert_eq!(blocked.status(), StatusCode::OK);
    assert!(blocked.text().await.unwrap().contains("spam.example"));
    assert!(
        understory::store::peers::is_blocked(&app.state.db, "spam.example")
            .await
            .unwrap()
    );
    let bad = act(
        "peer-add",
        vec![("csrf", csrf.clone()), ("domain", "not a domain!".into())],
    )
    .await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("domain:"));
    assert_eq!(
        act(
            "unblock",
            vec![("csrf", csrf.clone()), ("domain", "spam.example".into())]
        )
        .await
        .status(),
        StatusCode::OK
    );
    assert!(
        !understory::store::peers::is_blocked(&app.state.db, "spam.example")
            .await
            .unwrap()
    );
    assert_eq!(
        act("block", vec![("csrf", "forged".into()), ("domain", "x.example".into())])
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    user_with_password(&app, "ed@example.org", false, None).await;
    let ed = cookie_of(
        &sign_in(&app, "ed@example.org", "a long enough password", "").await,
        "understory_session",
    )
    .unwrap();
    assert_eq!(get(&app, "/admin/operator", &ed).await.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn staff_edit_an_update_from_the_pages() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let session = editor_session(&app).await;
    let post = understory::service::posts::publish(&app.state, &Who::Cli, "acme", "First version", None)
        .await
        .unwrap();
    let path = format!("/admin/orgs/acme/updates/{}", post.id);
    let page = get(&app, &path, &session).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("First version"));
    let csrf = field(&html, "csrf");
    let send = |text: &'static str, cw: &'static str| {
        let url = app.url(&path);
        let cookie = format!("understory_session={session}");
        let csrf = csrf.clone();
        async move {
            client()
                .post(url)
                .header(header::COOKIE, cookie)
                .form(&[("text", text), ("content_warning", cw), ("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    let bad = send("   ", "Kept warning").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(
        bad.text().await.unwrap().contains("value=\"Kept warning\""),
        "what was typed is kept"
    );
    app.state.clock.advance(chrono::Duration::minutes(1));
    let ok = send("Second version", "Heads up").await;
    assert_eq!(ok.status(), StatusCode::OK);
    let org = understory::store::orgs::find_by_handle(&app.state.db, "acme")
        .await
        .unwrap()
        .unwrap();
    let stored = understory::store::posts::find(&app.state.db, org.id, post.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.source.as_str(), stored.content_warning.as_deref()),
        ("Second version", Some("Heads up"))
    );
    assert!(stored.updated.is_some());
}

#[tokio::test]
async fn staff_make_and_revoke_api_tokens_on_the_page() {
    let app = TestApp::spawn().await;
    app.create_org("acme").await;
    let session = editor_session(&app).await;
    let page = get(&app, "/admin/orgs/acme/tokens", &session).await;
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    let csrf = field(&page.text().await.unwrap(), "csrf");
    let post = |path: &str, fields: Vec<(&'static str, String)>| {
        client()
            .post(app.url(path))
            .header(header::COOKIE, format!("understory_session={session}"))
            .form(&fields)
            .send()
    };
    // A name too long is refused and kept.
    let long = "n".repeat(101);
    let bad = post(
        "/admin/orgs/acme/tokens",
        vec![("csrf", csrf.clone()), ("name", long.clone())],
    )
    .await
    .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains(&format!("value=\"{long}\"")));
    let made = post(
        "/admin/orgs/acme/tokens",
        vec![("csrf", csrf.clone()), ("name", "newsletter".into())],
    )
    .await
    .unwrap();
    assert_eq!(made.status(), StatusCode::OK);
    let html = made.text().await.unwrap();
    let start = html.find("<code id=\"secret\">").unwrap() + "<code id=\"secret\">".len();
    let secret = html[start..start + html[start..].find('<').unwrap()].to_owned();
    let me = || {
        client()
            .get(app.url("/api/understory/v1/orgs/acme"))
            .bearer_auth(&secret)
            .send()
    };
    assert_eq!(me().await.unwrap().status(), StatusCode::OK);
    // Listed without the secret afterwards.
    let listed = get(&app, "/admin/orgs/acme/tokens", &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(listed.contains("newsletter") && !listed.contains(&secret));
    let id = understory::store::tokens::list(&app.state.db, None).await.unwrap()[0].id;
    let revoked = post(
        &format!("/admin/orgs/acme/tokens/{id}/revoke"),
        vec![("csrf", csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(me().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // A forged form changes nothing.
    let forged = post(
        "/admin/orgs/acme/tokens",
        vec![("csrf", "forged".into()), ("name", "x".into())],
    )
    .await
    .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}
