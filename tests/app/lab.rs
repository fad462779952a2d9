//! Federation inside a private network, behind TLS: instances whose public URLs are
//! `https://localhost:PORT`, `https://127.0.0.1:PORT` and `https://[::1]:PORT`, each behind a
//! TLS front (as a reverse proxy would be) holding a certificate from a CA made for the test.
//!
//! With `UNDERSTORY_ALLOW_PRIVATE_NETWORKS` off, an https instance refuses to fetch from or
//! deliver to loopback and private addresses, literal or by name, before any connection is
//! made; with it on (and the CA given by `UNDERSTORY_EXTRA_CA_FILE`) instances on explicit
//! ports federate. Instances with different settings run side by side in this one process: no
//! process-wide switch is involved.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{
    TlsAcceptor,
    rustls::{
        ServerConfig,
        crypto::aws_lc_rs,
        pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer},
    },
};
use understory::{
    clock::Clock,
    config::Config,
    net::{NetError, fetch::PostOutcome, fetch::Signer},
    service::{self, audit::Who},
    store,
};
use url::Url;

use crate::helpers::{TestApp, notes_of, test_clock};

/// A CA made for this test and one server certificate for every loopback name.
struct Lab {
    ca_file: tempfile::NamedTempFile,
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

impl Lab {
    fn new() -> Self {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "Understory lab CA");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let ca_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca_file.path(), ca_cert.pem()).unwrap();
        Self {
            ca_file,
            cert: leaf.der().clone(),
            key: leaf_key.serialize_der(),
        }
    }

    fn acceptor(&self) -> TlsAcceptor {
        let config = ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone())),
            )
            .unwrap();
        TlsAcceptor::from(Arc::new(config))
    }

    /// An instance behind a TLS front listening on `host` (`127.0.0.1` or `[::1]`) and named
    /// `name` in its public URL; `private` is `UNDERSTORY_ALLOW_PRIVATE_NETWORKS`, and the lab
    /// CA is given as `UNDERSTORY_EXTRA_CA_FILE` when `trust` is set.
    async fn instance(&self, clock: &Clock, host: &str, name: &str, private: bool, trust: bool) -> (TestApp, Front) {
        let listener = TcpListener::bind(format!("{host}:0")).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let public_url = format!("https://{name}:{port}");
        let ca_file = self.ca_file.path().to_owned();
        let app = TestApp::spawn_configured(clock.clone(), move |config: &mut Config| {
            config.public_url = public_url.parse().unwrap();
            config.allow_private_networks = private;
            if trust {
                config.extra_ca = understory::config::read_ca_bundle(&ca_file).unwrap();
                config.extra_ca_file = Some(ca_file);
            }
        })
        .await;
        let upstream: SocketAddr = app.base.replace("http://localhost", "127.0.0.1").parse().unwrap();
        let front = Front::start(listener, self.acceptor(), upstream);
        (app, front)
    }
}

/// A TLS-terminating front that forwards to the instance and counts connections.
struct Front {
    connections: Arc<AtomicUsize>,
}

