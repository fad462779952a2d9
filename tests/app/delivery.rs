//! The persistent outbox: shared inboxes deduplicated, retries with backoff, one failing
//! instance never holding up the others, and signatures checked by the receiver.

use chrono::Duration;
use std::sync::Arc;
use understory::{
    delivery::worker::backoff_ms,
    httpsig::{PublicKey, SignatureHeader, verify::RequestParts},
    service,
    service::audit::Who,
    store,
};

use crate::helpers::{Sink, TestApp, add_follower};

#[tokio::test]
async fn followers_on_one_server_get_one_delivery_to_the_shared_inbox() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let (sink, base) = Sink::start().await;
    for name in ["ann", "ben", "cat"] {
        add_follower(&app, &org, &base, name, true).await;
    }
    add_follower(&app, &org, &base, "dan", false).await;
    service::posts::publish(&app.state, &Who::Cli, "acme", "One post", None)
        .await
        .unwrap();
    assert_eq!(app.deliver_due().await, 2, "shared inbox once, plus dan's own inbox");
    assert_eq!(sink.bodies().len(), 2);
    assert_eq!(app.pending().await, 0);

    // The receiver can verify every request with the organisation's public key.
    let public = PublicKey::from_pem(app.key_of("acme").await.public_pem()).unwrap();
    for (headers, body) in sink.received.lock().unwrap().iter() {
        let sig = SignatureHeader::from_headers(headers).unwrap();
        assert_eq!(sig.key_id, format!("{}#main-key", app.actor("acme")));
        sig.check_strength(true).unwrap();
        assert!(headers.get("digest").is_some() && headers.get("date").is_some());
        let parts_inbox = RequestParts {
            method: "post",
            path: "/inbox",
            query: None,
            headers,
            host_fallback: "",
        };
        let parts_dan = RequestParts {
            method: "post",
            path: "/users/dan/inbox",
            query: None,
            headers,
            host_fallback: "",
        };
        assert!(sig.verify(&parts_inbox, &public).is_ok() || sig.verify(&parts_dan, &public).is_ok());
        assert_eq!(body["type"], "Create");
    }
}

#[tokio::test]
async fn an_inbox_answering_500_for_a_while_gets_everything_once_it_recovers() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let (sink, base) = Sink::start().await;
    add_follower(&app, &org, &base, "ann", true).await;
    *sink.script.lock().unwrap() = vec![500, 500, 503];
    for n in 0..3 {
        service::posts::publish(&app.state, &Who::Cli, "acme", &format!("Post {n}"), None)
            .await
            .unwrap();
    }
    for failures in 1..=3 {
        assert_eq!(
            app.deliver_due().await,
            1,
            "one attempt: the first fails and the rest are handed back untried"
        );
        assert_eq!(app.deliver_due().await, 0, "nothing is due during the backoff");
        assert_eq!(
            store::outbox::instance_fail_count(&app.state.db, base.trim_start_matches("http://"))
                .await
                .unwrap(),
            failures
        );
        app.state.clock.advance(Duration::milliseconds(backoff_ms(failures)));
    }
    assert_eq!(app.deliver_due().await, 3);
    let bodies = sink.bodies();
    let texts: Vec<String> = bodies
        .iter()
        .map(|b| b["object"]["content"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        texts,
        vec!["<p>Post 0</p>", "<p>Post 1</p>", "<p>Post 2</p>"],
        "in order, each once"
    );
    assert_eq!(app.pending().await, 0);
    assert_eq!(
        store::outbox::instance_fail_count(&app.state.db, base.trim_start_matches("http://"))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_failing_instance_does_not_hold_up_the_others() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let (down, down_base) = Sink::start().await;
    let (up, up_base) = Sink::start().await;
    add_follower(&app, &org, &down_base, "ann", true).await;
    add_follower(&app, &org, &up_base, "ben", true).await;
    *down.script.lock().unwrap() = vec![500; 10];
    service::posts::publish(&app.state, &Who::Cli, "acme", "First", None)
        .await
        .unwrap();
    app.deliver_due().await;
    service::posts::publish(&app.state, &Who::Cli, "acme", "Second", None)
        .await
        .unwrap();
    app.deliver_due().await;
    assert_eq!(up.bodies().len(), 2);
    assert!(down.bodies().is_empty());
    let status = store::outbox::status(&app.state.db).await.unwrap();
    assert_eq!((status.pending, status.failing_instances), (2, 1));
}

/// A server that accepts connections and never answers, until it is told to hang up.
async fn hanging_server() -> (String, tokio::sync::oneshot::Sender<()>, Arc<tokio::sync::Notify>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let (hang_up, mut told) = tokio::sync::oneshot::channel::<()>();
    let connected = Arc::new(tokio::sync::Notify::new());
    let signal = connected.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((socket, _)) = accepted {
                        held.push(socket);
                        signal.notify_one();
                    }
                }
                _ = &mut told => break,
            }
        }
        drop(held);
    });
    (base, hang_up, connected)
}

