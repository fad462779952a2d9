//! The inbox against bad input: each case gets its 4xx and stores nothing. Also likes, boosts,
//! replies and Undo from a real remote instance.

use serde_json::{Value, json};
use understory::{clock::Clock, httpsig::KeyPair, service, service::audit::Who, store};

use crate::helpers::{TestApp, get_ap, notes_of, signed_post, test_clock};

struct Setup {
    a: TestApp,
    b: TestApp,
    clock: Clock,
    bob_key: std::sync::Arc<KeyPair>,
}

impl Setup {
    async fn new() -> Self {
        let clock = test_clock();
        let (a, b) = (
            TestApp::spawn_with(clock.clone()).await,
            TestApp::spawn_with(clock.clone()).await,
        );
        a.create_org("acme").await;
        b.create_org("bob").await;
        b.create_org("carol").await;
        let bob_key = b.key_of("bob").await;
        Self { a, b, clock, bob_key }
    }

    fn bob(&self) -> String {
        self.b.actor("bob")
    }

    fn key_id(&self) -> String {
        format!("{}#main-key", self.bob())
    }

    fn follow(&self, n: u32) -> Value {
        json!({"@context": "https://www.w3.org/ns/activitystreams", "id": format!("{}#follows/{n}", self.bob()),
               "type": "Follow", "actor": self.bob(), "object": self.a.actor("acme")})
    }

    async fn post_as_bob(&self, activity: &Value) -> u16 {
        let body = serde_json::to_vec(activity).unwrap();
        signed_post(
            &self.a.url("/inbox"),
            &body,
            &self.bob_key,
            &self.key_id(),
            self.clock.now_ms(),
        )
        .await
    }

    async fn stored(&self) -> (usize, i64) {
        let followers = self.a.followers("acme", "accepted").await.len();
        (followers, self.a.pending().await)
    }
}

#[tokio::test]
async fn a_signed_follow_is_accepted_once_and_replays_are_not_processed_again() {
    let s = Setup::new().await;
    let follow = s.follow(1);
    assert_eq!(s.post_as_bob(&follow).await, 202);
    assert_eq!(s.stored().await, (1, 1), "one follower, one Accept queued");
    assert_eq!(s.post_as_bob(&follow).await, 202, "a replay is acknowledged");
    assert_eq!(s.stored().await, (1, 1), "and not processed twice");
    assert!(
        store::inbox::seen(&s.a.state.db, follow["id"].as_str().unwrap())
            .await
            .unwrap()
    );
    assert_eq!(s.a.deliver_due().await, 1);
    let accepted = store::follows::following_state(&s.b.state.db, 1, &s.a.actor("acme"))
        .await
        .unwrap();
    assert_eq!(accepted, None, "bob never asked through B, so B ignores the Accept");
}