impl Front {
    fn start(listener: TcpListener, acceptor: TlsAcceptor, upstream: SocketAddr) -> Self {
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        Self { connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn https_instances_on_private_addresses_federate_only_when_allowed() {
    let lab = Lab::new();
    let clock = test_clock();
    // Three lab instances: by name, by IPv4 literal and by IPv6 literal, each on its own port.
    let (a, a_front) = lab.instance(&clock, "127.0.0.1", "localhost", true, true).await;
    let (b, b_front) = lab.instance(&clock, "127.0.0.1", "127.0.0.1", true, true).await;
    let (c, c_front) = lab.instance(&clock, "[::1]", "[::1]", true, true).await;
    // And one with the setting off, trusting the same CA: only the address rule differs.
    let (d, _) = lab.instance(&clock, "127.0.0.1", "localhost", false, true).await;
    a.create_org("acme").await;
    b.create_org("bob").await;
    c.create_org("cleo").await;
    d.create_org("dora").await;

    // Off: every target is refused before a connection is made.
    for target in [
        a.acct("acme"),
        b.actor("bob"),
        c.actor("cleo"),
        "https://10.0.0.1/orgs/x".to_owned(),
        "x@10.0.0.1".to_owned(),
    ] {
        let err = service::follows::follow(&d.state, &Who::Cli, "dora", &target)
            .await
            .unwrap_err()
            .to_string();
        // Literals are refused before the request; a name when it resolves, at connect time.
        assert!(
            err.contains("refused address") || err.contains("resolves to internal IP"),
            "{target}: {err}"
        );
    }
    let key = d.key_of("dora").await;
    let key_id = format!("{}#main-key", d.actor("dora"));
    let signer = Signer {
        key: &key,
        key_id: &key_id,
    };
    for inbox in [
        format!("{}/inbox", a.public),
        format!("{}/inbox", b.public),
        format!("{}/inbox", c.public),
        "https://10.0.0.1/inbox".to_owned(),
    ] {
        let inbox = Url::parse(&inbox).unwrap();
        let outcome = d
            .state
            .http
            .post_activity(
                &inbox,
                &signer,
                b"{}",
                clock.now_ms(),
                understory::net::DELIVERY_TIMEOUT,
            )
            .await;
        match outcome {
            Err(NetError::Refused { .. }) => {}
            // A name is refused by the resolver at connect time, which the sender sees as a
            // failed attempt to retry later.
            Ok(PostOutcome::Retry { reason, .. }) => {
                assert_eq!(inbox.domain(), Some("localhost"), "{reason}");
                assert!(reason.contains("internal IP"), "{inbox}: {reason}");
            }
            other => panic!("{inbox}: {other:?}"),
        }
    }
    // The same through the outbox: a delivery to the lab instance stays pending.
    let mut tx = d.state.db.begin().await.unwrap();
    let target = store::outbox::Target {
        inbox: format!("{}/inbox", a.public),
        domain: a.domain(),
    };
    store::outbox::enqueue(
        &mut tx,
        &format!("{}/test/1", d.public),
        None,
        "{}",
        &[target],
        clock.now_ms(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    d.deliver_due().await;
    assert_eq!(d.pending().await, 1, "the delivery was not made");
    assert_eq!(
        (a_front.connections(), b_front.connections(), c_front.connections()),
        (0, 0, 0),
        "nothing reached the lab instances from the instance with the setting off"
    );

    // On: bob (127.0.0.1) and cleo ([::1]) follow acme (localhost) over https on explicit ports.
    for (app, handle) in [(&b, "bob"), (&c, "cleo")] {
        let target = service::follows::follow(&app.state, &Who::Cli, handle, &a.acct("acme"))
            .await
            .unwrap();
        assert_eq!(target, a.actor("acme"));
        assert_eq!(app.deliver_due().await, 1, "{handle}'s Follow goes out");
    }
    assert_eq!(a.deliver_due().await, 2, "two Accepts");
    let mut followers = a.followers("acme", "accepted").await;
    followers.sort();
    assert_eq!(followers, vec![b.actor("bob"), c.actor("cleo")]);
    service::posts::publish(&a.state, &Who::Cli, "acme", "Winter shelter rota is out", None)
        .await
        .unwrap();
    assert_eq!(a.deliver_due().await, 2);
    for (app, handle) in [(&b, "bob"), (&c, "cleo")] {
        let notes = notes_of(app, handle).await;
        assert_eq!(notes.len(), 1, "{handle}");
        assert!(notes[0].ap_id.starts_with(&a.public), "{}", notes[0].ap_id);
        assert!(notes[0].content_html.contains("Winter shelter rota"));
    }
    assert!(a_front.connections() > 0 && b_front.connections() > 0 && c_front.connections() > 0);
    assert_eq!(a.pending().await + b.pending().await + c.pending().await, 0);
}

#[tokio::test]
async fn the_lab_ca_is_needed_and_the_system_store_is_still_used() {
    let lab = Lab::new();
    let clock = test_clock();
    let (a, _) = lab.instance(&clock, "127.0.0.1", "localhost", true, true).await;
    a.create_org("acme").await;
    // Private networks allowed but the lab CA not given: the TLS handshake fails, so
    // certificates are checked as strictly as in production.
    let (e, _) = lab.instance(&clock, "127.0.0.1", "127.0.0.1", true, false).await;
    e.create_org("erin").await;
    let err = service::follows::follow(&e.state, &Who::Cli, "erin", &a.acct("acme"))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("UnknownIssuer") || err.contains("invalid peer certificate"),
        "{err}"
    );
    // The same client with the lab CA added to the system's store reads the actor.
    let client = understory::net::HttpClient::with_roots(
        e.state.config.mode(),
        "test",
        &understory::config::read_ca_bundle(lab.ca_file.path()).unwrap(),
    )
    .unwrap();
    let actor = Url::parse(&a.actor("acme")).unwrap();
    let body = client
        .get_bytes(&actor, "application/activity+json", 1024 * 1024)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&body).contains("\"Organization\""));
}