#[tokio::test]
async fn an_instance_that_never_answers_does_not_delay_the_others_and_loses_nothing() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let (hung_base, hang_up, connected) = hanging_server().await;
    let (up, up_base) = Sink::start().await;
    add_follower(&app, &org, &hung_base, "ann", true).await;
    add_follower(&app, &org, &up_base, "ben", true).await;
    service::posts::publish(&app.state, &Who::Cli, "acme", "Flood warning", None)
        .await
        .unwrap();
    let state = app.state.clone();
    let pass = tokio::spawn(async move { understory::delivery::worker::deliver_due(&state).await });
    // The healthy instance gets its delivery while the other still holds its request open.
    connected.notified().await;
    while up.bodies().is_empty() {
        up.arrived.notified().await;
    }
    assert!(!pass.is_finished(), "the pass is still waiting on the silent instance");
    // It hangs up without answering: a retry, not a loss.
    hang_up.send(()).unwrap();
    assert_eq!(pass.await.unwrap().unwrap(), 2);
    let status = store::outbox::status(&app.state.db).await.unwrap();
    assert_eq!((status.pending, status.failing_instances), (1, 1));
    assert_eq!(up.bodies().len(), 1);
}

#[tokio::test]
async fn a_permanent_refusal_is_not_retried() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let (sink, base) = Sink::start().await;
    add_follower(&app, &org, &base, "ann", true).await;
    *sink.script.lock().unwrap() = vec![410];
    service::posts::publish(&app.state, &Who::Cli, "acme", "Gone?", None)
        .await
        .unwrap();
    assert_eq!(app.deliver_due().await, 1);
    assert_eq!(app.pending().await, 0);
    assert!(sink.bodies().is_empty());
}

#[tokio::test]
async fn a_429_waits_at_least_as_long_as_retry_after_says() {
    let app = TestApp::spawn().await;
    let org = app.create_org("acme").await;
    let (sink, base) = Sink::start().await;
    add_follower(&app, &org, &base, "ann", true).await;
    *sink.script.lock().unwrap() = vec![429];
    service::posts::publish(&app.state, &Who::Cli, "acme", "Slow down", None)
        .await
        .unwrap();
    assert_eq!(app.deliver_due().await, 1);
    app.state.clock.advance(Duration::milliseconds(backoff_ms(1)));
    assert_eq!(
        app.deliver_due().await,
        1,
        "no Retry-After given: the normal backoff applies"
    );
    assert_eq!(sink.bodies().len(), 1);
}

#[tokio::test]
async fn a_publish_waits_for_a_locked_database_and_loses_nothing() {
    let app = TestApp::spawn().await;
    let Some(url) = app.sqlite_url() else {
        return; // PostgreSQL has row locks: nothing to wait for.
    };
    let org = app.create_org("acme").await;
    let (sink, base) = Sink::start().await;
    add_follower(&app, &org, &base, "ann", true).await;
    // Another process's writer (a second connection) holds SQLite's write lock.
    use sqlx::Connection;
    let mut other = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut other).await.unwrap();
    let state = app.state.clone();
    let publish =
        tokio::spawn(
            async move { service::posts::publish(&state, &Who::Cli, "acme", "Written while locked", None).await },
        );
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(!publish.is_finished(), "the publish waits for the lock");
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    publish.await.unwrap().unwrap();
    assert_eq!(app.deliver_due().await, 1);
    assert_eq!(sink.bodies().len(), 1, "the update written after the wait is delivered");
}
