//! Outgoing requests against hostile addresses and servers: private and loopback targets in
//! production mode (literals, mapped forms and DNS names resolving to them), redirects
//! re-checked at every hop, and response sizes bounded.

use axum::{
    Router,
    http::{StatusCode, header},
    response::IntoResponse,
    routing::get,
};
use understory::{
    config::Mode,
    net::{HttpClient, NetError},
};
use url::Url;

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

#[tokio::test]
async fn production_refuses_private_targets_before_connecting() {
    let client = HttpClient::new(Mode::Production, "test").unwrap();
    for target in [
        "https://127.0.0.1/x",
        "https://10.0.0.1/x",
        "https://172.16.5.4/x",
        "https://192.168.1.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[fe80::1]/x",
        "https://[fd00::1]/x",
        "https://0.0.0.0/x",
        "http://example.org/x",
        "file:///etc/passwd",
    ] {
        let err = client
            .get_bytes(&Url::parse(target).unwrap(), "*/*", 1024)
            .await
            .unwrap_err();
        assert!(matches!(err, NetError::Refused { .. }), "{target}: {err}");
    }
    // A name that resolves to loopback is refused by the resolver at connect time.
    for name in ["https://localhost/x", "https://localhost.:8443/x"] {
        let err = client
            .get_bytes(&Url::parse(name).unwrap(), "*/*", 1024)
            .await
            .unwrap_err();
        let text = format!("{err:?}");
        assert!(!text.contains("Connection refused"), "{name} was connected to: {text}");
    }
}

#[tokio::test]
async fn redirects_are_checked_at_every_hop_and_bodies_are_bounded() {
    let base = serve(
        Router::new()
            .route(
                "/to-ftp",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, "ftp://example.org/x")]) }),
            )
            .route(
                "/to-credentials",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, "http://u:p@localhost/x")]) }),
            )
            .route(
                "/loop",
                get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
            )
            .route("/big", get(|| async { vec![b'x'; 2 * 1024 * 1024].into_response() }))
            .route("/ok", get(|| async { "fine" })),
    )
    .await;
    // Local-test mode allows loopback, so what is refused here is the redirect's own target.
    let client = HttpClient::new(Mode::LocalTest, "test").unwrap();
    let get = |path: &str, max: usize| {
        let url = Url::parse(&format!("{base}{path}")).unwrap();
        let client = client.clone();
        async move { client.get_bytes(&url, "*/*", max).await }
    };
    assert!(matches!(get("/to-ftp", 1024).await, Err(NetError::Refused { .. })));
    assert!(matches!(
        get("/to-credentials", 1024).await,
        Err(NetError::Refused { .. })
    ));
    assert!(matches!(get("/loop", 1024).await, Err(NetError::Invalid { .. })));
    assert!(matches!(get("/big", 1024 * 1024).await, Err(NetError::TooLarge(_))));
    assert_eq!(get("/ok", 1024).await.unwrap(), b"fine");
}