#[tokio::test]
async fn unsigned_tampered_wrong_key_and_misdated_requests_are_refused() {
    let s = Setup::new().await;
    let body = serde_json::to_vec(&s.follow(2)).unwrap();
    let client = crate::helpers::client();
    let unsigned = client
        .post(s.a.url("/inbox"))
        .header("content-type", "application/activity+json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);

    // Body changed after signing.
    let url = url::Url::parse(&s.a.url("/inbox")).unwrap();
    let headers = understory::httpsig::sign_post(&s.bob_key, &s.key_id(), &url, &body, s.clock.now_ms()).unwrap();
    let mut request = client
        .post(s.a.url("/inbox"))
        .body(serde_json::to_vec(&s.follow(3)).unwrap());
    for (n, v) in headers {
        request = request.header(n, v);
    }
    assert_eq!(request.send().await.unwrap().status(), 401);

    // Signed with a key that is not bob's, under bob's key id.
    let other = KeyPair::generate().unwrap();
    assert_eq!(
        signed_post(&s.a.url("/inbox"), &body, &other, &s.key_id(), s.clock.now_ms()).await,
        401
    );

    // Dated two hours in the past or the future.
    let two_hours = 2 * 3600 * 1000;
    for date in [s.clock.now_ms() - two_hours, s.clock.now_ms() + two_hours] {
        assert_eq!(
            signed_post(&s.a.url("/inbox"), &body, &s.bob_key, &s.key_id(), date).await,
            401
        );
    }
    assert_eq!(s.stored().await, (0, 0));
}

#[tokio::test]
async fn the_signer_must_be_the_actor_and_objects_must_come_from_its_host() {
    let s = Setup::new().await;
    // bob signs an activity claiming to be carol.
    let mut follow = s.follow(4);
    follow["actor"] = json!(s.b.actor("carol"));
    follow["id"] = json!(format!("{}#follows/4", s.b.actor("carol")));
    assert_eq!(s.post_as_bob(&follow).await, 401);

    // A Create whose object lives on another host, and one spoofing a local object.
    for object_id in [
        "http://elsewhere.example/notes/1".to_owned(),
        s.a.url("/orgs/acme/updates/1"),
    ] {
        let create = json!({"id": format!("{}#create/{object_id}", s.bob()), "type": "Create", "actor": s.bob(),
            "object": {"id": object_id, "type": "Note", "attributedTo": s.bob(), "content": "hi",
                       "tag": [{"type": "Mention", "href": s.a.actor("acme")}]}});
        assert_eq!(s.post_as_bob(&create).await, 403, "{object_id}");
    }
    // An activity id on another host than the actor.
    let mut foreign = s.follow(5);
    foreign["id"] = json!("http://elsewhere.example/follows/5");
    assert_eq!(s.post_as_bob(&foreign).await, 400);
    assert_eq!(s.stored().await, (0, 0));
}

#[tokio::test]
async fn malformed_activities_get_a_4xx_with_a_reason() {
    let s = Setup::new().await;
    let bob = s.bob();
    let cases = [
        (
            json!({"id": format!("{bob}#x/1"), "type": "Frobnicate", "actor": bob, "object": bob}),
            400,
        ),
        (json!({"id": format!("{bob}#x/2"), "type": "Follow", "actor": bob}), 400),
        (
            json!({"type": "Follow", "actor": bob, "object": s.a.actor("acme")}),
            400,
        ),
        (
            json!({"id": format!("{bob}#x/3"), "type": "Follow", "actor": bob, "object": s.a.actor("nobody")}),
            404,
        ),
        (
            json!({"id": format!("{bob}#x/4"), "type": ["Follow"], "actor": 7, "object": s.a.actor("acme")}),
            400,
        ),
        (json!(["not", "an", "object"]), 400),
    ];
    for (activity, expected) in cases {
        assert_eq!(s.post_as_bob(&activity).await, expected, "{activity}");
    }
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    for body in [deep.into_bytes(), vec![0xff, 0xfe, b'{', b'}'], b"{not json".to_vec()] {
        assert_eq!(
            signed_post(&s.a.url("/inbox"), &body, &s.bob_key, &s.key_id(), s.clock.now_ms()).await,
            400
        );
    }
    // Huge collections: 30,000 recipients and 10,000 mentions, each within 1 MiB of JSON.
    let many: Vec<String> = (0..30_000).map(|n| format!("http://x.example/{n}")).collect();
    let create = json!({"id": format!("{bob}#x/5"), "type": "Create", "actor": bob, "to": many,
        "object": {"id": format!("{bob}/notes/5"), "type": "Note", "attributedTo": bob, "content": "hi"}});
    assert_eq!(s.post_as_bob(&create).await, 400);
    let mentions: Vec<Value> = (0..10_000)
        .map(|_| json!({"type": "Mention", "href": s.a.actor("acme")}))
        .collect();
    let create = json!({"id": format!("{bob}#x/6"), "type": "Create", "actor": bob,
        "object": {"id": format!("{bob}/notes/6"), "type": "Note", "attributedTo": bob, "content": "hi", "tag": mentions}});
    assert_eq!(s.post_as_bob(&create).await, 400);
    let huge = vec![b' '; 1024 * 1024 + 1];
    assert_eq!(
        signed_post(&s.a.url("/inbox"), &huge, &s.bob_key, &s.key_id(), s.clock.now_ms()).await,
        413
    );
    assert_eq!(s.stored().await, (0, 0));
    // Nothing of the refused Follow of a missing organisation was remembered.
    assert!(!store::inbox::seen(&s.a.state.db, &format!("{bob}#x/3")).await.unwrap());
}

#[tokio::test]
async fn likes_boosts_replies_and_undo_are_recorded() {
    let s = Setup::new().await;
    let post = service::posts::publish(&s.a.state, &Who::Cli, "acme", "Report out", None)
        .await
        .unwrap();
    let note = s.a.url(&format!("/orgs/acme/updates/{}", post.id));
    let bob = s.bob();
    let like = json!({"id": format!("{bob}#likes/1"), "type": "Like", "actor": bob, "object": note});
    let boost = json!({"id": format!("{bob}#boosts/1"), "type": "Announce", "actor": bob, "object": note});
    assert_eq!(s.post_as_bob(&like).await, 202);
    assert_eq!(s.post_as_bob(&boost).await, 202);
    let (_, doc) = get_ap(&note).await;
    assert_eq!(doc["likes"]["totalItems"], 1);
    assert_eq!(doc["shares"]["totalItems"], 1);
    let undo = json!({"id": format!("{bob}#undo/1"), "type": "Undo", "actor": bob, "object": like});
    assert_eq!(s.post_as_bob(&undo).await, 202);
    let (_, doc) = get_ap(&note).await;
    assert_eq!(doc["likes"]["totalItems"], 0);

    let reply_id = format!("{bob}/notes/1");
    let reply = json!({"id": format!("{bob}#create/1"), "type": "Create", "actor": bob, "object": {
        "id": reply_id, "type": "Note", "attributedTo": bob, "inReplyTo": note,
        "content": "<p>Great <script>alert(1)</script><a href=\"javascript:x\">work</a></p>", "published": "2026-03-01T12:00:00Z"}});
    assert_eq!(s.post_as_bob(&reply).await, 202);
    let org = store::orgs::find_by_handle(&s.a.state.db, "acme")
        .await
        .unwrap()
        .unwrap();
    let notes = store::inbox::notes_for(&s.a.state.db, org.id, 10).await.unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].reason, "reply");
    assert!(
        !notes[0].content_html.contains("script") && !notes[0].content_html.contains("javascript"),
        "{}",
        notes[0].content_html
    );

    // carol (same host) may not delete bob's reply.
    let carol = s.b.actor("carol");
    let carol_key = s.b.key_of("carol").await;
    let delete = json!({"id": format!("{carol}#delete/1"), "type": "Delete", "actor": carol, "object": reply_id});
    let body = serde_json::to_vec(&delete).unwrap();
    assert_eq!(
        signed_post(
            &s.a.url("/inbox"),
            &body,
            &carol_key,
            &format!("{carol}#main-key"),
            s.clock.now_ms()
        )
        .await,
        403
    );
    assert_eq!(
        store::inbox::notes_for(&s.a.state.db, org.id, 10).await.unwrap().len(),
        1
    );
    let delete = json!({"id": format!("{bob}#delete/1"), "type": "Delete", "actor": bob, "object": {"id": reply_id, "type": "Tombstone"}});
    assert_eq!(s.post_as_bob(&delete).await, 202);
    assert!(
        store::inbox::notes_for(&s.a.state.db, org.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn undo_follow_and_actor_deletion_remove_the_follower() {
    let s = Setup::new().await;
    let follow = s.follow(9);
    assert_eq!(s.post_as_bob(&follow).await, 202);
    assert_eq!(s.a.followers("acme", "accepted").await.len(), 1);
    let undo = json!({"id": format!("{}#undo/9", s.bob()), "type": "Undo", "actor": s.bob(), "object": follow});
    assert_eq!(s.post_as_bob(&undo).await, 202);
    assert!(s.a.followers("acme", "accepted").await.is_empty());

    assert_eq!(s.post_as_bob(&s.follow(10)).await, 202);
    // bob also replied to one of acme's updates: the reply goes with bob's account.
    let post = service::posts::publish(&s.a.state, &Who::Cli, "acme", "Winter appeal", None)
        .await
        .unwrap();
    let bob = s.bob();
    let reply = json!({"id": format!("{bob}#create/7"), "type": "Create", "actor": bob, "object": {
        "id": format!("{bob}/notes/7"), "type": "Note", "attributedTo": bob,
        "inReplyTo": s.a.url(&format!("/orgs/acme/updates/{}", post.id)),
        "content": "<p>Count us in</p>", "published": "2026-03-01T12:00:00Z"}});
    assert_eq!(s.post_as_bob(&reply).await, 202);
    assert_eq!(notes_of(&s.a, "acme").await.len(), 1);
    let delete = json!({"id": format!("{}#delete", s.bob()), "type": "Delete", "actor": s.bob(), "object": s.bob()});
    assert_eq!(s.post_as_bob(&delete).await, 202);
    assert!(s.a.followers("acme", "accepted").await.is_empty());
    assert!(notes_of(&s.a, "acme").await.is_empty(), "bob's reply went with bob");
}
