//! Accounts: an operator bootstraps from the CLI's use cases, invites an owner who invites an
//! editor; tokens work inside their scope and are refused outside it; every change is audited.

use reqwest::Method;
use serde_json::{Value, json};
use understory::service::{
    self,
    accounts::{self, Role},
    audit::Who,
    tokens::{self, Scope},
};

use crate::{
    helpers::{TestApp, client, test_clock},
    smtp::SmtpSink,
};

struct Api<'a> {
    app: &'a TestApp,
    token: String,
}

impl Api<'_> {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = client()
            .request(method, self.app.url(&format!("/api/understory/v1{path}")))
            .header("authorization", format!("Bearer {}", self.token));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> u16 {
        self.call(Method::GET, path, None).await.0
    }
}

async fn set_password(app: &TestApp, link: &str, password: &str, confirm: &str) -> (u16, String) {
    let path = link.strip_prefix(&app.base).unwrap();
    let r = client()
        .post(app.url(path))
        .form(&[("password", password), ("confirm", confirm)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn operator_owner_editor_and_every_scope_boundary() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    // The operator bootstraps from the CLI (these are the CLI's use cases).
    let (_, link) = accounts::create_user(s, &Who::Cli, "Op@Example.org", true, None)
        .await
        .unwrap();
    assert!(link.starts_with(&app.url("/login/link/")));
    assert_eq!(
        set_password(&app, &link, "a long enough password", "a long enough password")
            .await
            .0,
        200
    );
    assert_eq!(
        set_password(&app, &link, "a long enough password", "a long enough password")
            .await
            .0,
        410,
        "links work once"
    );
    let (_, op_token) = tokens::create(s, &Who::Cli, "op@example.org", &Scope::Operator, Some("ops"))
        .await
        .unwrap();
    let op = Api {
        app: &app,
        token: op_token,
    };

    let (status, _) = op
        .call(
            Method::POST,
            "/admin/orgs",
            Some(json!({"handle": "acme", "name": "Acme Aid"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        op.call(
            Method::POST,
            "/admin/orgs",
            Some(json!({"handle": "other", "name": "Other"}))
        )
        .await
        .0,
        201
    );
    let (status, body) = op
        .call(
            Method::POST,
            "/admin/users",
            Some(json!({"email": "owner@example.org", "org": "acme", "role": "owner"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body["sign_in_link"].as_str().unwrap().contains("/login/link/"),
        "no mail set up: the link comes back"
    );

    let (_, owner_token) = tokens::create(s, &Who::Cli, "owner@example.org", &Scope::Org("acme".into()), None)
        .await
        .unwrap();
    let owner = Api {
        app: &app,
        token: owner_token,
    };
    let (status, body) = owner
        .call(
            Method::POST,
            "/orgs/acme/members",
            Some(json!({"email": "ed@example.org", "role": "editor"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, editor_token) = tokens::create(
        s,
        &Who::Cli,
        "ed@example.org",
        &Scope::Org("acme".into()),
        Some("laptop"),
    )
    .await
    .unwrap();
    let editor = Api {
        app: &app,
        token: editor_token,
    };

    // The editor works inside the organisation.
    let (status, posted) = editor
        .call(
            Method::POST,
            "/orgs/acme/updates",
            Some(json!({"text": "Hello #Housing", "lang": "en"})),
        )
        .await;
    assert_eq!(status, 201, "{posted}");
    let (status, edited) = editor
        .call(Method::PATCH, "/orgs/acme", Some(json!({"summary": "Housing advice"})))
        .await;
    assert_eq!((status, edited["summary"].as_str()), (200, Some("Housing advice")));
    assert_eq!(editor.get("/orgs/acme").await, 200);
    assert_eq!(editor.get("/orgs/acme/followers?state=pending").await, 200);
    // ... and nowhere else.
    assert_eq!(editor.get("/orgs/acme/audit").await, 403, "audit is for owners");
    assert_eq!(editor.get("/orgs/acme/members").await, 403);
    assert_eq!(
        editor
            .call(
                Method::POST,
                "/orgs/acme/members",
                Some(json!({"email": "x@example.org", "role": "owner"}))
            )
            .await
            .0,
        403
    );
    assert_eq!(editor.get("/orgs/other").await, 403);
    assert_eq!(
        editor
            .call(Method::POST, "/orgs/other/updates", Some(json!({"text": "not mine"})))
            .await
            .0,
        403
    );
    assert_eq!(
        editor
            .call(Method::PATCH, "/orgs/other", Some(json!({"name": "Taken over"})))
            .await
            .0,
        403
    );
    assert_eq!(editor.get("/admin/users").await, 403);
    assert_eq!(
        editor
            .call(
                Method::POST,
                "/admin/orgs",
                Some(json!({"handle": "mine", "name": "Mine"}))
            )
            .await
            .0,
        403
    );
    assert_eq!(editor.get("/admin/audit").await, 403);
    // The owner cannot use operator endpoints either; the operator cannot act for an organisation.
    assert_eq!(owner.get("/admin/users").await, 403);
    assert_eq!(
        op.call(Method::POST, "/orgs/acme/updates", Some(json!({"text": "hi"})))
            .await
            .0,
        403
    );
    // Tokens cannot be made outside a user's roles.
    assert!(matches!(
        tokens::create(s, &Who::Cli, "ed@example.org", &Scope::Org("other".into()), None).await,
        Err(service::Error::Forbidden(_))
    ));
    assert!(matches!(
        tokens::create(s, &Who::Cli, "ed@example.org", &Scope::Operator, None).await,
        Err(service::Error::Forbidden(_))
    ));

    // Every change is in the audit log, attributed, with before and after for edits.
    let (status, log) = owner.call(Method::GET, "/orgs/acme/audit", None).await;
    assert_eq!(status, 200);
    let entries = log.as_array().unwrap();
    let find = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {log}"))
    };
    assert_eq!(find("update.publish")["actor"], "ed@example.org");
    assert_eq!(find("profile.edit")["details"]["before"]["summary"], "");
    assert_eq!(find("profile.edit")["details"]["after"]["summary"], "Housing advice");
    assert_eq!(find("member.add")["actor"], "owner@example.org");
    assert_eq!(find("org.create")["actor"], "op@example.org");
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "token.create" && e["actor"] == "cli")
    );
    assert!(
        entries.iter().all(|e| e["org"] == "acme"),
        "owners see their organisation only"
    );
    let (_, all) = op.call(Method::GET, "/admin/audit", None).await;
    assert!(all.as_array().unwrap().iter().any(|e| e["org"] == "other"));
    assert!(all.as_array().unwrap().iter().any(|e| e["action"] == "user.create"));

    // Removing the editor from the organisation stops their token at once.
    assert_eq!(
        owner
            .call(Method::DELETE, "/orgs/acme/members/ed@example.org", None)
            .await
            .0,
        204
    );
    assert_eq!(editor.get("/orgs/acme").await, 401);
    // The last owner stays.
    assert_eq!(
        owner
            .call(Method::DELETE, "/orgs/acme/members/owner@example.org", None)
            .await
            .0,
        409
    );
}

#[tokio::test]
async fn tokens_are_refused_when_missing_wrong_or_revoked() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    app.create_org("acme").await;
    accounts::create_user(s, &Who::Cli, "ann@example.org", false, Some(("acme", Role::Owner)))
        .await
        .unwrap();
    let (id, secret) = tokens::create(s, &Who::Cli, "ann@example.org", &Scope::Org("acme".into()), None)
        .await
        .unwrap();
    let ann = Api {
        app: &app,
        token: secret.clone(),
    };
    assert_eq!(ann.get("/me").await, 200);

    let bare = client().get(app.url("/api/understory/v1/me")).send().await.unwrap();
    assert_eq!(bare.status(), 401);
    assert_eq!(bare.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        Api {
            app: &app,
            token: "ust_nope".into()
        }
        .get("/me")
        .await,
        401
    );

    // Bad bodies name the problem and change nothing.
    let cases = [
        json!({"text": "hi", "colour": "red"}),
        json!({"lang": "en"}),
        json!({"text": "   "}),
        json!({"text": "hi", "lang": "not a language"}),
    ];
    for body in cases {
        let (status, answer) = ann.call(Method::POST, "/orgs/acme/updates", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let raw = client()
        .post(app.url("/api/understory/v1/orgs/acme/updates"))
        .header("authorization", format!("Bearer {secret}"))
        .header("content-type", "text/plain")
        .body("text=hi")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let (status, _) = ann
        .call(
            Method::POST,
            "/orgs/acme/members",
            Some(json!({"email": "not-an-email", "role": "editor"})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = ann
        .call(
            Method::POST,
            "/orgs/acme/members",
            Some(json!({"email": "b@example.org", "role": "admin"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(understory::store::posts::count(&s.db, None).await.unwrap(), 0);

    assert_eq!(ann.call(Method::DELETE, &format!("/tokens/{id}"), None).await.0, 204);
    assert_eq!(ann.get("/me").await, 401, "a revoked token stops working");
    // The last owner of an organisation cannot be removed.
    assert!(matches!(
        accounts::remove_user(s, &Who::Cli, "ann@example.org").await,
        Err(service::Error::Conflict(_))
    ));
}

#[tokio::test]
async fn removed_users_lose_their_tokens() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    app.create_org("acme").await;
    accounts::create_user(s, &Who::Cli, "own@example.org", false, Some(("acme", Role::Owner)))
        .await
        .unwrap();
    accounts::create_user(s, &Who::Cli, "ed@example.org", false, Some(("acme", Role::Editor)))
        .await
        .unwrap();
    let (_, secret) = tokens::create(s, &Who::Cli, "ed@example.org", &Scope::Org("acme".into()), None)
        .await
        .unwrap();
    let ed = Api {
        app: &app,
        token: secret,
    };
    assert_eq!(ed.get("/orgs/acme").await, 200);
    accounts::remove_user(s, &Who::Cli, "ed@example.org").await.unwrap();
    assert_eq!(ed.get("/orgs/acme").await, 401);
    // The address, password and second factor are erased: the account is unknown by its email.
    assert!(matches!(
        accounts::reset_password(s, &Who::Cli, "ed@example.org").await,
        Err(service::Error::NotFound(_))
    ));
    let row = understory::store::users::find_by_email(&s.db, "ed@example.org")
        .await
        .unwrap();
    assert!(row.is_none());
    assert!(matches!(
        accounts::create_user(s, &Who::Cli, "own@example.org", false, None).await,
        Err(service::Error::Conflict(_))
    ));
}

#[tokio::test]
async fn sign_in_links_check_passwords_and_expire() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    let (_, link) = accounts::create_user(s, &Who::Cli, "ann@example.org", false, None)
        .await
        .unwrap();
    let page = client().get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<label for=\"password\">"));
    let (status, html) = set_password(&app, &link, "short", "short").await;
    assert_eq!(status, 400);
    assert!(html.contains("at least 12 characters"));
    let (status, html) = set_password(&app, &link, "a long enough password", "a different password").await;
    assert_eq!(status, 400);
    assert!(html.contains("differ"));
    let reset = accounts::reset_password(s, &Who::Cli, "ann@example.org").await.unwrap();
    s.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        client().get(&reset).send().await.unwrap().status(),
        410,
        "reset links last an hour"
    );
    assert_eq!(
        set_password(&app, &reset, "a long enough password", "a long enough password")
            .await
            .0,
        410
    );
    assert_eq!(
        set_password(&app, &link, "a long enough password", "a long enough password")
            .await
            .0,
        200,
        "invitations last a week"
    );
    let user = understory::store::users::find_by_email(&s.db, "ann@example.org")
        .await
        .unwrap()
        .unwrap();
    assert!(accounts::verify_password(
        "a long enough password",
        user.password_hash.as_deref().unwrap()
    ));
}

#[tokio::test]
async fn mail_reaches_a_local_smtp_sink() {
    let (sink, url) = SmtpSink::start().await;
    let clock = test_clock();
    let app = TestApp::spawn_with_mail(clock.clone(), &url).await;
    let s = &app.state;
    app.create_org_with("acme", true).await;
    let (_, link) = accounts::create_user(s, &Who::Cli, "ann@example.org", false, Some(("acme", Role::Owner)))
        .await
        .unwrap();
    assert_eq!(service::mail::deliver_due(s).await.unwrap(), 1);
    assert_eq!(service::mail::deliver_due(s).await.unwrap(), 0, "sent once");
    {
        let messages = sink.messages.lock().unwrap();
        assert_eq!(messages.len(), 1);
        assert!(messages[0].contains("To: ann@example.org"));
        assert!(messages[0].contains("Subject: You are invited"));
        assert!(
            messages[0]
                .replace("=\n", "")
                .contains(link.rsplit('/').next().unwrap())
        );
    }
    // A follow request waiting for approval notifies the organisation's staff.
    let b = TestApp::spawn_with(clock).await;
    b.create_org("bob").await;
    service::follows::follow(&b.state, &Who::Cli, "bob", &app.acct("acme"))
        .await
        .unwrap();
    b.deliver_due().await;
    assert_eq!(service::mail::deliver_due(s).await.unwrap(), 1);
    let messages = sink.messages.lock().unwrap();
    assert!(messages[1].contains("asks to follow"), "{}", messages[1]);
}

#[tokio::test]
async fn staff_read_and_replace_the_profile_through_the_api() {
    let app = TestApp::spawn().await;
    let s = &app.state;
    app.create_org("acme").await;
    app.create_org("other").await;
    accounts::create_user(s, &Who::Cli, "ed@example.org", false, Some(("acme", Role::Editor)))
        .await
        .unwrap();
    let (_, secret) = tokens::create(s, &Who::Cli, "ed@example.org", &Scope::Org("acme".into()), None)
        .await
        .unwrap();
    let ed = Api {
        app: &app,
        token: secret,
    };
    let doc = json!({"name": "Acme Aid", "summary": "Advice", "listed_in": "public", "themes": ["Health"], "places": ["GB"],
        "kinds": ["charity"], "offers": [{"code": "advisory", "capacity": "open"}]});
    let (status, body) = ed.call(Method::PUT, "/orgs/acme/profile", Some(doc)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["themes"], json!(["Health"]));
    let (status, body) = ed.call(Method::GET, "/orgs/acme/profile", None).await;
    assert_eq!((status, body["discoverable"].as_bool()), (200, Some(true)));
    let (status, body) = ed
        .call(
            Method::PUT,
            "/orgs/acme/profile",
            Some(json!({"themes": ["no spaces allowed"], "website": "nope"})),
        )
        .await;
    assert_eq!(status, 400);
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("themes[0]") && message.contains("website"),
        "{message}"
    );
    let (_, body) = ed.call(Method::GET, "/orgs/acme/profile", None).await;
    assert_eq!(body["themes"], json!(["Health"]), "nothing saved half-way");
    assert_eq!(
        ed.call(Method::PUT, "/orgs/other/profile", Some(json!({"themes": ["Health"]})))
            .await
            .0,
        403
    );
    let (_, log) = ed.call(Method::GET, "/orgs/acme/profile", None).await;
    assert_eq!(log["name"], "Acme Aid");
}
