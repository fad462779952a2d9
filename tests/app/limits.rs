//! Rate limits: 429 with Retry-After per class and client address, honest addresses behind a
//! trusted proxy, exemptions.

use reqwest::{StatusCode, header};
use understory::http::limit::{SEARCH_PER_MINUTE, SIGN_IN_PER_MINUTE, parse_list};

use crate::helpers::{TestApp, client, test_clock};

#[tokio::test]
async fn search_and_sign_in_are_limited_per_client_address() {
    let clock = test_clock();
    let app = TestApp::spawn_configured(clock.clone(), |c| c.rate_limit_exempt = Vec::new()).await;
    let search = |from: &'static str| {
        client()
            .get(app.url("/api/understory/v1/directory?q=housing"))
            .header("x-forwarded-for", from)
            .send()
    };
    for _ in 0..SEARCH_PER_MINUTE {
        assert_eq!(search("203.0.113.5").await.unwrap().status(), StatusCode::OK);
    }
    let limited = search("203.0.113.5").await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: serde_json::Value = limited.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("too many requests"));
    // Behind our (trusted, loopback) proxy another client has its own allowance...
    assert_eq!(search("203.0.113.6").await.unwrap().status(), StatusCode::OK);
    // ...pages that are not searches are not limited...
    assert_eq!(
        client()
            .get(app.url("/healthz"))
            .header("x-forwarded-for", "203.0.113.5")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    // ...and the allowance comes back with time.
    clock.advance(chrono::Duration::seconds(wait as i64));
    assert_eq!(search("203.0.113.5").await.unwrap().status(), StatusCode::OK);

    // Sign-in attempts, whatever their outcome, are limited per address too.
    let login = || {
        client()
            .post(app.url("/login"))
            .header("x-forwarded-for", "198.51.100.9")
            .form(&[("email", "x@example.org"), ("password", "x"), ("csrf", "x")])
            .send()
    };
    for _ in 0..SIGN_IN_PER_MINUTE {
        assert_ne!(login().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(login().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn untrusted_peers_cannot_choose_their_address_and_exempt_ranges_are_not_limited() {
    // Loopback is not a trusted proxy here: X-Forwarded-For is ignored, everyone is 127.0.0.1.
    let app = TestApp::spawn_configured(test_clock(), |c| {
        c.rate_limit_exempt = Vec::new();
        c.trusted_proxies = parse_list("10.9.9.9").unwrap();
    })
    .await;
    for n in 0..SEARCH_PER_MINUTE {
        let r = client()
            .get(app.url("/directory"))
            .header("x-forwarded-for", format!("192.0.2.{}", n % 250))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = client()
        .get(app.url("/directory"))
        .header("x-forwarded-for", "192.0.2.251")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a forged header does not reset the limit"
    );

    let exempt = TestApp::spawn_configured(test_clock(), |c| {
        c.rate_limit_exempt = parse_list("127.0.0.1/32").unwrap();
    })
    .await;
    for _ in 0..=SEARCH_PER_MINUTE {
        let r = client().get(exempt.url("/directory")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
}
